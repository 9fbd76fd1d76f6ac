/*
 * Scenario: routing. The write and read ports (found in haproxy.cfg by their health-check
 * paths, and the Services that expose them): writes reach the leader only, reads reach
 * the replicas only, every one of them; with every replica stopped, reads fall back to
 * the leader when the config has a fallback.
 */
import { serviceConn, whoAnswers } from '../lib/app-client';
import type { PgConn } from '../lib/pg';
import { waitFor } from '../lib/poll';
import type { SuiteContext } from './suite';

/** Connections through a Service until `enough` says the answers so far suffice, at most `max`. */
async function sampleServers(conn: PgConn, max: number, enough: (seen: Array<{ ip: string; r: boolean }>) => boolean = () => false): Promise<Array<{ ip: string; r: boolean }>> {
  const seen: Array<{ ip: string; r: boolean }> = [];
  while (seen.length < max && !enough(seen)) seen.push(await whoAnswers(conn));
  return seen;
}

export function routing(ctx: SuiteContext): void {
  describe('routing', () => {
    test('the write port reaches the leader only', async () => {
      const { bed, router, app } = ctx;
      const leader = (await bed.patroni.leaderPod())!;
      const seen = await sampleServers(serviceConn(router.writeService, app), 4 * bed.routerPods.length + 4);
      expect(seen.every((s) => s.r === false)).toBe(true);
      expect(new Set(seen.map((s) => s.ip))).toEqual(new Set([bed.patroni.pgAddress(leader).host]));
    });

    test('the read port reaches only replicas, and every one of them', async () => {
      const { bed, router, app } = ctx;
      const leader = (await bed.patroni.leaderPod())!;
      const replicas = new Set(bed.pgPods.filter((p) => p !== leader).map((p) => bed.patroni.pgAddress(p).host));
      // round robin per router behind a round-robin Service: a few rounds over routers x replicas see them all
      const max = 4 * replicas.size * bed.routerPods.length + 8;
      const seen = await sampleServers(serviceConn(router.readService, app), max, (s) => s.length >= 8 && new Set(s.map((x) => x.ip)).size === replicas.size);
      expect(seen.every((s) => s.r === true)).toBe(true);
      expect(new Set(seen.map((s) => s.ip))).toEqual(replicas);
    });

    test('with every replica stopped, reads are answered by the leader exactly when the config has a fallback', async () => {
      const { bed, router, app } = ctx;
      const leader = (await bed.patroni.leaderPod())!;
      const replicas = bed.pgPods.filter((p) => p !== leader);
      const conn = serviceConn(router.readService, app);
      await Promise.all(replicas.map((p) => p.containerOf('spilo').stop('SIGTERM', p.graceMs, true)));
      try {
        // every router checks the members on its own: wait until a round over all of them answers
        const answers = await waitFor(
          'reads answered through every router with every replica down',
          async () => {
            try {
              const round = [];
              for (let i = 0; i < 2 * bed.routerPods.length; i++) round.push(await whoAnswers(conn, 2000));
              return round;
            } catch {
              return undefined;
            }
          },
          { timeoutMs: 20000, intervalMs: 200 },
        ).catch(() => undefined);
        if (router.readFallsBackToLeader) {
          expect(answers).toBeDefined();
          expect(new Set(answers!.map((a) => JSON.stringify(a)))).toEqual(new Set([JSON.stringify({ ip: bed.patroni.pgAddress(leader).host, r: false })]));
        } else {
          expect(answers).toBeUndefined();
        }
      } finally {
        for (const p of replicas) p.containerOf('spilo').resume();
      }
      await bed.patroni.waitHealthy({ timeoutMs: 120000 });
    });
  });
}
