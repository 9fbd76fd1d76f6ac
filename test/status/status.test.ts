/**
 * `npm run status` (lib/status/): the verdict and the table from what kubectl returned on the
 * real-Kubernetes bed (test/fixtures/status/<case>/, captured there: `kubectl get ... -o json`,
 * Patroni's GET /cluster through `kubectl exec`, `etcdctl endpoint health --cluster -w json` and
 * `member list -w json` in an etcd pod), and the command itself running a kubectl it is given.
 *
 * The cases, each captured on the bed after doing what its name says:
 *   healthy               dist/ synced, Patroni healthy
 *   replica-deleted       `kubectl delete pod pg-ha-1` (a replica), captured a second later
 *   etcd-member-deleted   `kubectl delete pod pg-ha-etcd-2`, health captured while it was gone
 *   pending-restart       `patronictl edit-config -p max_locks_per_transaction=65` (then reverted)
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { clusterStatus, KubeObject, renderStatus, StatusInputs, workloads } from '../../lib/status/cluster-status';
import { etcdctlArgs, gatherStatus, kubectlRunner, patroniTarget, RunKubectl } from '../../lib/status/gather';
import { runStatus } from '../../lib/status/status-cli';
import { synth } from '../support/synth';

const FIXTURES = join(__dirname, '..', 'fixtures', 'status');
const read = (c: string, f: string) => readFileSync(join(FIXTURES, c, f), 'utf8');
const json = (c: string, f: string) => JSON.parse(read(c, f));
const NOW = new Date('2026-12-07T20:20:00Z');

/** kubectl as the bed answered it, for one captured case */
function capturedKubectl(c: string, calls: string[][] = []): RunKubectl {
  return (args) => {
    calls.push(args);
    const ok = (stdout: string) => ({ code: 0, stdout, stderr: '' });
    if (args[0] === 'get' && args[1] === 'lease') return ok(read(c, 'lease.json'));
    if (args[0] === 'get') return ok(read(c, 'objects.json'));
    if (args.includes('curl')) return ok(read(c, 'patroni-cluster.json'));
    if (args.includes('health')) {
      const out = read(c, 'etcd-health.json');
      return { code: out.includes('"health":false') ? 1 : 0, stdout: out, stderr: '' };
    }
    if (args.includes('member')) return ok(read(c, 'etcd-members.json'));
    return { code: 1, stdout: '', stderr: `unexpected kubectl ${args.join(' ')}` };
  };
}

const inputsOf = (c: string): StatusInputs => gatherStatus(capturedKubectl(c), 'pg-ha', 'pg-ha', () => NOW);

