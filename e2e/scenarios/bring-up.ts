/* Scenario: bring-up. etcd has quorum, Patroni elects one leader and every other member streams from it, the init Job works. */
import { appCreds, directConn, ensureWriteTable, initJobName, serviceConn, whoAnswers } from '../lib/app-client';
import { log } from '../lib/log';
import { query } from '../lib/pg';
import { programOfImage } from '../lib/pod';
import { waitFor } from '../lib/poll';
import type { SuiteContext } from './suite';

export function bringUp(ctx: SuiteContext): void {
  describe('bring-up', () => {
    test('etcd has quorum: every member the manifests ask for reports healthy', async () => {
      const bed = ctx.bed;
      const wanted = bed.workloads().filter((w) => programOfImage(w.spec.template.spec.containers[0].image) === 'etcd').reduce((n, w) => n + (w.spec.replicas ?? 1), 0);
      const health = await waitFor('etcd healthy', async () => {
        const h = await bed.etcdHealth();
        return h.every(Boolean) ? h : undefined;
      }, { timeoutMs: 60000 });
      expect(wanted).toBeGreaterThan(0);
      expect(health).toHaveLength(wanted);
    });

    test('one Patroni leader; every other member a streaming replica; as many sync standbys as configured', async () => {
      const bed = ctx.bed;
      const members = await bed.patroni.waitHealthy({ timeoutMs: 120000 });
      expect(members).toHaveLength(bed.pgPods.length);
      expect(members.filter((m) => m.role === 'leader')).toHaveLength(1);
      const leader = (await bed.patroni.leaderPod())!;
      const rows = await query<{ application_name: string; state: string; sync_state: string }>(
        directConn(bed, leader, 'postgres'),
        'SELECT application_name, state, sync_state FROM pg_stat_replication ORDER BY application_name',
      );
      expect(rows.map((r) => r.application_name).sort()).toEqual(bed.pgPods.filter((p) => p !== leader).map((p) => p.name).sort());
      expect(rows.every((r) => r.state === 'streaming')).toBe(true);
      expect(rows.filter((r) => r.sync_state === 'sync')).toHaveLength(bed.patroni.expectedSyncStandbys());
    });

    test("the init Job's script exits 0, and a second run also exits 0", async () => {
      const bed = ctx.bed;
      const name = initJobName(bed);
      const first = await bed.jobs.run(name);
      if (first.code !== 0) log(`init Job output:\n${first.output}`);
      expect(first.code).toBe(0);
      const second = await bed.jobs.run(name);
      if (second.code !== 0) log(`init Job output (2nd run):\n${second.output}`);
      expect(second.code).toBe(0);
      ctx.app = appCreds(bed, name);
      log(`app credentials from ${ctx.app.source}: user ${ctx.app.user}, database ${ctx.app.database}`);
    });

    test('the configured user logs in to the configured database through the write port, over TLS, on the leader', async () => {
      const conn = serviceConn(ctx.router.writeService, ctx.app);
      const r = await query<{ u: string; d: string; ssl: boolean }>(conn, 'SELECT current_user AS u, current_database() AS d, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl');
      expect(r[0]).toEqual({ u: ctx.app.user, d: ctx.app.database, ssl: true });
      const leader = (await ctx.bed.patroni.leaderPod())!;
      expect(await whoAnswers(conn)).toEqual({ ip: ctx.bed.patroni.pgAddress(leader).host, r: false });
      await ensureWriteTable(conn);
    });
  });
}
