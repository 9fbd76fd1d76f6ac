/**
 * Cross-references: every name one object uses to reach another must match an object the chart
 * creates (a typo here gives a cluster that never comes up, or three independent ones).
 */
import { parse } from 'yaml';
import { container, envOf, Manifest, podTemplates, synth } from './support/synth';

const settingsUnderTest = [{}, { scope: 'orders', namespace: 'shop', clusterDomain: 'k8s.internal', etcd: { replicas: 5 }, postgres: { replicas: 2 } }];

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
      && Number(ordinal) < sts.spec.replicas && selects(svc, sts.spec.template);
  };
  const selects = (svc: Manifest, template: Manifest) =>
    Object.entries(svc.spec.selector ?? {}).every(([k, v]) => template.metadata.labels?.[k] === v);

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

  test('every secretKeyRef names the credentials Secret and one of its keys', () => {
    const generatorKeys = envOf(container(s.all('Job').find((j) => j.metadata.name.startsWith(`${s.chart.cluster.name}-secrets-`))!, 'create-secret')).SECRET_KEYS.value.split(',');
    const refs = podTemplates(s.manifests).flatMap(({ template }) => template.spec.containers.flatMap((c: Manifest) => c.env ?? []))
      .filter((e: Manifest) => e.valueFrom?.secretKeyRef).map((e: Manifest) => e.valueFrom.secretKeyRef);
    // superuser + replication + exporter in each Postgres pod; superuser, app and monitor in the init Job.
    expect(refs.length).toBe(6);
    for (const ref of refs) {
      expect(ref.name).toBe(s.chart.secrets.secretName);
      expect(generatorKeys).toContain(ref.key);
    }
  });

  test('every configMap volume and ServiceAccount exists; every mount has its volume', () => {
    for (const { owner, template } of podTemplates(s.manifests)) {
      const volumes = new Map<string, Manifest>((template.spec.volumes ?? []).map((v: Manifest) => [v.name, v]));
      const claims = (owner.spec.volumeClaimTemplates ?? []).map((c: Manifest) => c.metadata.name);
      for (const v of volumes.values()) if (v.configMap) s.get('ConfigMap', v.configMap.name);
      for (const c of template.spec.containers) {
        for (const mount of c.volumeMounts ?? []) {
          expect([owner.metadata.name, mount.name, volumes.has(mount.name) || claims.includes(mount.name)]).toEqual([owner.metadata.name, mount.name, true]);
        }
      }
      if (template.spec.serviceAccountName) s.get('ServiceAccount', template.spec.serviceAccountName);
    }
  });

  test('every probe port and Service targetPort names a container port of the selected pods', () => {
    for (const { template } of podTemplates(s.manifests)) {
      for (const c of template.spec.containers) {
        const ports = (c.ports ?? []).map((p: Manifest) => p.name);
        for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe].filter(Boolean)) {
          expect([c.name, ports.includes(probe.httpGet.port)]).toEqual([c.name, true]);
        }
      }
    }
    for (const svc of s.all('Service')) {
      const targets = podTemplates(s.manifests).filter(({ template }) => selects(svc, template));
      expect([svc.metadata.name, targets.length]).toEqual([svc.metadata.name, 1]);
      const containerPorts = targets[0].template.spec.containers.flatMap((c: Manifest) => c.ports ?? []).map((p: Manifest) => p.name);
      for (const port of svc.spec.ports) expect([svc.metadata.name, containerPorts.includes(port.targetPort)]).toEqual([svc.metadata.name, true]);
    }
  });

  test('the init Job and the stats Ingress point at router Services that exist, on their ports', () => {
    const job = s.all('Job').find((j) => j.metadata.name.startsWith(`${s.chart.cluster.name}-init-`))!;
    const env = envOf(job.spec.template.spec.containers[0]);
    const rw = s.get('Service', env.PGHOST.value);
    expect(rw.spec.ports.map((p: Manifest) => String(p.port))).toContain(env.PGPORT.value);
    for (const ingress of s.all('Ingress')) {
      const backend = ingress.spec.rules[0].http.paths[0].backend.service;
      expect(s.get('Service', backend.name).spec.ports.map((p: Manifest) => p.name)).toContain(backend.port.name);
    }
  });

  test('SPILO_CONFIGURATION is a YAML mapping (Spilo raises on anything else)', () => {
    const pg = envOf(container(s.get('StatefulSet', s.chart.cluster.name), 'postgres'));
    expect(typeof parse(pg.SPILO_CONFIGURATION.value)).toBe('object');
  });
});