describe('the verdict on a captured cluster', () => {
  test('healthy: the leader, the synchronous standby and every member as Patroni names them, on the nodes the pods run on; etcd, router, day-2 Jobs', () => {
    const patroni = json('healthy', 'patroni-cluster.json').members as Array<{ name: string; role: string }>;
    const pods = (json('healthy', 'objects.json').items as KubeObject[]).filter((o) => o.kind === 'Pod');
    const s = clusterStatus(inputsOf('healthy'));
    expect(s.problems).toEqual([]);
    expect(s.warnings).toEqual([]);
    expect(s.healthy).toBe(true);
    expect(s.leader).toBe(patroni.find((m) => m.role === 'leader')!.name);
    expect(s.syncStandby).toEqual(patroni.filter((m) => m.role === 'sync_standby').map((m) => m.name));
    expect(s.members.map((m) => [m.name, m.role, m.state, m.node])).toEqual(patroni.map((m) => [m.name, m.role, expect.stringMatching(/running|streaming/), pods.find((p) => p.metadata.name === m.name)!.spec.nodeName]));
    expect(s.members.filter((m) => m.role !== 'leader').every((m) => m.lag === '0 B' && m.timeline === 1)).toBe(true);
    expect(s.router).toMatchObject({ deployment: 'pg-ha-router', ready: 2, desired: 2 });
    expect(s.etcd.members.map((m) => [m.name, m.healthy, m.pod])).toEqual([['pg-ha-etcd-0', true, 'ready'], ['pg-ha-etcd-1', true, 'ready'], ['pg-ha-etcd-2', true, 'ready']]);
    expect(s.jobs.map((j) => [j.kind, j.result])).toEqual([['converge', 'succeeded'], ['rollout', 'succeeded']]);
    expect(s.jobs.map((j) => j.name)).toEqual([expect.stringMatching(/^pg-ha-converge-/), expect.stringMatching(/^pg-ha-rollout-/)]);
    // released: no holder; the last holder's renewTime stays in the Lease
    expect(s.day2Lease).toEqual({ name: 'pg-ha-day2', exists: true, holder: undefined, renewTime: json('healthy', 'lease.json').spec.renewTime });
  });

  test('healthy, as a table', () => {
    const out = renderStatus(clusterStatus(inputsOf('healthy')), NOW);
    expect(out).toMatch(/^Cluster pg-ha in namespace pg-ha: healthy\nLeader: pg-ha-0 {4}Synchronous standby: pg-ha-2\n/);
    expect(out).toMatch(/^ {2}pg-ha-1 +node-\d +replica +streaming +1 +0 B +ready$/m);
    expect(out).toContain('Router pg-ha-router: 2/2 pods ready');
    expect(out).toContain('etcd pg-ha-etcd: 3/3 members healthy (asked in pg-ha-etcd-0)');
    expect(out).toMatch(/^ {2}converge +pg-ha-converge-\w+ +succeeded +2026-12-07T20:\d\d:\d\dZ \(\d+m ago\)$/m);
    expect(out).toContain('Lease pg-ha-day2: free (no day-2 Job at work)');
    expect(out).not.toContain('Problems:');
  });

  test('a replica\'s pod deleted: the member is named as not streaming and its pod as not ready; the leader stays', () => {
    const s = clusterStatus(inputsOf('replica-deleted'));
    expect(s.healthy).toBe(false);
    expect(s.leader).toBe('pg-ha-0');
    expect(s.problems).toEqual(['pg-ha-1 is not streaming (state: stopped)', 'pod pg-ha-1 is not ready (exporter: ContainerCreating)']);
    expect(s.members.find((m) => m.name === 'pg-ha-1')).toMatchObject({ state: 'stopped', lag: 'unknown', timeline: undefined });
    expect(renderStatus(s, NOW)).toMatch(/NOT HEALTHY[\s\S]*Problems:\n {2}- pg-ha-1 is not streaming \(state: stopped\)/);
  });

  test('an etcd member gone: named unhealthy with etcdctl\'s error; the other two keep the quorum', () => {
    const s = clusterStatus(inputsOf('etcd-member-deleted'));
    expect(s.healthy).toBe(false);
    expect(s.problems).toEqual(['etcd member pg-ha-etcd-2 is unhealthy: context deadline exceeded']);
    expect(s.etcd.members.filter((m) => m.healthy).map((m) => m.name)).toEqual(['pg-ha-etcd-0', 'pg-ha-etcd-1']);
  });

  test('etcd without a quorum: the same captured member lost twice is named as a lost quorum', () => {
    const i = inputsOf('etcd-member-deleted');
    const gone = i.etcd.health!.find((h) => !h.health)!;
    i.etcd.health = i.etcd.health!.map((h, n) => (n === 0 ? h : { ...gone, endpoint: h.endpoint }));
    expect(clusterStatus(i).problems).toContain('etcd has no quorum: 1 of 3 members healthy');
  });

  test('a pending restart is a warning naming the parameter and both values, not a problem', () => {
    const s = clusterStatus(inputsOf('pending-restart'));
    expect(s.healthy).toBe(true);
    expect(s.members.every((m) => m.pendingRestart)).toBe(true);
    expect(s.warnings).toHaveLength(3);
    expect(s.warnings[0]).toMatch(/^pg-ha-0 has a pending restart \(max_locks_per_transaction 64 -> 65\)/);
    expect(renderStatus(s, NOW)).toMatch(/^ {2}pg-ha-0 +node-\d +leader +running +1 +yes +ready$/m);
  });

  test('no leader: when Patroni lists none (the leader member taken out of a captured answer)', () => {
    const i = inputsOf('healthy');
    i.patroni.cluster!.members = i.patroni.cluster!.members.filter((m) => m.role !== 'leader');
    const s = clusterStatus(i);
    expect(s.leader).toBeUndefined();
    expect(s.problems).toContain('no leader: Patroni lists no member holding the leader lock');
    expect(s.problems).toContain("pg-ha-0: its pod exists (ready) but Patroni does not list it as a member");
  });

  test('Patroni and etcd not answering anywhere: each named with kubectl\'s error', () => {
    const s = clusterStatus(gatherStatus((args) => (args[0] === 'exec' ? { code: 1, stdout: '', stderr: 'error: unable to upgrade connection: container not found ("postgres")' } : capturedKubectl('healthy')(args)), 'pg-ha', 'pg-ha', () => NOW));
    expect(s.healthy).toBe(false);
    expect(s.problems[0]).toBe('Patroni did not answer in any pod: pg-ha-0: error: unable to upgrade connection: container not found ("postgres"); pg-ha-1: error: unable to upgrade connection: container not found ("postgres"); pg-ha-2: error: unable to upgrade connection: container not found ("postgres")');
    // the pods are still listed, ready, and no member is called missing or not streaming
    expect(s.members.map((m) => [m.name, m.state, m.pod])).toEqual(['pg-ha-0', 'pg-ha-1', 'pg-ha-2'].map((n) => [n, 'unknown (Patroni did not answer)', 'ready']));
    expect(s.problems).toHaveLength(2);
    expect(s.problems).toContain('etcd did not answer in any pod: pg-ha-etcd-0: error: unable to upgrade connection: container not found ("postgres"); pg-ha-etcd-1: error: unable to upgrade connection: container not found ("postgres"); pg-ha-etcd-2: error: unable to upgrade connection: container not found ("postgres")');
  });
});

