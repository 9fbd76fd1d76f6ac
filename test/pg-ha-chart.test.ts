/**
 * The chart as a whole: a typed field per group of objects, and the compose-style settings a user
 * changes most reaching every object. Its snapshot is the customised configuration's; the default
 * configuration's is dist/ itself (test/cross-cutting/dist.test.ts).
 */
import { NetworkPolicies } from '../lib';
import { container, envOf } from './support/manifests';
import { synth } from './support/synth';

describe('customised configuration (compose variables changed)', () => {
  const s = synth({
    scope: 'orders',
    namespace: 'shop',
    domain: 'corp.example',
    postgresUser: 'orders_app',
    postgresDb: 'orders',
    router: { writePort: 6432, readPort: 6433, replicas: 3 },
    etcd: { replicas: 5, storageClass: 'fast', storageSize: '2Gi' },
    postgres: { replicas: 2, storageSize: '50Gi', storageClass: 'fast' },
    patroni: { ttl: 30, loopWait: 10, retryTimeout: 10 },
    createNamespace: false,
  });

  test('snapshot of every object (any change to the output shows up as a diff to review)', () => {
    expect(s.objects).toMatchSnapshot();
  });

  test('names, ports and counts follow the settings', () => {
    expect(s.get('StatefulSet', 'orders-etcd').spec.replicas).toBe(5);
    expect(s.get('StatefulSet', 'orders').spec.replicas).toBe(2);
    expect(s.get('StatefulSet', 'orders').spec.volumeClaimTemplates[0].spec).toMatchObject({ storageClassName: 'fast', resources: { requests: { storage: '50Gi' } } });
    expect(s.get('Service', 'orders-rw').spec.ports[0].port).toBe(6432);
    expect(s.get('Service', 'orders-ro').spec.ports[0].port).toBe(6433);
    expect(envOf(container(s.get('StatefulSet', 'orders'), 'postgres')).ETCD3_HOSTS.value.split(',')).toHaveLength(5);
    expect(s.all('Namespace')).toEqual([]);
    const init = envOf(container(s.job('orders-init-'), 'init'));
    expect([init.APP_USER.value, init.APP_DB.value, init.PGHOST.value, init.PGPORT.value]).toEqual(['orders_app', 'orders', 'orders-rw', '6432']);
  });
});

describe('chart composition', () => {
  test('every optional group is a typed field, present exactly when its feature is on', () => {
    const { chart: on } = synth({ postgres: { tls: { issuerName: 'ca' } }, monitoring: { enabled: true } });
    expect(on.networkPolicies).toBeInstanceOf(NetworkPolicies);
    expect(on.disruptionBudgets?.etcd.name).toBe('pg-ha-etcd');
    expect(on.postgresCertificate?.certificate.name).toBe('pg-ha-tls');
    expect(on.monitoring?.rule.name).toBe('pg-ha-alerts');
    expect(on.secrets.generatorJob?.kind).toBe('Job');
    const { chart: off } = synth({ networkPolicies: { enabled: false }, disruptionBudgets: false, createNamespace: false, existingSecret: 'mine' });
    expect([off.networkPolicies, off.disruptionBudgets, off.postgresCertificate, off.monitoring, off.namespaceObject])
      .toEqual([undefined, undefined, undefined, undefined, undefined]);
    // With an existing Secret the Job stays: it checks that every key is there.
    expect(off.secrets.generated).toBe(false);
  });
});
