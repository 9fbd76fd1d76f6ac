/*
 * `npx tsx e2e/up.ts --hold` holds a real cluster for a person at a terminal: started exactly so, in a
 * process group of its own as a terminal would, on a small configuration (1 etcd member, 1 Postgres
 * member, 1 router) and its own address block (offset 7), it prints READY with a kubeconfig against
 * which `kubectl get pods -A`, `kubectl logs` and `kubectl exec` work; on SIGINT to the whole group
 * (what ^C does) it tears down: it ends, and nothing of the bed is left on the machine (processes,
 * containers' cgroups, network namespaces, mounts, directories).
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { waitFor } from './lib/poll';
import { bedBlock } from './lib/kubernetes/bed-options';
import { KubernetesCluster } from './lib/kubernetes/cluster';

const repo = path.join(__dirname, '..');
const block = bedBlock(7);
let dist: string;
let child: ChildProcess | undefined;
let output = '';

beforeAll(() => {
  dist = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-e2e-hold-dist-'));
  const r = spawnSync('npm', ['run', '--silent', 'synth'], { cwd: repo, env: { ...process.env, ETCD_REPLICAS: '1', POSTGRES_REPLICAS: '1', ROUTER_REPLICAS: '1', CDK8S_OUTDIR: dist }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`synth failed: ${r.stdout}${r.stderr}`);
});

afterAll(() => {
  if (child?.pid && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
  fs.rmSync(dist, { recursive: true, force: true });
});

function readyLine(): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no READY line within 600 s; output:\n${output.slice(-3000)}`)), 600000);
    const onData = (b: Buffer): void => {
      output += b.toString();
      const m = /^READY (\{.*\})$/m.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]));
      }
    };
    child!.stdout!.on('data', onData);
    child!.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    child!.once('exit', (code) => reject(new Error(`up.ts exited (${code}) before READY:\n${output.slice(-3000)}`)));
  });
}

test('up.ts --hold: kubectl get, logs and exec work with the kubeconfig it prints; on ^C (SIGINT to its group) nothing of the bed is left', async () => {
  child = spawn('npx', ['tsx', 'e2e/up.ts', '--hold'], {
    cwd: repo,
    env: { ...process.env, E2E_DIST: dist, E2E_KUBERNETES_BLOCK: String(block) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const ready = await readyLine();
  // 'close', not 'exit': npx ends at the SIGINT at once, while up.ts (its child, holding the same pipes) tears down;
  // the streams close when the last of them has ended
  const exited = new Promise<string>((r) => child!.once('close', (code, signal) => r(`exit ${code ?? signal}`)));
  const kubectl = (...args: string[]) => spawnSync(ready.kubectl, ['--kubeconfig', ready.kubeconfig, ...args], { encoding: 'utf8', timeout: 60000 });

  const pods = kubectl('get', 'pods', '-A', '--no-headers');
  expect(pods.status).toBe(0);
  expect(pods.stdout).toMatch(new RegExp(`^${ready.namespace}\\s+\\S+-0\\s+2/2\\s+Running`, 'm')); // the Postgres member with its exporter
  expect(pods.stdout).toMatch(/^kube-system\s+coredns-\S+\s+1\/1\s+Running/m);
  const member = /^(\S+) leader running/.exec((ready.members as string[]).join('\n'))![1];
  const patronictl = kubectl('-n', ready.namespace, 'exec', member, '-c', 'postgres', '--', 'patronictl', 'list');
  expect(patronictl.status).toBe(0);
  expect(patronictl.stdout).toMatch(new RegExp(`${member}.*Leader.*running`));
  const logs = kubectl('-n', ready.namespace, 'logs', member, '-c', 'postgres', '--tail=200');
  expect(logs.status).toBe(0);
  expect(logs.stdout).toMatch(/no action\. I am \(\S+\), the leader with the lock/);
  expect(child.exitCode).toBeNull();
  expect(KubernetesCluster.leftovers(block, ready.pid).length).toBeGreaterThan(0);

  process.kill(-child.pid!, 'SIGINT');
  const end = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), 120000); // cleared, or jest would wait for it
    void exited.then((e) => { clearTimeout(timer); resolve(e); });
  });
  expect(end).toMatch(/^exit (0|SIGINT)$/); // npm and tsx end by the SIGINT they re-raise, as after a ^C
  expect(output).toMatch(/SIGINT: tearing down/);
  expect(output).toMatch(/Kubernetes bed \d+ down/);
  // the kernel may take a moment to free a killed container's cgroup
  await waitFor('nothing of the bed left', async () => KubernetesCluster.leftovers(block, ready.pid).length === 0, {
    timeoutMs: 20000, intervalMs: 500, describe: async () => KubernetesCluster.leftovers(block, ready.pid).join('\n'),
  });
}, 900000);