describe('what the status asks, from the manifests', () => {
  test('in a synthesized cluster with other names: the workloads by their labels, Spilo\'s container and Patroni port, etcdctl\'s endpoint and certificate files', () => {
    const objects = synth({ scope: 'orders', namespace: 'db' }).objects as unknown as KubeObject[];
    const w = workloads({ objects, scope: 'orders' });
    expect([w.postgres?.metadata.name, w.etcd?.metadata.name, w.router?.metadata.name]).toEqual(['orders', 'orders-etcd', 'orders-router']);
    expect(workloads({ objects, scope: 'pg-ha' }).postgres).toBeUndefined();
    expect(patroniTarget(w.postgres)).toEqual({ container: 'postgres', port: 8008 });
    const etcd = etcdctlArgs(w.etcd, 'orders-etcd-1')!;
    expect(etcd.container).toBe('etcd');
    expect(etcd.args).toEqual(expect.arrayContaining(['--endpoints=https://orders-etcd-1.orders-etcd-headless.db.svc.cluster.local:2379', '--cacert=/etc/etcd/tls/ca.crt', '--cert=/etc/etcd/tls/tls.crt', '--key=/etc/etcd/tls/tls.key']));
    // the day-2 Jobs carry the component labels the status looks for
    const components = objects.filter((o) => o.kind === 'Job').map((o) => o.metadata.labels?.['app.kubernetes.io/component']);
    expect(components).toEqual(expect.arrayContaining(['converge', 'rollout']));
  });

  test('gatherStatus asks by the instance label and the Lease <scope>-day2, Patroni in a ready Spilo pod and etcd in a ready etcd pod', () => {
    const calls: string[][] = [];
    gatherStatus(capturedKubectl('healthy', calls), 'pg-ha', 'pg-ha', () => NOW);
    expect(calls.map((c) => c.slice(0, 3).join(' '))).toEqual([
      'get pods,statefulsets,deployments,jobs -l', 'get lease pg-ha-day2', 'exec pg-ha-0 -c', 'exec pg-ha-etcd-0 -c', 'exec pg-ha-etcd-0 -c',
    ]);
    expect(calls[0][3]).toBe('app.kubernetes.io/instance=pg-ha');
    expect(calls[2].slice(3)).toEqual(['postgres', '--', 'curl', '-s', '-m', '5', 'http://localhost:8008/cluster']);
  });

  test('a replica\'s pod not ready: Patroni is asked in a ready pod first', () => {
    const calls: string[][] = [];
    gatherStatus(capturedKubectl('replica-deleted', calls), 'pg-ha', 'pg-ha', () => NOW);
    expect(calls[2][1]).toBe('pg-ha-0');
  });
});

