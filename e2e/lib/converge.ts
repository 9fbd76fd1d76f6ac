/*
 * Day-2 configuration changes on the running bed: synthesize a second dist/ from pg-ha.env plus
 * changed variables (the real synth command), apply what differs (for a change of Patroni's dynamic
 * configuration that is the Patroni ConfigMap and a new converge Job, nothing else: checked), run
 * the new converge Job with writes flowing, and record what happened: restarts per member (from
 * pg_postmaster_start_time), leader changes (Patroni's /cluster, polled), writes acknowledged/lost.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { AppCreds, directConn, lostOn, maxWriteId, serviceConn, WRITE_TABLE } from './app-client';
import { log } from './log';
import { K8sObject } from './manifests';
import { tryQuery, WriteLoad } from './pg';
import { sleep, waitFor } from './poll';
import type { RouterPlan } from './router';
import type { Testbed } from './testbed';

const REPO = path.resolve(__dirname, '..', '..');

/** The objects of a fresh synth of pg-ha.env with `variables` set (as `npm run synth` writes them, with that environment). */
export function synthWith(variables: Record<string, string>): K8sObject[] {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-ha-day2-'));
  const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', 'main.ts'], {
    cwd: REPO, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME, ...variables, CDK8S_OUTDIR: outdir },
  });
  if (r.status !== 0) throw new Error(`synth with ${JSON.stringify(variables)} failed: ${r.stderr}`);
  const objects = fs.readdirSync(outdir).filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(outdir, f), 'utf8')).map((d) => d.toJS() as K8sObject)).filter(Boolean);
  fs.rmSync(outdir, { recursive: true, force: true });
  return objects;
}

const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;

/**
 * Puts the objects of `next` that differ into the bed's manifests (what `kubectl apply` would
 * change) and returns their keys; throws if anything but the allowed kinds changed.
 */
export function applyChanged(bed: Testbed, next: K8sObject[], allowed: string[]): string[] {
  const current = new Map(bed.manifests.objects.map((o) => [key(o), o]));
  const changed: string[] = [];
  for (const o of next) {
    const before = current.get(key(o));
    if (before && JSON.stringify(before) === JSON.stringify(o)) continue;
    changed.push(key(o));
    if (before) bed.manifests.objects[bed.manifests.objects.indexOf(before)] = o;
    else bed.manifests.objects.push(o);
  }
  const unexpected = changed.filter((k) => !allowed.some((a) => k.startsWith(a)));
  if (unexpected.length) throw new Error(`the second dist/ changes more than ${allowed.join(', ')}: ${unexpected.join(', ')}`);
  return changed;
}

export interface ConvergeRun {
  code: number | null;
  output: string;
  seconds: number;
  /** members whose postmaster restarted, in the order they did */
  restarted: string[];
  leaderBefore: string;
  leaderAfter: string;
  leaderChanges: number;
  acked: number;
  lost: number;
  /** the longest time between two acknowledged writes while the Job ran, seconds */
  longestWriteGapS: number;
}

async function startTimes(bed: Testbed): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const p of bed.pgPods) {
    const r = await tryQuery<{ t: string }>(directConn(bed, p, 'postgres'), 'SELECT extract(epoch FROM pg_postmaster_start_time())::text AS t', [], 3000);
    if (r?.[0]) m.set(p.name, Number(r[0].t));
  }
  return m;
}

/** Runs the converge Job of the current manifests with writes flowing through the write Service. */
export async function runConverge(bed: Testbed, router: RouterPlan, app: AppCreds): Promise<ConvergeRun> {
  await bed.patroni.waitHealthy({ timeoutMs: 120000 });
  const job = bed.manifests.all('Job').find((j) => /-converge-/.test(j.metadata.name));
  if (!job) throw new Error('no converge Job in the manifests');
  const before = await startTimes(bed);
  const leaderBefore = (await bed.patroni.leaderPod())!.name;
  const writeConn = serviceConn(router.writeService, app);
  const load = new WriteLoad(writeConn, WRITE_TABLE, { firstId: (await maxWriteId(writeConn)) + 1, pauseMs: 10, maxMs: 10 * 60 * 1000 });
  let leader = leaderBefore;
  let leaderChanges = 0;
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const members = await bed.patroni.cluster();
      const now = members?.find((m) => m.role === 'leader' && m.state === 'running')?.name;
      if (now && now !== leader) {
        log(`converge: leader ${leader} -> ${now}`);
        leader = now;
        leaderChanges++;
      }
      await sleep(200);
    }
  })();
  load.start();
  try {
    await waitFor('writes flowing', async () => load.acks.length >= 20, { timeoutMs: 30000, intervalMs: 50 });
    const run = await bed.jobs.run(job.metadata.name, 900000);
    log(`converge Job ${job.metadata.name}: exit ${run.code} in ${(run.ms / 1000).toFixed(1)} s\n${run.output}`);
    const members = await bed.patroni.waitHealthy({ timeoutMs: 120000 });
    const n = load.acks.length;
    await waitFor('writes after the Job', async () => load.acks.length >= n + 20, { timeoutMs: 30000, intervalMs: 50 });
    await load.stop();
    watching = false;
    await watch;
    const after = await startTimes(bed);
    const restarted = [...after.entries()].filter(([name, t]) => t !== before.get(name)).sort((a, b) => a[1] - b[1]).map(([name]) => name);
    const leaderPod = bed.pgPods.find((p) => p.name === members.find((m) => m.role === 'leader')!.name)!;
    const lost = await lostOn(bed, leaderPod, app.database, load.acks);
    const ackTimes = load.acks.map((a) => a.ackAt).sort((a, b) => a - b);
    const longestWriteGapS = ackTimes.slice(1).reduce((m, t, i) => Math.max(m, t - ackTimes[i]), 0) / 1000;
    const r: ConvergeRun = {
      code: run.code, output: run.output, seconds: run.ms / 1000, restarted, leaderBefore, leaderAfter: leaderPod.name, leaderChanges, acked: load.acks.length, lost, longestWriteGapS,
    };
    log(`converge result: ${JSON.stringify({ ...r, output: undefined })}`);
    return r;
  } finally {
    watching = false;
    await load.stop();
    await watch;
  }
}

/** `SHOW name` on every member. */
export async function showEverywhere(bed: Testbed, name: string): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const p of bed.pgPods) {
    const r = await tryQuery<{ v: string }>(directConn(bed, p, 'postgres'), `SELECT current_setting('${name}') AS v`, [], 3000);
    out[p.name] = r?.[0]?.v;
  }
  return out;
}
