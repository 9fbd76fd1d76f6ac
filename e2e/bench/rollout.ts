/*
 * Rollout benchmark: `npm run bench:rollout`.
 *
 * One test bed from dist/. Each run applies a new Postgres pod template (POSTGRES_CPU_REQUEST,
 * synthesized with `npm run synth` over the running dist/) twice under writes through the write
 * Service: once as shipped (StatefulSet OnDelete, the rollout Job replaces the pods: replicas
 * first, one switchover), once as a plain StatefulSet RollingUpdate of the same kind of change
 * (the same dist/ with updateStrategy RollingUpdate and no rollout Job). Before each run the
 * primary is moved to ordinal run % replicas when that member is the synchronous standby (a
 * switchover may only go there); the ordinal it starts on is reported. Prints and writes per
 * rollout: leader changes (Patroni's view, polled), seconds without an acknowledged write
 * (e2e/lib/write-availability.ts), acknowledged writes lost, and the apply's duration.
 *
 * The converge Job (Patroni's dynamic configuration) is left out of every applied dist/: a pod
 * template change gives it nothing to do, and this measures the pods' replacement only.
 *
 * Environment:
 *   BENCH_RUNS=5                  runs (each: one rollout per method)
 *   BENCH_DOCS=docs/BENCHMARKS.md write the results section there (BENCH_DOCS= to skip)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { addressBlock } from '../lib/address-plan';
import { applyUnderWrites, UnderWrites } from '../lib/apply-under-writes';
import { log } from '../lib/log';
import { K8sObject, loadDist } from '../lib/manifests';
import { waitFor } from '../lib/poll';
import { removeVariant, synthVariant } from '../lib/synth-variant';
import { Testbed } from '../lib/testbed';

/* eslint-disable @typescript-eslint/no-explicit-any */
const ROOT = path.join(__dirname, '..', '..');
type Method = 'rollout Job (OnDelete)' | 'RollingUpdate';

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

const isConverge = (o: K8sObject) => o.kind === 'Job' && /-converge-[0-9a-f]{10}$/.test(o.metadata.name);

/** `dir`'s objects without the converge Job, as the plain RollingUpdate variant when asked, written to a new directory. */
function prepared(dir: string, rollingUpdate: boolean): string {
  const objects = loadDist(dir).objects.filter((o) => !isConverge(o));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-bench-rollout-'));
  const kept = objects.filter((o) => !(rollingUpdate && o.kind === 'Job' && /-rollout-[0-9a-f]{10}$/.test(o.metadata.name)));
  for (const o of kept) if (rollingUpdate && o.kind === 'StatefulSet' && o.spec.updateStrategy?.type === 'OnDelete') o.spec.updateStrategy = { type: 'RollingUpdate' };
  fs.writeFileSync(path.join(out, 'pg-ha.k8s.yaml'), kept.map((o) => stringify(o)).join('---\n'));
  return out;
}

/** The REST API credentials the members require for a switchover, from the credentials Secret in the store. */
function restApiAuth(bed: Testbed): string {
  const job = bed.manifests.all('Job').find((j) => /-rollout-/.test(j.metadata.name))!;
  const ref = job.spec.template.spec.containers[0].env.find((e: any) => e.name === 'REST_API_PASSWORD').valueFrom.secretKeyRef;
  const user = job.spec.template.spec.containers[0].env.find((e: any) => e.name === 'REST_API_USERNAME').value;
  const secret = bed.store.get('Secret', bed.manifests.ns(job), ref.name)!;
  return `Basic ${Buffer.from(`${user}:${Buffer.from(secret.data[ref.key], 'base64').toString()}`).toString('base64')}`;
}

/** Moves the leader to `target` when it is the synchronous standby; returns the leader afterwards. */
async function placePrimary(bed: Testbed, target: string, auth: string): Promise<string> {
  const members = await bed.patroni.waitHealthy({ timeoutMs: 180000 });
  const leader = members.find((m) => m.role === 'leader')!.name;
  const sync = members.find((m) => m.name === target)?.role === 'sync_standby';
  if (leader === target || !sync) return leader;
  const pod = bed.pgPods.find((p) => p.name === leader)!;
  const res = await fetch(`http://${pod.ip}:8008/switchover`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: auth }, body: JSON.stringify({ leader, candidate: target }),
  });
  log(`bench: switchover ${leader} -> ${target}: HTTP ${res.status} ${await res.text()}`);
  await waitFor(`${target} leading`, async () => (await bed.patroni.leaderPod())?.name === target, { timeoutMs: 60000, intervalMs: 250 });
  await bed.patroni.waitHealthy({ timeoutMs: 180000 });
  return target;
}

