/*
 * `npm run status` against dist/ on the real Kubernetes bed (e2e/lib/kubernetes/, block bedBlock(2)):
 * the command runs as a user runs it, with the bed's kubectl (KUBECTL) and kubeconfig, and must
 * agree with what Patroni's REST API and the API server say; then a replica's pod is deleted and the
 * command must name that member and exit non-zero while it is down, and exit 0 once it is back; the
same for an etcd member whose pod is gone.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { log } from './lib/log';
import { waitFor } from './lib/poll';
import { KubernetesCluster } from './lib/kubernetes/cluster';
import { DeployedPgHa } from './lib/kubernetes/deployed-pg-ha';
import { KUBERNETES_BINARY } from './lib/kubernetes/components';
import { bedBlock, distUnderTest } from './lib/kubernetes/bed-options';

const cluster = new KubernetesCluster({ block: bedBlock(2), nodes: 3 });
const deployed = new DeployedPgHa(cluster, distUnderTest());
const KUBECTL = KUBERNETES_BINARY.replace(/kubernetes$/, 'kubectl');
const REPO = path.join(__dirname, '..');

interface StatusRun { code: number; stdout: string; stderr: string; ms: number }

/** `npm run status` as a user runs it, with the bed's kubectl and kubeconfig, the names from dist/ (or, `fromSettings`, from pg-ha.env) */
function status(...extra: string[]): Promise<StatusRun> {
  const scope = deployed.postgres.metadata.labels!['app.kubernetes.io/instance'];
  const names = extra[0] === 'fromSettings' ? [] : [`--namespace=${deployed.namespace}`, `--scope=${scope}`];
  const args = ['run', '-s', 'status', '--', `--kubeconfig=${cluster.kubeconfig}`, ...names, ...extra.filter((a) => a !== 'fromSettings')];
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn('npm', args, { cwd: REPO, env: { ...process.env, KUBECTL }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - t0 }));
  });
}

beforeAll(async () => {
  await cluster.up();
  const r = await deployed.sync();
  if (!r.ok) throw new Error(`dist/ did not sync: ${r.failure}`);
  await deployed.waitHealthy();
}, 900000);

afterAll(async () => {
  await cluster.down();
}, 120000);

