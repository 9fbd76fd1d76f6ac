/*
 * Rollout benchmark on the real Kubernetes bed: `npm run bench:rollout`.
 *
 * Brings up the bed (e2e/lib/kubernetes, block offset 6) and syncs dist/ in Argo CD's order. Each
 * run applies a new Postgres pod template (POSTGRES_CPU_REQUEST, synthesized with `npm run synth`
 * over the committed dist/) twice, synced in Argo CD's order under writes through the write
 * Service's cluster IP: once as shipped (StatefulSet OnDelete, the rollout Job replaces the pods:
 * replicas first, one switchover), once as a plain StatefulSet RollingUpdate of the same kind of
 * change (the same dist/ with updateStrategy RollingUpdate and no rollout Job: the StatefulSet
 * controller deletes the pods, highest ordinal first, the primary wherever it is). Before each
 * run the primary is moved to ordinal run % replicas when that member is the synchronous standby
 * (a switchover may only go there); the member it starts on is reported. Per rollout: leader
 * changes (promotions in Patroni's /history), seconds without an acknowledged write
 * (e2e/lib/write-availability.ts), acknowledged writes lost, the apply's duration (its hooks and,
 * for RollingUpdate, the controller's rollout included), and whether every pod ended on the
 * StatefulSet's updateRevision (its live status, the pods' controller-revision-hash).
 *
 * The converge Job is left out of every applied dist/: a pod template change gives it nothing to
 * do, and this measures the pods' replacement only.
 *
 *   BENCH_RUNS=3                   runs (each: one rollout per method)
 *   BENCH_DOCS=docs/BENCHMARKS.md  where to write the section (BENCH_DOCS= to skip)
 *   E2E_DIST, E2E_KUBERNETES_BLOCK as for the bed (e2e/lib/kubernetes/bed-options.ts)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { log } from '../lib/log';
import { waitFor } from '../lib/poll';
import { removeVariant, synthVariant } from '../lib/synth-variant';
import { bedBlock, distUnderTest } from '../lib/kubernetes/bed-options';
import { KubernetesCluster } from '../lib/kubernetes/cluster';
import { KUBERNETES_VERSION } from '../lib/kubernetes/components';
import { Day2, revisions } from '../lib/kubernetes/day2';
import { DeployedPgHa, loadManifests } from '../lib/kubernetes/deployed-pg-ha';
import type { KubeObject } from '../lib/kubernetes/kube-client';
import { upAndSynced } from '../lib/kubernetes/synced-bed';
import { writeBenchSection } from './report';

const ROOT = path.join(__dirname, '..', '..');
type Method = 'rollout Job (OnDelete)' | 'RollingUpdate';
const METHODS: Method[] = ['rollout Job (OnDelete)', 'RollingUpdate'];

interface Rollout {
  run: number;
  method: Method;
  primaryBefore: string;
  leaders: string[];
  leaderChanges: number;
  unavailableS: number;
  lost: number;
  acked: number;
  applyS: number;
  ok: boolean;
}

const isJob = (o: KubeObject, kind: string) => o.kind === 'Job' && new RegExp(`-${kind}-[0-9a-f]{10}$`).test(o.metadata.name);

/** `dir`'s objects without the converge Job (and, as the plain RollingUpdate variant, without the rollout Job), written to a new directory. */
function prepared(dir: string, rollingUpdate: boolean): string {
  const kept = loadManifests(dir).filter((o) => !isJob(o, 'converge') && !(rollingUpdate && isJob(o, 'rollout')));
  for (const o of kept) if (rollingUpdate && o.kind === 'StatefulSet' && o.spec.updateStrategy?.type === 'OnDelete') o.spec.updateStrategy = { type: 'RollingUpdate' };
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-bench-rollout-'));
  fs.writeFileSync(path.join(out, 'pg-ha.k8s.yaml'), kept.map((o) => stringify(o)).join('---\n'));
  return out;
}