async function measure(bed: Testbed, run: number, method: Method, dir: string): Promise<Rollout> {
  const members = await bed.patroni.waitHealthy({ timeoutMs: 180000 });
  const primaryBefore = members.find((m) => m.role === 'leader')!.name;
  const r: UnderWrites = await applyUnderWrites(bed, dir, `bench run ${run} ${method}`);
  await bed.patroni.waitHealthy({ timeoutMs: 180000 });
  const sts = bed.store.list('StatefulSet').find((o) => o.metadata.name === bed.pgPods[0].workload.metadata.name)!;
  const revisions = new Set(bed.controllers.statefulSets.podsOf(sts).map((p) => p.labels['controller-revision-hash']));
  return {
    run, method, primaryBefore, leaders: r.leaders, leaderChanges: r.leaderChanges, unavailableS: r.unavailableS, lost: r.lost, acked: r.acked,
    applyS: r.applyS, ok: r.result.ok && revisions.size === 1,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function report(rows: Rollout[], load: { before: number[]; after: number[] }, seconds: number): string {
  const fmt = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run bench:rollout\` (BENCH_RUNS=${new Set(rows.map((r) => r.run)).size}) on the e2e test bed`,
    `(Debian 13: Patroni 4.0, PostgreSQL 17, etcd 3.5, HAProxy 3.0), ${(seconds / 60).toFixed(1)} min in all. The machine (${os.cpus().length} cores) was shared`,
    `with other agents' work: load average ${fmt(load.before)} (1/5/15 min) at the start, ${fmt(load.after)} at the end.`,
    'Each run: a new Postgres pod template (POSTGRES_CPU_REQUEST) applied under writes through the write Service, once by the',
    'rollout Job (StatefulSet OnDelete, as shipped) and once as a plain StatefulSet RollingUpdate of the same change.',
    '"Without writes" is the sum of the gaps between acknowledged writes that held a failed write or lasted over 1 s.',
    '',
    '| run | method | primary before | leader changes (leaders) | s without writes | acked | lost | apply s | every pod on the new revision |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.run} | ${r.method} | ${r.primaryBefore} | ${r.leaderChanges} (${r.leaders.join(' → ')}) | ${r.unavailableS.toFixed(2)} | ${r.acked} | ${r.lost} | ${r.applyS.toFixed(1)} | ${r.ok ? 'yes' : 'NO'} |`),
    '',
  ];
  for (const method of ['rollout Job (OnDelete)', 'RollingUpdate'] as Method[]) {
    const m = rows.filter((r) => r.method === method);
    if (!m.length) continue;
    const changes = m.map((r) => r.leaderChanges);
    const gaps = m.map((r) => r.unavailableS);
    lines.push(`- ${method}: leader changes per rollout ${Math.min(...changes)}..${Math.max(...changes)} (exactly 1 in ${changes.filter((c) => c === 1).length} of ${m.length}); ` +
      `seconds without writes median ${median(gaps).toFixed(2)}, max ${Math.max(...gaps).toFixed(2)} (under 5 s in ${gaps.filter((g) => g < 5).length} of ${m.length}); ` +
      `${m.reduce((a, r) => a + r.lost, 0)} acknowledged writes lost; primaries before: ${[...new Set(m.map((r) => r.primaryBefore))].sort().join(', ')}.`);
  }
  return lines.join('\n');
}

function writeDocs(file: string, section: string): void {
  const start = '<!-- rollout-bench:start -->';
  const end = '<!-- rollout-bench:end -->';
  const block = `${start}\n${section}\n${end}`;
  let doc = fs.readFileSync(file, 'utf8');
  if (doc.includes(start) && doc.includes(end)) doc = doc.slice(0, doc.indexOf(start)) + block + doc.slice(doc.indexOf(end) + end.length);
  else doc = `${doc.trimEnd()}\n\n## Rollout of a new pod template (\`npm run bench:rollout\`, e2e test bed)\n\n${block}\n`;
  fs.writeFileSync(file, doc);
  log(`results written to ${file}`);
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  if (!Number.isInteger(runs) || runs < 1 || runs > 30) throw new Error(`BENCH_RUNS must be 1..30 (got ${process.env.BENCH_RUNS})`);
  const t0 = Date.now();
  const load = { before: os.loadavg(), after: [] as number[] };
  const committed = path.join(ROOT, 'dist');
  const start = prepared(committed, false);
  const bed = new Testbed({ distDir: start, addressBlock: addressBlock(0) });
  const rows: Rollout[] = [];
  const dirs: string[] = [start];
  try {
    await bed.start();
    await bed.patroni.waitHealthy({ timeoutMs: 180000 });
    const replicas = bed.pgPods.length;
    const setName = bed.pgPods[0].workload.metadata.name;
    // Read once: the RollingUpdate variant has no rollout Job to read them from.
    const auth = restApiAuth(bed);
    for (let run = 1; run <= runs; run++) {
      for (const method of ['rollout Job (OnDelete)', 'RollingUpdate'] as Method[]) {
        await placePrimary(bed, `${setName}-${(run - 1) % replicas}`, auth);
        const variant = synthVariant(committed, { POSTGRES_CPU_REQUEST: `${method === 'RollingUpdate' ? 600 + run : 500 + run}m` });
        const dir = prepared(variant, method === 'RollingUpdate');
        removeVariant(variant);
        dirs.push(dir);
        const row = await measure(bed, run, method, dir);
        rows.push(row);
        log(`BENCH ${JSON.stringify(row)}`);
      }
    }
  } finally {
    await bed.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
  load.after = os.loadavg();
  const section = report(rows, load, (Date.now() - t0) / 1000);
  process.stdout.write(`\n${section}\n\n`);
  const docs = process.env.BENCH_DOCS ?? path.join(ROOT, 'docs', 'BENCHMARKS.md');
  if (docs) writeDocs(path.isAbsolute(docs) ? docs : path.join(ROOT, docs), section);
}

main().catch((e) => {
  process.stderr.write(`bench:rollout failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
