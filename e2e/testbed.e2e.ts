/*
 * Issue 3 scenarios on the real programs, from the committed dist/.
 * One test bed for the whole file (bring-up is the first scenario); the
 * scenarios run in order and leave the cluster healthy for the next one,
 * except the last (etcd quorum loss), which restores it at the end.
 */
import * as path from 'path';
import { log } from './lib/log';
import { query, WriteLoad } from './lib/pg';
import { httpRequest, sleep, waitFor } from './lib/poll';
import { routerPlan, RouterPlan } from './lib/router';
import {
  AppCreds,
  appCreds,
  dcsTiming,
  directConn,
  ensureWriteTable,
  failover,
  isInRecovery,
  maxWriteId,
  ReadLoad,
  serviceConn,
  WRITE_TABLE,
} from './lib/scenarios';
import { Testbed } from './lib/testbed';

const distDir = process.env.E2E_DIST ?? path.join(__dirname, '..', 'dist');
let tb: Testbed;
let rp: RouterPlan;
let app: AppCreds;
const t0 = Date.now();

beforeAll(async () => {
  tb = new Testbed({ distDir });
  await tb.start();
  rp = routerPlan(tb);
  log(`router: write port ${rp.writePort} (Service ${rp.writeService.name}), read port ${rp.readPort} (Service ${rp.readService.name}), read falls back to leader: ${rp.readFallsBackToLeader}`);
}, 240000);

