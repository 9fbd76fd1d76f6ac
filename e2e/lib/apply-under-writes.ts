/*
 * A second dist/ applied to a running bed while a client writes through the write Service, as
 * Argo CD syncing a new revision would: what the apply did, the leader changes (Patroni's view,
 * polled every 250 ms), the writes acknowledged and lost, and the seconds without an acknowledged
 * write. The upgrade scenario and `npm run bench:rollout` use it.
 */
import { appCreds, ensureWriteTable, lostOn, maxWriteId, serviceConn, WRITE_TABLE } from './app-client';
import type { ApplyOptions } from './kube/dist-apply';
import { log } from './log';
import { WriteLoad } from './pg';
import { sleep, waitFor } from './poll';
import { routerPlan } from './router';
import type { Testbed } from './testbed';
import { writeUnavailability } from './write-availability';

export interface UnderWrites {
  result: Awaited<ReturnType<Testbed['apply']>>;
  lost: number;
  acked: number;
  leaderChanges: number;
  /** seconds without an acknowledged write (write-availability.ts) */
  unavailableS: number;
  /** the leaders in the order they led */
  leaders: string[];
  /** seconds the apply took (its Jobs included) */
  applyS: number;
}

/** Apply `dir` (as Argo CD, or `kubectl apply` with `opts.order`) while a client writes through the write Service; count leader changes and lost writes. */
export async function applyUnderWrites(b: Testbed, dir: string, what: string, opts: ApplyOptions = {}): Promise<UnderWrites> {
  const app = appCreds(b);
  const writeConn = serviceConn(routerPlan(b).writeService, app);
  await ensureWriteTable(writeConn);
  const load = new WriteLoad(writeConn, WRITE_TABLE, { firstId: (await maxWriteId(writeConn)) + 1, pauseMs: 10, maxMs: 5 * 60 * 1000 });
  const leaders: string[] = [];
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const l = (await b.patroni.leaderPod().catch(() => undefined))?.name;
      if (l && l !== leaders[leaders.length - 1]) leaders.push(l);
      await sleep(250);
    }
  })();
  load.start();
  try {
    await waitFor('writes before the apply', async () => load.acks.length >= 20, { timeoutMs: 30000, intervalMs: 50 });
    const t0 = Date.now();
    const result = await b.apply(dir, opts);
    const applyS = (Date.now() - t0) / 1000;
    const n = load.acks.length;
    await waitFor('writes after the apply', async () => load.acks.length >= n + 20, { timeoutMs: 60000, intervalMs: 50 });
    await load.stop();
    watching = false;
    await watch;
    const leader = await waitFor('leader', () => b.patroni.leaderPod(), { timeoutMs: 30000 });
    const lost = await lostOn(b, leader, app.database, load.acks);
    const { unavailableS, windows } = writeUnavailability(load.acks, load.errors);
    const rel = (t: number) => ((t - t0) / 1000).toFixed(1);
    if (windows.length) log(`${what}: no acknowledged write ${windows.map((w) => `${rel(w.fromMs)}..${rel(w.toMs)} s (${w.failedAttempts} failed)`).join(', ')} after the apply began`);
    log(`UPGRADE ${what}: apply ${applyS.toFixed(1)} s, configured: ${result.configured.join(', ') || 'nothing (the dist/ are equal)'}; ` +
      `writes acknowledged ${load.acks.length}, errors ${load.errors.length}, lost ${lost}, ${unavailableS.toFixed(2)} s without an acknowledged write; ` +
      `leader changes ${leaders.length - 1} (${leaders.join(' -> ')})`);
    return { result, lost, acked: load.acks.length, leaderChanges: leaders.length - 1, unavailableS, leaders, applyS };
  } finally {
    watching = false;
    await load.stop();
  }
}