describe('the command (npm run status)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-ha-status-'));
  /** a kubectl program that logs its arguments and answers from a captured case */
  let n = 0;
  function fakeKubectl(c: string): { path: string; log: string } {
    n++;
    const log = join(dir, `${c}-${n}.log`);
    const path = join(dir, `kubectl-${c}-${n}`);
    writeFileSync(path, `#!/bin/sh
echo "$*" >> '${log}'
F='${join(FIXTURES, c)}'
case "$*" in
  *" get lease "*) cat "$F/lease.json" ;;
  *" get "*) cat "$F/objects.json" ;;
  *curl*) cat "$F/patroni-cluster.json" ;;
  *" health "*) cat "$F/etcd-health.json"; grep -q '"health":false' "$F/etcd-health.json" && exit 1; exit 0 ;;
  *" member "*) cat "$F/etcd-members.json" ;;
  *) echo "unexpected $*" >&2; exit 1 ;;
esac
`);
    chmodSync(path, 0o755);
    return { path, log };
  }
  const run = (args: string[], env: Record<string, string | undefined>, settings = '') => {
    const envFile = join(dir, 'pg-ha.env');
    writeFileSync(envFile, settings);
    const out: string[] = [];
    const err: string[] = [];
    const code = runStatus({ args, env, defaultEnvFile: envFile, stdout: (t) => out.push(t), stderr: (l) => err.push(l) });
    return { code, stdout: out.join(''), stderr: err.join('\n') };
  };

  test('healthy: exit 0; KUBECTL runs with --kubeconfig, --context and the namespace of the settings; the scope of the settings picks the objects', () => {
    const k = fakeKubectl('healthy');
    const r = run(['--kubeconfig', '/tmp/kc', '--context=bed'], { KUBECTL: k.path }, 'NAMESPACE=pg-ha\nSCOPE=pg-ha\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Cluster pg-ha in namespace pg-ha: healthy');
    const first = readFileSync(k.log, 'utf8').split('\n')[0];
    expect(first).toBe('--kubeconfig=/tmp/kc --context=bed --namespace=pg-ha get pods,statefulsets,deployments,jobs -l app.kubernetes.io/instance=pg-ha -o json');
  });

  test('a fork\'s names from its settings, overridden by the flags', () => {
    const k = fakeKubectl('healthy');
    const r = run([], { KUBECTL: k.path }, 'NAMESPACE=db\nSCOPE=orders\n');
    // the captured cluster is pg-ha's: nothing of scope orders is there
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('status: cluster orders in namespace db is not healthy: no PostgreSQL StatefulSet labelled app.kubernetes.io/instance=orders, app.kubernetes.io/component=database in namespace db');
    expect(readFileSync(k.log, 'utf8').split('\n').slice(0, 2)).toEqual([
      '--namespace=db get pods,statefulsets,deployments,jobs -l app.kubernetes.io/instance=orders -o json', '--namespace=db get lease orders-day2 -o json --ignore-not-found']);
    const k2 = fakeKubectl('replica-deleted');
    expect(run(['-n', 'pg-ha', '--scope', 'pg-ha'], { KUBECTL: k2.path }, 'NAMESPACE=db\nSCOPE=orders\n').stdout).toContain('Cluster pg-ha in namespace pg-ha: NOT HEALTHY');
  });

  test('not healthy: exit 1, the problems on stderr; --json is the same verdict as JSON', () => {
    const k = fakeKubectl('replica-deleted');
    const r = run(['--json'], { KUBECTL: k.path });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('status: cluster pg-ha in namespace pg-ha is not healthy: pg-ha-1 is not streaming (state: stopped); pod pg-ha-1 is not ready (exporter: ContainerCreating)');
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ healthy: false, leader: 'pg-ha-0', syncStandby: ['pg-ha-2'] });
    expect(j.members.map((m: { name: string }) => m.name)).toEqual(['pg-ha-0', 'pg-ha-1', 'pg-ha-2']);
  });

  test('kubectl missing or failing: exit 2 naming it; bad arguments: exit 2 with the usage', () => {
    const missing = run([], { KUBECTL: join(dir, 'no-such-kubectl') });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no-such-kubectl: not found (install kubectl or set KUBECTL)');
    const bad = run(['--nope'], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^unknown argument --nope\nusage: npm run status/);
  });

  test('kubectlRunner passes the flags before the command', () => {
    const k = fakeKubectl('healthy');
    kubectlRunner({ kubectl: k.path, namespace: 'x' })(['get', 'lease', 'y']);
    expect(readFileSync(k.log, 'utf8')).toBe('--namespace=x get lease y\n');
  });
});
