/*
 * Scenario: failover under writes through the PgBouncer pooler (suites whose manifests turn it on).
 * The writer keeps its one connection to PgBouncer; when HAProxy closes the server connections to
 * the killed leader, PgBouncer opens new ones through the write Service to the new leader by itself.
 * Also: the application role logs in through auth_query over TLS, the superuser cannot.
 */
import { serviceConn } from '../lib/app-client';
import { failover } from '../lib/failover';
import { query, tryQuery } from '../lib/pg';
import type { SuiteContext } from './suite';

export function failoverThroughPooler(ctx: SuiteContext): void {
  describe('failover through the pooler', () => {
    /** The write pooler's Service, as the router plan's write Service would be. */
    const poolerService = () => {
      const svc = ctx.bed.cluster.services.find((s) => s.obj.spec?.selector?.['app.kubernetes.io/component'] === 'pooler');
      if (!svc?.clusterIP) throw new Error('these manifests have no pooler Service (POOLER=true)');
      return { name: svc.name, host: svc.clusterIP, port: Number(svc.obj.spec.ports[0].port) };
    };

    test('the application role logs in through PgBouncer (auth_query, TLS both ways); the superuser is refused', async () => {
      const conn = serviceConn(poolerService(), ctx.app);
      const r = await query<{ u: string; ssl: boolean }>(conn, 'SELECT current_user AS u, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl');
      // ssl here is the PgBouncer -> router -> PostgreSQL leg; the client leg is TLS or PgBouncer refuses it.
      expect(r[0]).toEqual({ u: ctx.app.user, ssl: true });
      const su = ctx.bed.patroni.superuser();
      expect(await tryQuery(serviceConn(poolerService(), { ...ctx.app, user: su.user, password: su.password }), 'SELECT 1', [], 5000)).toBeUndefined();
    });

    test('hard failover: zero acknowledged writes lost, and the pooler serves the new leader without a restart', async () => {
      const viaPooler = { ...ctx.router, writeService: poolerService() };
      const r = await failover(ctx.bed, viaPooler, ctx.app, 'hard');
      expect(r.newLeader).not.toBe(r.oldLeader);
      expect(r.acked).toBeGreaterThan(50);
      expect(r.lost).toBe(0);
      expect(r.writePortServesNewLeader).toBe(true);
    }, 300000);
  });
}
