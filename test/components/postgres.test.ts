/**
 * The Postgres StatefulSet (Spilo + Patroni) and its postgres-exporter sidecar. Backups and TLS
 * have their own files; the NetworkPolicy and budget in test/cluster-wide.
 */
import { parse } from 'yaml';
import { container, envOf } from '../support/manifests';
import { synth } from '../support/synth';

describe('postgres (Spilo + Patroni)', () => {
  const s = synth();
  const sts = s.get('StatefulSet', 'pg-ha');
  const spilo = container(sts, 'postgres');
  const env = envOf(spilo);
  // As the kubelet expands it: $(BOOTSTRAP_DYNAMIC_CONFIG) is the ConfigMap's JSON.
  const patroni = parse(env.SPILO_CONFIGURATION.value.replace('$(BOOTSTRAP_DYNAMIC_CONFIG)', s.get('ConfigMap', 'pg-ha-patroni').data['dynamic-config.json']));

  test('three members on a PVC mounted at Spilo\'s data root', () => {
    expect(sts.spec.replicas).toBe(3);
    expect(spilo.image).toBe('ghcr.io/zalando/spilo-17:4.0-p3');
    expect(spilo.volumeMounts).toContainEqual({ name: 'pgdata', mountPath: '/home/postgres/pgdata' });
    expect(sts.spec.volumeClaimTemplates[0]).toMatchObject({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'pgdata' } });
  });

  test('/dev/shm is a memory emptyDir (the container default of 64Mi breaks parallel queries)', () => {
    expect(spilo.volumeMounts).toContainEqual({ name: 'dshm', mountPath: '/dev/shm' });
    expect(sts.spec.template.spec.volumes).toContainEqual({ name: 'dshm', emptyDir: { medium: 'Memory' } });
  });

  test('Spilo uses etcd v3 through ETCD3_HOSTS and never the Kubernetes DCS', () => {
    expect(env.SCOPE.value).toBe('pg-ha');
    expect(env.PGVERSION.value).toBe('17');
    expect(env.ETCD3_HOSTS.value).toBe(s.chart.etcd.clientEndpoints.join(','));
    expect(env.DCS_ENABLE_KUBERNETES_API).toBeUndefined();
    expect(Object.keys(env).filter((k) => k.startsWith('PATRONI_'))).toEqual([]);
  });

  test('POD_IP feeds Patroni\'s connect addresses', () => {
    expect(env.POD_IP.valueFrom.fieldRef.fieldPath).toBe('status.podIP');
  });

  test('the superuser and replication passwords come from their keys of the credentials Secret', () => {
    expect(env.PGUSER_SUPERUSER.value).toBe('postgres');
    expect(env.PGPASSWORD_SUPERUSER.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'superuser-password' });
    expect(env.PGUSER_STANDBY.value).toBe('standby');
    expect(env.PGPASSWORD_STANDBY.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'replication-password' });
  });

  test('synchronous mode is on so no acknowledged commit is lost on failover', () => {
    expect(patroni.bootstrap.dcs.synchronous_mode).toBe(true);
    expect(patroni.bootstrap.dcs.synchronous_mode_strict).toBe(false);
  });

  test('Patroni timings obey Patroni\'s rules (ttl >= 20, loop_wait + 2*retry_timeout <= ttl)', () => {
    const { ttl, loop_wait, retry_timeout } = patroni.bootstrap.dcs;
    expect({ ttl, loop_wait, retry_timeout }).toEqual({ ttl: 20, loop_wait: 5, retry_timeout: 7 });
    expect(loop_wait + 2 * retry_timeout).toBeLessThanOrEqual(ttl);
  });

  test('probes use Patroni\'s REST API on 8008', () => {
    expect(spilo.readinessProbe.httpGet).toEqual({ path: '/readiness', port: 'patroni' });
    expect(spilo.livenessProbe.httpGet).toEqual({ path: '/liveness', port: 'patroni' });
    expect(spilo.ports).toContainEqual({ name: 'patroni', containerPort: 8008 });
  });

  test('the grace period lets Patroni hand over the leader lock and stop PostgreSQL cleanly', () => {
    expect(sts.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(120);
  });

  test('the memory limit is set (Spilo sizes shared_buffers and max_connections from it)', () => {
    expect(spilo.resources.limits.memory).toBe('1Gi');
  });
});

describe('postgres-exporter sidecar', () => {
  const s = synth();
  const exporter = container(s.get('StatefulSet', 'pg-ha'), 'exporter');
  const env = envOf(exporter);

  test('runs next to every member and listens on 9187', () => {
    expect(exporter.image).toBe('prometheuscommunity/postgres-exporter:v0.18.1');
    expect(exporter.ports).toEqual([{ name: 'metrics', containerPort: 9187 }]);
    expect(exporter.args).toContain('--web.listen-address=:9187');
  });

  test('connects over 127.0.0.1 (the only non-TLS address Spilo\'s pg_hba accepts) as the monitoring role', () => {
    expect(env.DATA_SOURCE_URI.value).toBe('127.0.0.1:5432/postgres?sslmode=disable');
    expect(env.DATA_SOURCE_USER.value).toBe('postgres_exporter');
    expect(env.PGPASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'monitor-password' });
    expect(env.DATA_SOURCE_PASS).toBeUndefined();
    expect(env.DATA_SOURCE_NAME).toBeUndefined(); // it would take precedence over the URI/USER/PASS triple
  });
});