afterAll(async () => {
  await tb?.stop();
  log(`e2e total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}, 60000);

describe('1. bring-up', () => {
  test('etcd has quorum: every member reports healthy', async () => {
    const health = await waitFor('etcd healthy', async () => {
      const h = await tb.etcdHealth();
      return h.every(Boolean) ? h : undefined;
    }, { timeoutMs: 60000 });
    expect(health).toHaveLength(tb.etcdPods.length);
    expect(tb.etcdPods.length).toBeGreaterThanOrEqual(3);
  });

  test('a Patroni leader and 2 streaming replicas, one synchronous', async () => {
    const members = await tb.waitHealthy({ timeoutMs: 120000 });
    expect(members.filter((m) => m.role === 'leader')).toHaveLength(1);
    const leader = (await tb.leaderPod())!;
    const rows = await query<{ application_name: string; state: string; sync_state: string }>(
      directConn(tb, leader, 'postgres'),
      'SELECT application_name, state, sync_state FROM pg_stat_replication ORDER BY application_name',
    );
    expect(rows).toHaveLength(tb.pgPods.length - 1);
    expect(rows.every((r) => r.state === 'streaming')).toBe(true);
    expect(rows.filter((r) => r.sync_state === 'sync')).toHaveLength(1);
  });

  test("the init Job's script exits 0, and a second run also exits 0", async () => {
    const job = tb.m.all('Job').find((j) => /postgres/.test(j.spec.template.spec.containers[0].image))!;
    const r1 = await tb.runJob(job.metadata.name);
    if (r1.code !== 0) log(`init Job output:\n${r1.output}`);
    expect(r1.code).toBe(0);
    const r2 = await tb.runJob(job.metadata.name);
    if (r2.code !== 0) log(`init Job output (2nd run):\n${r2.output}`);
    expect(r2.code).toBe(0);
    app = appCreds(tb, job.metadata.name);
    log(`app credentials from ${app.source}: user ${app.user}, database ${app.database}`);
  });

  test('the configured user logs in to the configured database through the write port', async () => {
    const r = await query<{ u: string; d: string; r: boolean; ssl: boolean }>(
      serviceConn(rp.writeService, app),
      'SELECT current_user AS u, current_database() AS d, pg_is_in_recovery() AS r, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl',
    );
    expect(r[0]).toEqual({ u: app.user, d: app.database, r: false, ssl: true });
    await ensureWriteTable(serviceConn(rp.writeService, app));
  });
});

async function sampleServers(svc: { host: string; port: number }, n: number): Promise<Array<{ ip: string; r: boolean }>> {
  const out: Array<{ ip: string; r: boolean }> = [];
  for (let i = 0; i < n; i++) {
    const r = await query<{ ip: string; r: boolean }>(serviceConn(svc, app), 'SELECT host(inet_server_addr()) AS ip, pg_is_in_recovery() AS r');
    out.push(r[0]);
  }
  return out;
}

describe('2. routing', () => {
  test('the write port reaches the leader only', async () => {
    const leader = (await tb.leaderPod())!;
    const seen = await sampleServers(rp.writeService, 12);
    expect(seen.every((s) => s.r === false)).toBe(true);
    expect(new Set(seen.map((s) => s.ip))).toEqual(new Set([tb.pgAddr(leader).host]));
  });

  test('the read port reaches only replicas and spreads over both', async () => {
    const leader = (await tb.leaderPod())!;
    const replicas = tb.pgPods.filter((p) => p !== leader).map((p) => tb.pgAddr(p).host);
    const seen = await sampleServers(rp.readService, 16);
    expect(seen.every((s) => s.r === true)).toBe(true);
    expect(new Set(seen.map((s) => s.ip))).toEqual(new Set(replicas));
  });

  test('with both replicas stopped, reads still get an answer (the read backend falls back to the leader)', async () => {
    const leader = (await tb.leaderPod())!;
    const replicas = tb.pgPods.filter((p) => p !== leader);
    await Promise.all(replicas.map((p) => tb.spiloContainer(p).stop('SIGTERM', p.graceMs, true)));
    try {
      const answer = await waitFor(
        'a read answered with both replicas down',
        async () => {
          try {
            const r = await query<{ ip: string; r: boolean }>(serviceConn(rp.readService, app), 'SELECT host(inet_server_addr()) AS ip, pg_is_in_recovery() AS r', [], 2000);
            return r[0];
          } catch {
            return undefined;
          }
        },
        { timeoutMs: 20000, intervalMs: 200 },
      ).catch(() => undefined);
      if (rp.readFallsBackToLeader) {
        expect(answer).toEqual({ ip: tb.pgAddr(leader).host, r: false });
        // and it keeps answering
        const more = await sampleServers(rp.readService, 5);
        expect(more.every((s) => s.ip === tb.pgAddr(leader).host)).toBe(true);
      } else {
        expect(answer).toBeUndefined();
      }
    } finally {
      for (const p of replicas) tb.spiloContainer(p).resume();
    }
    await tb.waitHealthy({ timeoutMs: 120000 });
  });
});

describe('3. monitoring', () => {
  test('each exporter, run with the env from the manifests, reports pg_up 1', async () => {
    for (const p of tb.pgPods) {
      const c = p.containers.find((x) => x.role === 'exporter');
      expect(c).toBeDefined();
      const listen = c!.launch!.args.find((a) => a.startsWith('--web.listen-address='))!.split('=')[1];
      const [host, port] = listen.split(':');
      const metrics = await waitFor(`${p.name} exporter pg_up 1`, async () => {
        try {
          const r = await httpRequest(host, Number(port), '/metrics', { timeoutMs: 3000 });
          return /^pg_up 1$/m.test(r.body) ? r.body : undefined;
        } catch {
          return undefined;
        }
      }, { timeoutMs: 30000, intervalMs: 500 });
      expect(metrics).toMatch(/^pg_up 1$/m);
    }
  });

  test("HAProxy's stats and metrics endpoints answer", async () => {
    expect(rp.stats).toBeDefined();
    expect(rp.metrics).toBeDefined();
    for (const p of tb.routerPods) {
      const s = await httpRequest(p.ip, rp.stats!.port, rp.stats!.uri);
      expect(s.status).toBe(200);
      const m = await httpRequest(p.ip, rp.metrics!.port, rp.metrics!.path);
      expect(m.status).toBe(200);
      expect(m.body).toMatch(/^haproxy_backend_status\{/m);
    }
    if (rp.metricsService) {
      const m = await httpRequest(rp.metricsService.host, rp.metricsService.port, rp.metrics!.path);
      expect(m.status).toBe(200);
    }
  });
});

describe('4. failover under writes', () => {
  for (const kind of ['graceful', 'hard'] as const) {
    test(`${kind}: zero acknowledged writes lost, the write port serves the new leader, the old leader rejoins as a replica`, async () => {
      const r = await failover(tb, rp, app, kind);
      expect(r.newLeader).not.toBe(r.oldLeader);
      expect(r.acked).toBeGreaterThan(50);
      expect(r.lost).toBe(0);
      expect(r.writePortServesNewLeader).toBe(true);
      expect(r.rejoinS).toBeGreaterThan(0);
    }, 300000);
  }
});

describe('5. losses', () => {
  test('one replica down: reads continue', async () => {
    await tb.waitHealthy();
    const leader = (await tb.leaderPod())!;
    const [down, other] = tb.pgPods.filter((p) => p !== leader);
    const reads = new ReadLoad(serviceConn(rp.readService, app), 50, 60000);
    reads.start();
    await sleep(1000);
    const tStop = Date.now();
    await tb.spiloContainer(down).stop('SIGTERM', down.graceMs, true);
    try {
      // HAProxy needs fall x inter to mark it down; after that every read must succeed on the other replica
      await waitFor('reads served by the remaining replica only', async () => {
        const last = reads.samples.slice(-5);
        return last.length === 5 && last.every((s) => s.ok && s.server === tb.pgAddr(other).host);
      }, { timeoutMs: 15000, intervalMs: 100 });
      const settled = Date.now();
      await sleep(3000);
      const after = reads.between(settled, Date.now());
      expect(after.length).toBeGreaterThan(10);
      expect(after.every((s) => s.ok && s.server === tb.pgAddr(other).host && s.recovery === true)).toBe(true);
      const failed = reads.between(tStop, Date.now()).filter((s) => !s.ok).length;
      log(`one replica down: ${failed} failed reads while HAProxy noticed, then ${after.length}/${after.length} answered by ${other.name}`);
    } finally {
      await reads.stop();
      tb.spiloContainer(down).resume();
    }
    await tb.waitHealthy();
  });

  test('one etcd member down: nothing changes', async () => {
    const before = await tb.waitHealthy();
    const leaderBefore = before.find((m) => m.role === 'leader')!.name;
    const timing = dcsTiming(tb);
    const writes = new WriteLoad(serviceConn(rp.writeService, app), WRITE_TABLE, { firstId: (await maxWriteId(serviceConn(rp.writeService, app))) + 1, maxMs: 120000 });
    writes.start();
    const victim = tb.etcdPods[0];
    await sleep(500);
    const errorsBefore = writes.errors.length;
    await victim.containers[0].stop('SIGTERM', 10000, true);
    try {
      // longer than one ttl: the leader must renew its lock through the remaining members
      const watchMs = (timing.ttl + timing.loop_wait) * 1000;
      const end = Date.now() + watchMs;
      const leaders = new Set<string>();
      while (Date.now() < end) {
        const l = await tb.leaderPod();
        if (l) leaders.add(l.name);
        await sleep(500);
      }
      const health = await tb.etcdHealth();
      expect(health.filter(Boolean)).toHaveLength(tb.etcdPods.length - 1);
      expect([...leaders]).toEqual([leaderBefore]);
      expect(writes.errors.length - errorsBefore).toBe(0);
      const members = await tb.patroniCluster();
      expect(members?.filter((m) => m.role === 'leader').map((m) => m.name)).toEqual([leaderBefore]);
    } finally {
      await writes.stop();
      victim.containers[0].resume();
    }
    await waitFor('etcd back to full health', async () => (await tb.etcdHealth()).every(Boolean), { timeoutMs: 60000 });
  });

  test('etcd quorum lost: never two writable primaries', async () => {
    await tb.waitHealthy();
    const timing = dcsTiming(tb);
    const leader = (await tb.leaderPod())!;
    const writes = new WriteLoad(serviceConn(rp.writeService, app), WRITE_TABLE, { firstId: (await maxWriteId(serviceConn(rp.writeService, app))) + 1, maxMs: 180000 });
    writes.start();
    await sleep(500);
    const nStop = tb.etcdPods.length - Math.floor(tb.etcdPods.length / 2); // leave a minority running
    const stopped = tb.etcdPods.slice(0, nStop);
    const tLoss = Date.now();
    await Promise.all(stopped.map((p) => p.containers[0].stop('SIGKILL', 0, true)));
    log(`etcd quorum lost: stopped ${stopped.map((p) => p.name).join(', ')}`);
    const samples: Array<{ at: number; writable: string[] }> = [];
    let demotedAt: number | undefined;
    try {
      const watchMs = (timing.ttl + timing.retry_timeout + timing.loop_wait + 10) * 1000;
      const end = Date.now() + watchMs;
      while (Date.now() < end) {
        const states = await Promise.all(tb.pgPods.map(async (p) => ({ p, r: await isInRecovery(tb, p) })));
        const writable = states.filter((s) => s.r === false).map((s) => s.p.name);
        samples.push({ at: Date.now(), writable });
        if (!writable.length && demotedAt === undefined) demotedAt = Date.now();
        expect(writable.length).toBeLessThanOrEqual(1);
        await sleep(100);
      }
      const lastAck = writes.acks.filter((a) => a.ackAt > tLoss).pop();
      const failsafe = !!tb.patroniConfig(leader).bootstrap?.dcs?.failsafe_mode;
      log(
        `etcd quorum lost (failsafe_mode ${failsafe}): ${samples.length} samples, max writable at once ${Math.max(...samples.map((s) => s.writable.length))}; ` +
          (demotedAt ? `leader ${leader.name} demoted to read-only ${((demotedAt - tLoss) / 1000).toFixed(1)} s after the loss; ` : `leader ${leader.name} stayed writable; `) +
          `last acknowledged write ${lastAck ? ((lastAck.ackAt - tLoss) / 1000).toFixed(1) + ' s' : 'none'} after the loss`,
      );
      expect(samples.every((s) => s.writable.length <= 1)).toBe(true);
      if (failsafe) {
        // failsafe_mode: every Patroni member answers the leader's POST /failsafe, so it stays the one primary
        // (a sample may miss the leader when its probe query times out; another member is never writable)
        expect(samples.every((s) => s.writable.every((n) => n === leader.name))).toBe(true);
        expect(samples.filter((s) => s.writable.length === 1).length).toBeGreaterThanOrEqual(samples.length * 0.9);
        expect(lastAck && lastAck.ackAt - tLoss).toBeGreaterThan((timing.ttl + timing.retry_timeout) * 1000);
      } else {
        // without failsafe_mode Patroni demotes the primary it cannot confirm in the DCS
        expect(demotedAt).toBeDefined();
      }
    } finally {
      await writes.stop();
      for (const p of stopped) p.containers[0].resume();
    }
    await waitFor('etcd back to full health', async () => (await tb.etcdHealth()).every(Boolean), { timeoutMs: 60000 });
    await tb.waitHealthy({ timeoutMs: 120000 });
    const r = await query<{ r: boolean }>(serviceConn(rp.writeService, app), 'SELECT pg_is_in_recovery() AS r');
    expect(r[0].r).toBe(false);
  }, 300000);
});
