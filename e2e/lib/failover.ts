/*
 * One failover under continuous writes through the write Service: the
 * scenario "failover under writes" and the failover benchmark both use it.
 */
import { AppCreds, lostOn, maxWriteId, serviceConn, WRITE_TABLE, whoAnswers } from './app-client';
import { log } from './log';
import { WriteLoad } from './pg';
import { sleep, waitFor } from './poll';
import type { RouterPlan } from './router';
import type { Testbed } from './testbed';

export type FailoverKind = 'graceful' | 'hard' | 'crash' | 'restart';

/** Spilo runs Patroni under runit: runsv restarts a service that exits, at least 1 s after its last start. */
const RUNIT_RESTART_MS = 1000;

export interface FailoverResult {
  kind: FailoverKind;
  oldLeader: string;
  newLeader: string;
  /** kill -> first write acknowledged through the router by another member */
  outageS: number;
  /** kill -> old leader streams from the new leader and answers /replica (NaN when it stayed leader) */
  rejoinS: number;
  acked: number;
  lost: number;
  errors: number;
  writePortServesNewLeader: boolean;
}

/**
 * One failover under continuous writes through the write Service.
 * graceful: SIGTERM to the leader's Patroni, as when its pod is deleted (rolling
 *   update, drain: Spilo's launch.sh turns the pod's SIGTERM into `sv stop
 *   patroni`); Patroni stops PostgreSQL and releases the leader key; the pod is
 *   recreated once the router serves writes from a new leader.
 * hard: SIGKILL of Patroni and every postgres process of the leader at the
 *   same instant, as when its node dies; the pod comes back once the router
 *   serves writes from a new leader.
 * restart: SIGTERM to Patroni only, and runit restarts it 1 s later (the pod
 *   stays): the restarted member may win the leader race again.
 * crash: the SIGKILL of `hard`, and runit restarts Patroni 1 s later: Patroni
 *   finds its own leader key, recovers and usually keeps the role.
 */
export async function failover(bed: Testbed, router: RouterPlan, app: AppCreds, kind: FailoverKind): Promise<FailoverResult> {
  const timing = bed.patroni.timing();
  await bed.patroni.waitHealthy({ timeoutMs: 120000 });
  const leader = await waitFor('leader', () => bed.patroni.leaderPod(), { timeoutMs: 30000 });
  const oldIp = bed.patroni.pgAddress(leader).host;
  const writeConn = serviceConn(router.writeService, app);
  const firstId = (await maxWriteId(writeConn)) + 1;
  const load = new WriteLoad(writeConn, WRITE_TABLE, { firstId, pauseMs: 10, maxMs: 5 * 60 * 1000 });
  load.start();
  try {
    await waitFor('writes acknowledged by the leader', async () => load.acks.filter((a) => a.server === oldIp).length >= 20, { timeoutMs: 30000, intervalMs: 50 });
    const c = leader.containerOf('spilo');
    log(`FAILOVER ${kind}: leader ${leader.name} (${oldIp}), ${load.acks.length} writes acknowledged so far`);
    const t0 = Date.now();
    const anyLeader = kind === 'crash' || kind === 'restart';
    let stopped: Promise<void> = Promise.resolve();
    if (kind === 'graceful' || kind === 'restart') {
      stopped = c.stop('SIGTERM', leader.graceMs, true);
    } else {
      const n = await c.kill(true);
      log(`${kind} kill: SIGKILL to ${n} processes of ${c.scope} in ${Date.now() - t0} ms`);
    }
    // restart/crash: only writes sent after the old processes are gone count (the old postmaster may
    // still acknowledge writes while Patroni begins its shutdown)
    let tDown = t0;
    if (anyLeader) {
      await stopped;
      tDown = Date.now();
      void sleep(RUNIT_RESTART_MS).then(() => c.resume());
    }
    const limit = (timing.ttl + timing.loop_wait + 60) * 1000;
    const first = await Promise.race([
      load.firstAckAfter(tDown, (a) => (anyLeader ? a.sentAt > tDown : a.server !== oldIp)),
      sleep(limit).then(() => undefined),
    ]);
    if (!first) throw new Error(`no write acknowledged by a new leader within ${limit / 1000} s after the ${kind} kill`);
    const outageS = (first.ackAt - t0) / 1000;
    const newLeader = bed.podByIp(first.server)!;
    log(`FAILOVER ${kind}: first write acknowledged by ${newLeader.name} ${outageS.toFixed(2)} s after the kill`);
    if (!anyLeader) {
      await stopped;
      c.resume();
    }
    let rejoinS = NaN;
    if (newLeader !== leader) {
      await waitFor(`${leader.name} streaming as a replica of ${newLeader.name}`, () => bed.patroni.streamingFrom(leader, newLeader), {
        timeoutMs: 180000,
        intervalMs: 100,
      });
      rejoinS = (Date.now() - t0) / 1000;
      log(`FAILOVER ${kind}: ${leader.name} serves as a replica again ${rejoinS.toFixed(2)} s after the kill`);
    } else log(`FAILOVER ${kind}: ${leader.name} kept the leader role (restarted before its leader key expired)`);
    const nAcks = load.acks.length;
    await waitFor('more writes after the rejoin', async () => load.acks.length >= nAcks + 10, { timeoutMs: 30000, intervalMs: 50 });
    await load.stop();
    const lost = await lostOn(bed, newLeader, app.database, load.acks);
    const via = await whoAnswers(writeConn);
    const writePortServesNewLeader = via.ip === bed.patroni.pgAddress(newLeader).host && via.r === false;
    const res: FailoverResult = {
      kind,
      oldLeader: leader.name,
      newLeader: newLeader.name,
      outageS,
      rejoinS,
      acked: load.acks.length,
      lost,
      errors: load.errors.length,
      writePortServesNewLeader,
    };
    log(`FAILOVER ${kind} result: ${JSON.stringify(res)}`);
    return res;
  } finally {
    await load.stop();
    const c = leader.containerOf('spilo');
    if (!c.wanted) c.resume();
  }
}
