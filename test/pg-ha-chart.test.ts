/**
 * The chart as a whole: the compose-style settings a user changes most reach every object. Its
 * snapshot is the customised configuration's; the default configuration's is dist/ itself
 * (test/cross-cutting/dist.test.ts).
 */
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
