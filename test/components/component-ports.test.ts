/**
 * POSTGRES_PORT and ETCD_CLIENT_PORT (the compose deployment's variables): changing one moves every
 * place that uses it (Spilo's listen port, Services, the router's backends, the exporter, Patroni's
 * etcd endpoints, the NetworkPolicies); the defaults write nothing new.
 */
import { synth } from '../support/synth';

const policyPorts = (s: ReturnType<typeof synth>, name: string, direction: 'ingress' | 'egress') => [...new Set<number>(
  s.get('NetworkPolicy', name).spec[direction].flatMap((rule: any) => (rule.ports ?? []).map((p: any) => p.port)),
)].sort((a, b) => a - b);
const env = (container: any, name: string) => container.env.find((e: any) => e.name === name)?.value;

describe('PostgreSQL\'s port in the pods', () => {
  const s = synth({ postgres: { port: 6543 } });
  const sts = s.get('StatefulSet', 'pg-ha');
  const [spilo, exporter] = sts.spec.template.spec.containers;

  test('Spilo listens on it (PGPORT) and the pod and headless Service publish it', () => {
    expect(env(spilo, 'PGPORT')).toBe('6543');
    expect(spilo.ports).toContainEqual({ name: 'postgresql', containerPort: 6543 });
    expect(s.get('Service', 'pg-ha-headless').spec.ports).toContainEqual(expect.objectContaining({ name: 'postgresql', port: 6543 }));
  });

  test('the exporter and every router backend connect to it', () => {
    expect(env(exporter, 'DATA_SOURCE_URI')).toBe('127.0.0.1:6543/postgres?sslmode=disable');
    const servers = s.get('ConfigMap', 'pg-ha-router').data['haproxy.cfg'].split('\n').filter((l: string) => l.trim().startsWith('server '));
    expect(servers).toHaveLength(9);
    for (const line of servers) expect(line).toMatch(/\.svc\.cluster\.local:6543 /);
  });

  test('the NetworkPolicies open it (and no longer 5432) between router, members and replicas', () => {
    expect(policyPorts(s, 'pg-ha-postgres', 'ingress')).toEqual([6543, 8008, 9187]);
    expect(policyPorts(s, 'pg-ha-router', 'egress')).toEqual([53, 6543, 8008]);
    // The router's own write port stays 5432: clients do not see the change.
    expect(s.get('Service', 'pg-ha-rw').spec.ports[0].port).toBe(5432);
  });

  test('the default writes no PGPORT (Spilo\'s default is 5432): dist/ stays as it was', () => {
    expect(env(synth().get('StatefulSet', 'pg-ha').spec.template.spec.containers[0], 'PGPORT')).toBeUndefined();
  });

  test.each([
    [{ port: 80 }, /^postgres.port must be a port from 1024 to 65535 \(PostgreSQL runs as the postgres user/],
    [{ port: 8008 }, /^postgres.port must be different from Patroni's REST API \(8008\)/],
    [{ port: 9187 }, /^postgres.exporterPort must be different from PostgreSQL \(9187\)/],
  ])('%j is refused', (postgres, message) => {
    expect(() => synth({ postgres })).toThrow(message);
  });
});

describe('etcd\'s client port', () => {
  const s = synth({ etcd: { clientPort: 12379 } });
  const etcd = s.get('StatefulSet', 'pg-ha-etcd').spec.template.spec.containers[0];

  test('etcd listens on and advertises it; its Services publish it', () => {
    expect(env(etcd, 'ETCD_LISTEN_CLIENT_URLS')).toBe('https://0.0.0.0:12379');
    expect(env(etcd, 'ETCD_ADVERTISE_CLIENT_URLS')).toMatch(/:12379$/);
    expect(etcd.ports).toContainEqual({ name: 'client', containerPort: 12379 });
    expect(s.get('Service', 'pg-ha-etcd').spec.ports).toEqual([expect.objectContaining({ name: 'client', port: 12379 })]);
  });

  test('Patroni gets it in ETCD3_HOSTS, and the NetworkPolicies open it', () => {
    const hosts = env(s.get('StatefulSet', 'pg-ha').spec.template.spec.containers[0], 'ETCD3_HOSTS').split(',');
    expect(hosts).toHaveLength(3);
    for (const host of hosts) expect(host).toMatch(/:12379$/);
    expect(policyPorts(s, 'pg-ha-etcd', 'ingress')).toEqual([2380, 8080, 12379]);
    expect(policyPorts(s, 'pg-ha-postgres', 'egress')).toContain(12379);
    expect(policyPorts(s, 'pg-ha-postgres', 'egress')).not.toContain(2379);
  });

  test.each([
    [{ clientPort: 2380 }, /^etcd.clientPort must be different from etcd's peer port/],
    [{ clientPort: 8080 }, /^etcd.clientPort must be different from etcd's metrics port/],
    [{ clientPort: 443 }, /^etcd.clientPort must be a port from 1024 to 65535 \(etcd runs as a non-root user/],
  ])('%j is refused', (etcdSettings, message) => {
    expect(() => synth({ etcd: etcdSettings })).toThrow(message);
  });
});
