/** The router: HAProxy routes writes to the Patroni leader and reads to replicas under a lag bound. */
import { synth } from '../support/synth';

describe('router (HAProxy)', () => {
  const s = synth();
  const deployment = s.get('Deployment', 'pg-ha-router');
  const cfg: string = s.get('ConfigMap', 'pg-ha-router').data['haproxy.cfg'];
  const section = (name: string) => cfg.split(/\n(?=\S)/).find((block) => block.startsWith(name)) ?? '';

  test('two replicas: one router would be a single point of failure', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  test('the write frontend sends traffic only to the member answering /primary', () => {
    const primary = section('listen primary');
    expect(primary).toContain('bind :5432');
    expect(primary).toContain('http-check send meth OPTIONS uri /primary');
    expect(primary).toContain('http-check expect status 200');
    expect(primary.match(/^\s+server .* check port 8008$/gm)).toHaveLength(3);
  });

  test('the read frontend balances over replicas under a lag bound and falls back to the leader', () => {
    const replicas = section('listen replicas');
    expect(replicas).toContain('bind :5433');
    expect(replicas).toContain('balance roundrobin');
    expect(replicas).toContain('http-check send meth OPTIONS uri /replica?lag=16777216');
    // Fallback servers are backups that mirror the write backend's checks.
    expect(replicas.match(/^\s+server \S+-leader \S+ backup track primary\/\S+ /gm)).toHaveLength(3);
  });

  test('a failing cluster DNS keeps the last answer; a name that is gone drops its server within seconds', () => {
    // Found on the real-Kubernetes bed: the node holding CoreDNS was lost, DNS timed out for the
    // 20-40 s Kubernetes takes to declare the node lost, and with `hold timeout 5s` HAProxy put the
    // new leader's server in maintenance, so writes stopped although no member had moved.
    const resolvers = section('resolvers cluster-dns');
    const hold = (status: string) => Number(/hold \S+ (\d+)s/.exec(resolvers.split('\n').find((l) => l.trim().startsWith(`hold ${status} `)) ?? '')?.[1]);
    for (const status of ['timeout', 'refused', 'other']) expect(hold(status)).toBeGreaterThanOrEqual(300);
    expect(hold('nx')).toBeLessThanOrEqual(5);
  });

  test('every server of the read backend may share its address with another (each member is listed twice)', () => {
    // Without allow-dup-ip, HAProxy's runtime DNS refuses the second server with a member's IP, so the
    // leader fallback (or the replica) would never get an address.
    const servers = section('listen replicas').split('\n').filter((l) => /^\s+server /.test(l));
    expect(servers).toHaveLength(6);
    for (const server of servers) expect(server).toMatch(/resolve-opts allow-dup-ip$/);
  });

  test('sessions on a server marked down are shut, so clients of a demoted leader reconnect', () => {
    expect(section('defaults')).toMatch(/default-server .*on-marked-down shutdown-sessions/);
  });

  test('a switchover costs the clients as little as possible (docs/BENCHMARKS.md "Rollout")', () => {
    // The old leader stops PostgreSQL about 2 s before its check fails: a connection it refuses is
    // retried on another server that is up (the new leader) instead of failing or waiting on it.
    expect(section('defaults')).toMatch(/^\s+retries 2$/m);
    expect(section('defaults')).toMatch(/^\s+option redispatch 1$/m);
    // A member that is down (the next leader) or changing state is checked twice a second, so the
    // new leader is served at most half a second after Patroni says so; 2 failures still mark a
    // server down, so one slow check does not cut a healthy leader's sessions.
    expect(section('defaults')).toMatch(/default-server inter 1s fastinter 500ms downinter 500ms fall 2 rise 1 /);
  });

  test('servers are pod FQDNs re-resolved through the cluster DNS (rescheduled pods get new IPs)', () => {
    expect(section('resolvers cluster-dns')).toContain('parse-resolv-conf');
    expect(section('defaults')).toMatch(/default-server .*resolvers cluster-dns .*init-addr last,none/);
    expect(cfg).toContain('server pg-ha-0 pg-ha-0.pg-ha-headless.pg-ha.svc.cluster.local:5432');
  });

  test('stats and Prometheus metrics have their own ports', () => {
    expect(section('frontend stats')).toContain('bind :7000');
    expect(section('frontend metrics')).toContain('bind :8404');
    expect(section('frontend metrics')).toContain('http-request use-service prometheus-exporter if { path /metrics }');
  });

  test('a change to haproxy.cfg changes the pod template, which rolls the router pods', () => {
    const hash = deployment.spec.template.metadata.annotations['pg-ha.cdk8s.io/config-hash'];
    const other = synth({ router: { replicaMaxLagBytes: 1024 } }).get('Deployment', 'pg-ha-router');
    expect(other.spec.template.metadata.annotations['pg-ha.cdk8s.io/config-hash']).not.toBe(hash);
  });

  test('write, read and stats Services, each on its own port (clients choose the leader or a replica by port)', () => {
    expect(s.get('Service', 'pg-ha-rw').spec.ports).toEqual([{ name: 'write', port: 5432, targetPort: 'write' }]);
    expect(s.get('Service', 'pg-ha-ro').spec.ports).toEqual([{ name: 'read', port: 5433, targetPort: 'read' }]);
    expect(s.get('Service', 'pg-ha-router').spec.ports.map((p: any) => p.port)).toEqual([7000, 8404]);
  });
});