describe('npm run status on the real Kubernetes bed', () => {
  test('a healthy cluster: exit 0, the leader, the synchronous standby and every member as Patroni says, on their nodes; etcd, the router and the day-2 Jobs', async () => {
    const members = await deployed.waitHealthy();
    const pods = await deployed.pods(deployed.postgres);
    const r = await status('--json');
    log(`npm run status --json: exit ${r.code} in ${r.ms} ms`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.healthy).toBe(true);
    expect(s.problems).toEqual([]);
    expect(s.leader).toBe(members.find((m) => m.role === 'leader')!.name);
    expect(s.syncStandby).toEqual(members.filter((m) => m.role === 'sync_standby').map((m) => m.name));
    expect(s.members.map((m: { name: string; role: string; node: string; pod: string }) => [m.name, m.role, m.node, m.pod]))
      .toEqual(members.map((m) => [m.name, m.role, pods.find((p) => p.name === m.name)!.node, 'ready']).sort());
    const etcdPods = await deployed.pods(deployed.etcd);
    expect(s.etcd.members.map((m: { name: string; healthy: boolean; node: string }) => [m.name, m.healthy, m.node])).toEqual(etcdPods.map((p) => [p.name, true, p.node]));
    expect(s.router).toMatchObject({ deployment: deployed.router.metadata.name, ready: deployed.router.spec.replicas, desired: deployed.router.spec.replicas });
    const day2 = (c: string) => deployed.all('Job').find((j) => j.metadata.labels?.['app.kubernetes.io/component'] === c)!.metadata.name;
    expect(s.jobs.map((j: { kind: string; name: string; result: string }) => [j.kind, j.name, j.result])).toEqual([['converge', day2('converge'), 'succeeded'], ['rollout', day2('rollout'), 'succeeded']]);
    expect(s.day2Lease).toMatchObject({ name: deployed.all('Lease')[0].metadata.name, exists: true });
    const table = await status();
    log(`npm run status:\n${table.stdout}`);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`Leader: ${s.leader}`);
    if (!process.env.E2E_DIST) {
      // the repository's dist/ is pg-ha.env's: without --namespace and --scope the settings name the cluster
      const plain = await status('fromSettings');
      expect(plain.code).toBe(0);
      expect(plain.stdout).toContain(`Cluster ${s.scope} in namespace ${deployed.namespace}: healthy`);
    }
  }, 120000);

  test("a replica's pod deleted: exit 1 naming the member while it is down, the leader unchanged; exit 0 once it streams again", async () => {
    const members = await deployed.waitHealthy();
    const leader = members.find((m) => m.role === 'leader')!.name;
    const replica = members.find((m) => m.role === 'replica' || m.role === 'sync_standby')!.name;
    await cluster.api.run(['-n', deployed.namespace, 'delete', 'pod', replica, '--wait=false']);
    const t0 = Date.now();
    const down = await waitFor('npm run status to report the deleted replica', async () => {
      const r = await status();
      return r.code !== 0 ? r : undefined;
    }, { timeoutMs: 60000, intervalMs: 0 });
    log(`${((Date.now() - t0) / 1000).toFixed(1)} s after deleting ${replica}: exit ${down.code}; ${down.stderr.trim()}\n${down.stdout}`);
    expect(down.code).toBe(1);
    expect(down.stdout).toContain('NOT HEALTHY');
    expect(down.stdout).toContain(`Leader: ${leader}`);
    expect(down.stderr).toMatch(new RegExp(`^status: cluster .* is not healthy: .*\\b${replica}\\b`));
    const problems = down.stdout.split('Problems:\n')[1].split('\n\n')[0];
    expect(problems.split('\n').filter(Boolean).every((l) => l.includes(replica))).toBe(true);

    await deployed.waitHealthy();
    const back = await waitFor('npm run status to exit 0 again', async () => {
      const r = await status();
      return r.code === 0 ? r : undefined;
    }, { timeoutMs: 120000, intervalMs: 1000 });
    log(`${((Date.now() - t0) / 1000).toFixed(1)} s after deleting ${replica}: exit 0 again`);
    expect(back.stdout).toMatch(new RegExp(`^ {2}${replica} +\\S+ +(replica|sync_standby) +streaming `, 'm'));
  }, 300000);

  test("an etcd member without its pod (the StatefulSet scaled down by one; etcd's membership is static, so the member stays): exit 1 naming it, the quorum kept; exit 0 once it is back", async () => {
    const sts = deployed.etcd.metadata.name;
    const replicas: number = deployed.etcd.spec.replicas;
    const gone = `${sts}-${replicas - 1}`;
    await cluster.api.run(['-n', deployed.namespace, 'scale', 'statefulset', sts, `--replicas=${replicas - 1}`]);
    try {
      const t0 = Date.now();
      const down = await waitFor(`npm run status to report etcd member ${gone}`, async () => {
        const r = await status();
        return r.code !== 0 ? r : undefined;
      }, { timeoutMs: 90000, intervalMs: 1000 });
      log(`${((Date.now() - t0) / 1000).toFixed(1)} s after scaling ${sts} to ${replicas - 1}: exit ${down.code}; ${down.stderr.trim()}`);
      expect(down.code).toBe(1);
      expect(down.stderr).toMatch(new RegExp(`is not healthy: etcd member ${gone} is unhealthy: `));
      expect(down.stdout).toContain(`etcd ${sts}: ${replicas - 1}/${replicas} members healthy`);
      expect(down.stdout).not.toContain('etcd has no quorum');
      // its pod is Terminating until the kubelet reports it gone, then absent
      expect(down.stdout).toMatch(new RegExp(`^ {2}${gone} +(\\S+ +)?UNHEALTHY +(no pod|Terminating) `, 'm'));
    } finally {
      await cluster.api.run(['-n', deployed.namespace, 'scale', 'statefulset', sts, `--replicas=${replicas}`]);
    }
    const back = await waitFor('npm run status to exit 0 again', async () => {
      const r = await status();
      return r.code === 0 ? r : undefined;
    }, { timeoutMs: 180000, intervalMs: 2000 });
    expect(back.stdout).toContain(`etcd ${sts}: ${replicas}/${replicas} members healthy`);
  }, 400000);
});