/** Patroni's REST API credentials, as the rollout Job gets them (its env, the credentials Secret). */
async function restApiAuth(deployed: DeployedPgHa): Promise<string> {
  const c = deployed.one('Job', (j) => isJob(j, 'rollout'), 'rollout Job').spec.template.spec.containers[0];
  const user = await deployed.envValue(c, 'REST_API_USERNAME');
  const password = await deployed.envValue(c, 'REST_API_PASSWORD');
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Moves the leader to `target` when it is the synchronous standby; returns the leader afterwards. */
async function placePrimary(deployed: DeployedPgHa, target: string, auth: string): Promise<string> {
  const members = await deployed.waitHealthy(300000);
  const leader = members.find((m) => m.role === 'leader')!.name;
  if (leader === target || members.find((m) => m.name === target)?.role !== 'sync_standby') return leader;
  const pod = (await deployed.pods(deployed.postgres)).find((p) => p.name === leader)!;
  const res = await fetch(`http://${pod.ip}:${deployed.patroniPort}/switchover`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: auth }, body: JSON.stringify({ leader, candidate: target }),
  });
  log(`bench: switchover ${leader} -> ${target}: HTTP ${res.status} ${await res.text()}`);
  await waitFor(`${target} leading`, async () => (await deployed.members())?.some((m) => m.name === target && m.role === 'leader' && m.state === 'running'), { timeoutMs: 60000, intervalMs: 250 });
  await deployed.waitHealthy(300000);
  return target;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function report(rows: Rollout[], load: { before: number[]; after: number[] }, seconds: number): string {
  const fmt = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`BENCH_RUNS=${new Set(rows.map((r) => r.run)).size} npm run bench:rollout\` on the real-Kubernetes bed`,
    `(Kubernetes ${KUBERNETES_VERSION}, 3 nodes, containerd, kube-proxy; dist/ synced in Argo CD's order), ${(seconds / 60).toFixed(1)} min in all. The machine (${os.cpus().length} cores) was shared`,
    `with other work (other beds): load average ${fmt(load.before)} (1/5/15 min) at the start, ${fmt(load.after)} at the end.`,
    'Each run: a new Postgres pod template (POSTGRES_CPU_REQUEST) synced under writes through the write Service, once by the',
    'rollout Job (StatefulSet OnDelete, as shipped) and once as a plain StatefulSet RollingUpdate of the same change.',
    'Leader changes are the promotions in Patroni\'s /history; "without writes" is the sum of the gaps between acknowledged writes that held a failed write or lasted over 1 s.',
    '',
    '| run | method | primary before | leader changes (leaders) | s without writes | acked | lost | apply s | every pod on the updateRevision |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.run} | ${r.method} | ${r.primaryBefore} | ${r.leaderChanges} (${r.leaders.join(' → ')}) | ${r.unavailableS.toFixed(2)} | ${r.acked} | ${r.lost} | ${r.applyS.toFixed(1)} | ${r.ok ? 'yes' : 'NO'} |`),
    '',
  ];
  for (const method of METHODS) {
    const m = rows.filter((r) => r.method === method);
    if (!m.length) continue;
    const changes = m.map((r) => r.leaderChanges);
    const gaps = m.map((r) => r.unavailableS);
    lines.push(`- ${method}: leader changes per rollout ${Math.min(...changes)}..${Math.max(...changes)} (exactly 1 in ${changes.filter((c) => c === 1).length} of ${m.length}); ` +
      `seconds without writes median ${median(gaps).toFixed(2)}, max ${Math.max(...gaps).toFixed(2)}; ` +
      `${m.reduce((a, r) => a + r.lost, 0)} acknowledged writes lost; primaries before: ${[...new Set(m.map((r) => r.primaryBefore))].sort().join(', ')}.`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  if (!Number.isInteger(runs) || runs < 1 || runs > 30) throw new Error(`BENCH_RUNS must be 1..30 (got ${process.env.BENCH_RUNS})`);
  const t0 = Date.now();
  const load = { before: os.loadavg(), after: [] as number[] };
  const committed = distUnderTest();
  const start = prepared(committed, false);
  const dirs: string[] = [start];
  const cluster = new KubernetesCluster({ block: bedBlock(6), nodes: 3 });
  const deployed = new DeployedPgHa(cluster, start);
  const rows: Rollout[] = [];
  try {
    const bed = await upAndSynced(cluster, deployed);
    const day2 = new Day2(deployed, start, () => bed.writeConn());
    const replicas = deployed.postgres.spec.replicas as number;
    const setName = deployed.postgres.metadata.name;
    // Read once: the RollingUpdate variant has no rollout Job to read them from.
    const auth = await restApiAuth(deployed);
    for (let run = 1; run <= runs; run++) {
      for (const method of METHODS) {
        const primaryBefore = await placePrimary(deployed, `${setName}-${(run - 1) % replicas}`, auth);
        const variant = synthVariant(committed, { POSTGRES_CPU_REQUEST: `${method === 'RollingUpdate' ? 600 + run : 500 + run}m` });
        const dir = prepared(variant, method === 'RollingUpdate');
        removeVariant(variant);
        dirs.push(dir);
        const r = await day2.sync(dir, `bench run ${run} ${method}`);
        const rev = await revisions(deployed, deployed.postgres);
        const row: Rollout = {
          run, method, primaryBefore, leaders: [r.leaderBefore, ...r.promotions.map((p) => p[4] ?? '?')], leaderChanges: r.promotions.length, unavailableS: r.unavailableS,
          lost: r.lost, acked: r.acknowledged, applyS: r.applyS, ok: r.ok && Object.keys(rev.pods).length === replicas && Object.values(rev.pods).every((h) => h === rev.updateRevision),
        };
        rows.push(row);
        log(`BENCH ${JSON.stringify(row)}`);
      }
    }
  } finally {
    await cluster.down();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
  load.after = os.loadavg();
  const section = report(rows, load, (Date.now() - t0) / 1000);
  process.stdout.write(`\n${section}\n\n`);
  const docs = process.env.BENCH_DOCS ?? path.join(ROOT, 'docs', 'BENCHMARKS.md');
  if (docs) writeBenchSection(path.isAbsolute(docs) ? docs : path.join(ROOT, docs), 'rollout-bench-kubernetes', 'Rollout of a new pod template on real Kubernetes (`npm run bench:rollout`)', section);
}

main().catch((e) => {
  process.stderr.write(`bench:rollout failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
