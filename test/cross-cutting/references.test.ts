/**
 * Cross-references: every name one object uses to reach another must match an object the chart
 * creates (a typo here gives a cluster that never comes up, or three independent ones). Ports,
 * probes, Service selectors and Ingress backends are checked in workloads.test.ts.
 */
import { parse } from 'yaml';
import { CREDENTIAL_KEYS, PgHaSettings } from '../../lib';
import { container, containersOf, envOf, Manifest } from '../support/manifests';
import { serviceSelects } from '../support/label-selector';
import { synth } from '../support/synth';

const settingsUnderTest: PgHaSettings[] = [{}, { scope: 'orders', namespace: 'shop', clusterDomain: 'k8s.internal', etcd: { replicas: 5 }, postgres: { replicas: 2 } }];

describe.each(settingsUnderTest)('with settings %j', (settings) => {
  const s = synth(settings);
  const namespace = s.chart.cluster.namespace;
  const domain = s.chart.cluster.clusterDomain;

  /** host -> true when it is `<pod>.<headless svc>.<ns>.svc.<domain>` of a StatefulSet pod that exists. */
  const resolvesToPod = (host: string): boolean => {
    const m = new RegExp(`^([a-z0-9-]+)-(\\d+)\\.([a-z0-9-]+)\\.${namespace}\\.svc\\.${domain.replace(/\./g, '\\.')}$`).exec(host);
    if (!m) return false;
    const [, stsName, ordinal, svcName] = m;
    const sts = s.all('StatefulSet').find((x) => x.metadata.name === stsName);
    const svc = s.all('Service').find((x) => x.metadata.name === svcName);
    return !!sts && !!svc && sts.spec.serviceName === svcName && svc.spec.clusterIP === 'None'
      && Number(ordinal) < sts.spec.replicas && serviceSelects(svc.spec.selector, sts.spec.template.metadata.labels);
  };

  test('every server in haproxy.cfg is a Postgres pod', () => {
    const cfg: string = s.all('ConfigMap').find((c) => c.data?.['haproxy.cfg'])!.data['haproxy.cfg'];
    const hosts = [...cfg.matchAll(/^\s+server \S+ ([^:\s]+):(\d+)/gm)].map((m) => m[1]);
    // Each member three times: write backend, read backend, leader fallback of the read backend.
    expect(hosts.length).toBe(3 * s.chart.postgres.podNames.length);
    for (const host of hosts) expect([host, resolvesToPod(host)]).toEqual([host, true]);
  });

  test('every ETCD3_HOSTS entry and etcd peer URL is an etcd pod', () => {
    const pg = envOf(container(s.get('StatefulSet', s.chart.cluster.name), 'postgres'));
    for (const hostPort of pg.ETCD3_HOSTS.value.split(',')) {
      const [host, port] = hostPort.split(':');
      expect([host, resolvesToPod(host), port]).toEqual([host, true, '2379']);
    }
    const etcd = envOf(container(s.get('StatefulSet', `${s.chart.cluster.name}-etcd`), 'etcd'));
    for (const member of etcd.ETCD_INITIAL_CLUSTER.value.split(',')) {
      const [name, url] = member.split('=');
      const host = new URL(url).hostname;
      expect([host, resolvesToPod(host), host.startsWith(`${name}.`)]).toEqual([host, true, true]);
    }
  });

  test('every configMap volume and ServiceAccount exists; every mount has its volume', () => {
    for (const w of s.workloads()) {
      const volumes = new Map<string, Manifest>((w.podSpec.volumes ?? []).map((v: Manifest) => [v.name, v]));
      const claims = (w.object.spec.volumeClaimTemplates ?? []).map((c: Manifest) => c.metadata.name);
      for (const v of volumes.values()) if (v.configMap) s.get('ConfigMap', v.configMap.name);
      for (const c of w.podSpec.containers) {
        for (const mount of c.volumeMounts ?? []) {
          expect([w.name, mount.name, volumes.has(mount.name) || claims.includes(mount.name)]).toEqual([w.name, mount.name, true]);
        }
      }
      if (w.podSpec.serviceAccountName) s.get('ServiceAccount', w.podSpec.serviceAccountName);
    }
  });

  test('the init Job reaches the leader through a router Service that exists, on its port', () => {
    const env = envOf(container(s.job(`${s.chart.cluster.name}-init-`), 'init'));
    const rw = s.get('Service', env.PGHOST.value);
    expect(rw.spec.ports.map((p: Manifest) => String(p.port))).toContain(env.PGPORT.value);
  });

  test('SPILO_CONFIGURATION is a YAML mapping (Spilo raises on anything else)', () => {
    const pg = envOf(container(s.get('StatefulSet', s.chart.cluster.name), 'postgres'));
    expect(typeof parse(pg.SPILO_CONFIGURATION.value)).toBe('object');
  });
});

describe.each<[string, PgHaSettings, string]>([
  ['generated credentials', {}, 'pg-ha-credentials'],
  ['an existing Secret', { existingSecret: 'team-pg-passwords' }, 'team-pg-passwords'],
])('credentials: %s', (_, settings, secretName) => {
  test('every secretKeyRef names the credentials Secret and one of the keys it holds', () => {
    const s = synth(settings);
    // The keys the generator Job creates; an existing Secret must hold the documented CREDENTIAL_KEYS.
    const generator = s.all('Job').find((j) => j.metadata.name.startsWith('pg-ha-secrets-'));
    const keys: string[] = generator ? envOf(container(generator, 'create-secret')).SECRET_KEYS.value.split(',') : Object.values(CREDENTIAL_KEYS);
    const refs = s.workloads().flatMap((w) => containersOf(w.podSpec).flatMap((c: Manifest) => c.env ?? []))
      .filter((e: Manifest) => e.valueFrom?.secretKeyRef).map((e: Manifest) => e.valueFrom.secretKeyRef);
    // superuser + replication + REST API + exporter in each Postgres pod; superuser, app and monitor in the
    // init Job's SQL and app in its connection Secret's container; REST API and superuser in the converge
    // Job; REST API in the rollout Job; etcd's Patroni user in each Postgres pod, root and Patroni users in
    // the etcd access Job.
    expect(refs.length).toBe(14);
    for (const ref of refs) {
      expect(ref.name).toBe(secretName);
      expect(keys).toContain(ref.key);
    }
  });
});
