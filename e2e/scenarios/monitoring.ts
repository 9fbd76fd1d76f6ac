/*
 * Scenario: monitoring. Every exporter sidecar reports pg_up 1; every router's stats page and metrics
 * answer, also through their Service; and every metric name the alerts and the Grafana dashboard use
 * (test/fixtures/metric-names.json) is in the real programs' /metrics output, scraped here from the
 * programs the manifests run. With E2E_CAPTURE_METRICS=1 the scraped names are written to
 * test/fixtures/observed-metrics/<program>-<version>.txt: the fixture's "observed" evidence.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { LocalPod } from '../lib/pod';
import { log } from '../lib/log';
import { httpRequest, waitFor } from '../lib/poll';
import { exporterAddress } from '../lib/programs/exporter';
import type { SuiteContext } from './suite';

const FIXTURES = path.join(__dirname, '..', '..', 'test', 'fixtures');

/** metric-names.json: each name, the program (as programVersions() names it) and how it was checked. */
interface MetricFixture {
  metrics: Record<string, { program: string; checked: string[] }>;
}

/** The /metrics endpoints of one program on this bed, one per pod. */
interface MetricsSource {
  program: string;
  endpoints: Array<{ pod: string; host: string; port: number; path: string }>;
}

function metricsSources(ctx: SuiteContext): MetricsSource[] {
  const { bed, router } = ctx;
  const exporterOf = (pods: LocalPod[], program: 'exporter' | 'pgbouncer-exporter') =>
    pods.map((p) => ({ pod: p.name, ...exporterAddress(p.containerOf(program)), path: '/metrics' }));
  const etcdMetrics = (p: LocalPod) => {
    const url = new URL(String(p.containerOf('etcd').launch!.env.ETCD_LISTEN_METRICS_URLS).split(',')[0]);
    return { pod: p.name, host: url.hostname === '0.0.0.0' ? p.ip : url.hostname, port: Number(url.port), path: '/metrics' };
  };
  const sources: MetricsSource[] = [
    { program: 'patroni', endpoints: bed.pgPods.map((p) => ({ pod: p.name, ...bed.patroni.restApi(p), path: '/metrics' })) },
    { program: 'postgres-exporter', endpoints: exporterOf(bed.pgPods, 'exporter') },
    { program: 'etcd', endpoints: bed.etcdPods.map(etcdMetrics) },
    { program: 'haproxy', endpoints: bed.routerPods.map((p) => ({ pod: p.name, host: p.ip, port: router.metrics!.port, path: router.metrics!.path })) },
  ];
  const poolers = bed.podsRunning('pgbouncer-exporter');
  if (poolers.length > 0) sources.push({ program: 'pgbouncer-exporter', endpoints: exporterOf(poolers, 'pgbouncer-exporter') });
  return sources;
}

/** The metric names a /metrics page declares (its `# TYPE` lines). */
const declaredNames = (body: string): string[] => body.split('\n').flatMap((line) => /^# TYPE (\S+) /.exec(line)?.[1] ?? []);

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

    test('every metric name the alerts and the dashboard use, said to be observed, is in the real programs\' /metrics', async () => {
      const fixture: MetricFixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'metric-names.json'), 'utf8'));
      const versions = ctx.bed.programVersions();
      const missing: string[] = [];
      for (const source of metricsSources(ctx)) {
        expect([source.program, source.endpoints.length > 0]).toEqual([source.program, true]);
        const names = new Set<string>();
        for (const e of source.endpoints) {
          const r = await httpRequest(e.host, e.port, e.path, { timeoutMs: 5000 });
          expect([e.pod, source.program, r.status]).toEqual([e.pod, source.program, 200]);
          declaredNames(r.body).forEach((n) => names.add(n));
        }
        const used = Object.entries(fixture.metrics).filter(([, m]) => m.program === source.program);
        expect([source.program, used.length > 0]).toEqual([source.program, true]);
        for (const [name, m] of used) {
          const observed = m.checked.some((c) => c.startsWith('observed:'));
          if (observed && !names.has(name)) missing.push(`${source.program} ${versions[source.program]}: ${name}`);
          if (!observed) log(`${name}: source only in metric-names.json; ${source.program} ${versions[source.program]} here ${names.has(name) ? 'emits it' : 'does not emit it'}`);
        }
        if (process.env.E2E_CAPTURE_METRICS === '1') {
          const file = path.join(FIXTURES, 'observed-metrics', `${source.program}-${versions[source.program].split(/[-+~]/)[0]}.txt`);
          fs.writeFileSync(file, `${[...names].sort().join('\n')}\n`);
          log(`wrote ${path.relative(process.cwd(), file)} (${names.size} names from ${source.endpoints.length} pods)`);
        }
      }
      expect(missing).toEqual([]);
    });
  });
}
