/*
 * Scenario: one etcd member down. For longer than one ttl the leader must renew its
 * lock through the remaining members: no write fails and the leader does not change.
 */
import { maxWriteId, serviceConn, WRITE_TABLE } from '../lib/app-client';
import { WriteLoad } from '../lib/pg';
import { sleep, waitFor } from '../lib/poll';
import type { SuiteContext } from './suite';

export function etcdMemberDown(ctx: SuiteContext): void {
  describe('one etcd member down', () => {
    test('nothing changes: the leader stays, no write fails', async () => {
      const { bed, router, app } = ctx;
      const before = await bed.patroni.waitHealthy();
      const leaderBefore = before.find((m) => m.role === 'leader')!.name;
      const timing = bed.patroni.timing();
      const conn = serviceConn(router.writeService, app);
      const writes = new WriteLoad(conn, WRITE_TABLE, { firstId: (await maxWriteId(conn)) + 1, maxMs: 120000 });
      writes.start();
      const victim = bed.etcdPods[0];
      const etcd = victim.containerOf('etcd');
      await sleep(500);
      const errorsBefore = writes.errors.length;
      await etcd.stop('SIGTERM', 10000, true);
      try {
        const end = Date.now() + (timing.ttl + timing.loop_wait) * 1000;
        const leaders = new Set<string>();
        while (Date.now() < end) {
          const l = await bed.patroni.leaderPod();
          if (l) leaders.add(l.name);
          await sleep(500);
        }
        const health = await bed.etcdHealth();
        expect(health.filter(Boolean)).toHaveLength(bed.etcdPods.length - 1);
        expect([...leaders]).toEqual([leaderBefore]);
        expect(writes.errors.slice(errorsBefore).map((e) => e.message)).toEqual([]);
        expect(writes.acks.length).toBeGreaterThan(0);
        const members = await bed.patroni.cluster();
        expect(members?.filter((m) => m.role === 'leader').map((m) => m.name)).toEqual([leaderBefore]);
      } finally {
        await writes.stop();
        etcd.resume();
      }
      await waitFor('etcd back to full health', async () => (await bed.etcdHealth()).every(Boolean), { timeoutMs: 60000 });
    });
  });
}
