/*
 * Scenario: one replica down. Reads through the read Service go on: once HAProxy marks
 * the stopped member down, every read is answered by the remaining replicas (or, when
 * it was the only replica, by the leader if the config has a read fallback).
 */
import { ReadLoad, serviceConn } from '../lib/app-client';
import { log } from '../lib/log';
import { sleep, waitFor } from '../lib/poll';
import type { SuiteContext } from './suite';

export function oneReplicaDown(ctx: SuiteContext): void {
  describe('one replica down', () => {
    test('reads continue, answered by the members that are left', async () => {
      const { bed, router, app } = ctx;
      await bed.patroni.waitHealthy();
      const leader = (await bed.patroni.leaderPod())!;
      const replicas = bed.pgPods.filter((p) => p !== leader);
      expect(replicas.length).toBeGreaterThan(0);
      const down = replicas[replicas.length - 1];
      const rest = replicas.filter((p) => p !== down);
      const expected = new Set((rest.length ? rest : router.readFallsBackToLeader ? [leader] : []).map((p) => bed.patroni.pgAddress(p).host));
      const reads = new ReadLoad(serviceConn(router.readService, app), 50, 60000);
      reads.start();
      await sleep(1000);
      const tStop = Date.now();
      await down.containerOf('spilo').stop('SIGTERM', down.graceMs, true);
      try {
        if (!expected.size) {
          log(`one replica down: ${down.name} was the only replica and the read port has no fallback: reads fail, as configured`);
          return;
        }
        // HAProxy needs fall x inter to mark it down; after that every read must succeed on the members left
        const window = 5 * Math.max(1, expected.size);
        await waitFor('reads served by the members left only', async () => {
          const last = reads.samples.slice(-window);
          return last.length === window && last.every((s) => s.ok && expected.has(s.server!));
        }, { timeoutMs: 15000, intervalMs: 100 });
        const settled = Date.now();
        await sleep(3000);
        const after = reads.between(settled, Date.now());
        expect(after.length).toBeGreaterThan(10);
        expect(after.every((s) => s.ok && expected.has(s.server!))).toBe(true);
        expect(new Set(after.map((s) => s.server))).toEqual(expected);
        if (rest.length) expect(after.every((s) => s.recovery === true)).toBe(true);
        const failed = reads.between(tStop, Date.now()).filter((s) => !s.ok).length;
        log(`one replica down (${down.name}): ${failed} failed reads while HAProxy noticed, then ${after.length}/${after.length} answered by ${[...expected].join(', ')}`);
      } finally {
        await reads.stop();
        down.containerOf('spilo').resume();
      }
      await bed.patroni.waitHealthy();
    });
  });
}
