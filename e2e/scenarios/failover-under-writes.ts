/*
 * Scenario: failover under writes (one INSERT at a time through the write Service).
 * graceful = SIGTERM to the leader's Patroni, as when its pod is deleted; hard = SIGKILL
 * of Patroni and every postgres process of the leader, as when its node dies.
 */
import { failover } from '../lib/failover';
import type { SuiteContext } from './suite';

export function failoverUnderWrites(ctx: SuiteContext): void {
  describe('failover under writes', () => {
    for (const kind of ['graceful', 'hard'] as const) {
      test(`${kind}: zero acknowledged writes lost, the write port serves the new leader, the old leader rejoins as a replica`, async () => {
        const r = await failover(ctx.bed, ctx.router, ctx.app, kind);
        expect(r.newLeader).not.toBe(r.oldLeader);
        expect(r.acked).toBeGreaterThan(50);
        expect(r.lost).toBe(0);
        expect(r.writePortServesNewLeader).toBe(true);
        expect(r.rejoinS).toBeGreaterThan(0);
      }, 300000);
    }
  });
}
