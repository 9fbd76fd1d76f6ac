/* Scenario: monitoring. Every exporter sidecar reports pg_up 1; every router's stats page and metrics answer, also through their Service. */
import { httpRequest, waitFor } from '../lib/poll';
import { exporterAddress } from '../lib/programs/exporter';
import type { SuiteContext } from './suite';

export function monitoring(ctx: SuiteContext): void {
  describe('monitoring', () => {
    test('each exporter, run with the env from the manifests, reports pg_up 1', async () => {
      expect(ctx.bed.pgPods.length).toBeGreaterThan(0);
      for (const p of ctx.bed.pgPods) {
        const { host, port } = exporterAddress(p.containerOf('exporter'));
        const metrics = await waitFor(`${p.name} exporter pg_up 1`, async () => {
          try {
            const r = await httpRequest(host, port, '/metrics', { timeoutMs: 3000 });
            return /^pg_up 1$/m.test(r.body) ? r.body : undefined;
          } catch {
            return undefined;
          }
        }, { timeoutMs: 30000, intervalMs: 500 });
        expect(metrics).toMatch(/^pg_up 1$/m);
      }
    });

    test("every router's stats page and metrics endpoint answer", async () => {
      const { bed, router } = ctx;
      expect(router.stats).toBeDefined();
      expect(router.metrics).toBeDefined();
      expect(bed.routerPods.length).toBeGreaterThan(0);
      for (const p of bed.routerPods) {
        expect((await httpRequest(p.ip, router.stats!.port, router.stats!.uri)).status).toBe(200);
        const m = await httpRequest(p.ip, router.metrics!.port, router.metrics!.path);
        expect(m.status).toBe(200);
        expect(m.body).toMatch(/^haproxy_backend_status\{/m);
      }
      if (router.metricsService) {
        const m = await httpRequest(router.metricsService.host, router.metricsService.port, router.metrics!.path);
        expect(m.status).toBe(200);
      }
    });
  });
}
