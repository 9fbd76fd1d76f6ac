/**
 * Monitoring: off by default (plain clusters lack the CRDs), and when on, every alert expression uses
 * only metric names the programs really emit (test/fixtures/metric-names.json says how each was checked).
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { PgHaSettings, ROUTER_PROXIES, settingsFromVariables } from '../../lib';
import { synth as synthesize } from '../support/synth';
import { parsePromql } from '../support/promql';

const FIXTURES = join(__dirname, '..', 'fixtures');
const known: { metrics: Record<string, { program: string; checked: string[] }> } = JSON.parse(readFileSync(join(FIXTURES, 'metric-names.json'), 'utf8'));

const PROMQL_WORDS = new Set([
  'sum', 'max', 'min', 'avg', 'count', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
  'and', 'or', 'unless', 'bool', 'vector', 'absent', 'rate', 'increase', 'offset',
]);

/** The metric names in a PromQL expression (label matchers, strings, grouping labels and numbers removed). */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = stripped.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n)))];
}

const synth = (settings: PgHaSettings) => synthesize(settings);

describe('monitoring', () => {
  test('is off by default: dist/ must apply on clusters without the Prometheus Operator CRDs', () => {
    const { chart, objects } = synth({});
    expect(chart.monitoring).toBeUndefined();
    expect(objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'))).toEqual([]);
  });

  describe('when on', () => {
    const { chart, objects } = synth({ monitoring: { enabled: true, labels: { release: 'kube-prometheus-stack' } } });
    const podMonitors = objects.filter((o) => o.kind === 'PodMonitor');
    const [rule] = objects.filter((o) => o.kind === 'PrometheusRule');
    const exprs: string[] = rule.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.expr));

    test('one PodMonitor per component scrapes every exporter: postgres-exporter and Patroni, etcd, HAProxy', () => {
      expect(podMonitors.map((m) => [m.metadata.name, m.spec.podMetricsEndpoints.map((e: any) => `${e.port}${e.path}`)])).toEqual([
        ['pg-ha-postgres', ['metrics/metrics', 'patroni/metrics']],
        ['pg-ha-etcd', ['metrics/metrics']],
        ['pg-ha-router', ['metrics/metrics']],
      ]);
    });

    test('the Prometheus selector labels are on every PodMonitor and the rule', () => {
      for (const o of [...podMonitors, rule]) expect(o.metadata.labels.release).toBe('kube-prometheus-stack');
    });

    test('the alerts a DBA expects exist', () => {
      const names = rule.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert));
      expect(names).toEqual(expect.arrayContaining([
        'PostgresNoLeader', 'PostgresMultipleLeaders', 'PostgresReplicasBelowDesired', 'PostgresReplicationLagHigh',
        'PostgresSyncStandbyMissing', 'EtcdNoLeader', 'EtcdMembersDown', 'RouterWriteBackendDown', 'RouterReadBackendDown',
        'PostgresExporterDown', 'PatroniMetricsDown', 'RouterMetricsDown',
      ]));
      for (const r of rule.spec.groups.flatMap((g: any) => g.rules)) {
        expect(['critical', 'warning']).toContain(r.labels.severity);
        expect(r.annotations.summary).toBeTruthy();
      }
    });

    test('every metric name in every expression is a known, checked name', () => {
      const used = [...new Set(exprs.flatMap(metricNames))].sort();
      expect(used.filter((n) => !known.metrics[n])).toEqual([]);
      // And the fixture lists nothing that neither the rule nor the Grafana dashboard uses (no wish list).
      const dashboard = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'pg-ha-grafana-dashboard');
      const dashboardNames = JSON.parse(Object.values<string>(dashboard!.data)[0]).panels
        .flatMap((p: any) => (p.targets ?? []).flatMap((t: any) => parsePromql(t.expr).metricNames));
      expect(Object.keys(known.metrics).sort()).toEqual([...new Set([...used, ...dashboardNames])].sort());
    });

    test('every expression is scoped to this cluster (namespace and scope or PodMonitor job)', () => {
      for (const expr of exprs) expect(expr).toMatch(/namespace="pg-ha"/);
      const jobs = podMonitors.map((m) => `pg-ha/${m.metadata.name}`);
      for (const job of exprs.join('\n').match(/job="[^"]+"/g) ?? []) expect(jobs).toContain(job.slice(5, -1));
    });

    test('desired counts come from the configuration', () => {
      expect(exprs.find((e) => e.includes('count(patroni_replica'))).toMatch(/< 2$/);
      expect(exprs.find((e) => e.includes('count(up'))).toMatch(/< 3$/);
      expect(exprs.find((e) => e.includes('patroni_xlog_replayed_location'))).toContain(`> ${16 * 1024 * 1024}`);
    });

    test('the router alerts name the proxies haproxy.cfg really has', () => {
      expect(chart.router.haproxyConfig).toMatch(new RegExp(`^listen ${ROUTER_PROXIES.write}$`, 'm'));
      expect(chart.router.haproxyConfig).toMatch(new RegExp(`^listen ${ROUTER_PROXIES.read}$`, 'm'));
    });
  });

  test('no sync-standby alert without synchronous mode, no read-backend alert with a single member', () => {
    const alerts = (settings: PgHaSettings) => synth(settings).chart.monitoring!.alerts.map((a) => a.alert);
    expect(alerts({ monitoring: { enabled: true }, patroni: { synchronousMode: false } })).not.toContain('PostgresSyncStandbyMissing');
    expect(alerts({ monitoring: { enabled: true }, postgres: { replicas: 1 } })).not.toContain('RouterReadBackendDown');
  });

  describe('metric-names.json is honest', () => {
    test.each(Object.entries(known.metrics))('%s: every "observed" file really contains it', (name, entry) => {
      for (const check of entry.checked.filter((c) => c.startsWith('observed:'))) {
        const file = /test\/fixtures\/observed-metrics\/(\S+)/.exec(check)![1];
        const observed = readFileSync(join(FIXTURES, 'observed-metrics', file), 'utf8').split('\n');
        expect(observed).toContain(name);
      }
      expect(entry.checked.some((c) => c.startsWith('source:') || entry.program === 'prometheus')).toBe(true);
    });
  });

  test('the metric-name extractor ignores labels, grouping and keywords', () => {
    expect(metricNames('(max by (namespace, scope) (a_b{x="y"}) - on (scope) group_right c) > 5 and on (pod) d == 1')).toEqual(['a_b', 'c', 'd']);
  });

  describe('validation', () => {
    const on = (monitoring: object) => () => synth({ monitoring: { enabled: true, ...monitoring } });
    test('labels must be Kubernetes labels', () => {
      expect(on({ labels: { 'bad key': 'x' } })).toThrow(/monitoring.labels must be Kubernetes labels/);
      expect(on({ labels: { release: 'has space' } })).toThrow(/monitoring.labels/);
    });
    test('the scrape interval must be a Prometheus duration', () => {
      expect(on({ scrapeInterval: '30' })).toThrow(/monitoring.scrapeInterval must be a Prometheus duration/);
    });
    test('the lag threshold must be positive', () => {
      expect(on({ replicationLagBytes: 0 })).toThrow(/monitoring.replicationLagBytes must be an integer from 1/);
    });
    test('PROMETHEUS_LABELS must be key=value pairs', () => {
      expect(settingsFromVariables({ PROMETHEUS_LABELS: 'release=prom, team=db' }).monitoring?.labels).toEqual({ release: 'prom', team: 'db' });
      expect(() => settingsFromVariables({ PROMETHEUS_LABELS: 'release' })).toThrow(/PROMETHEUS_LABELS must be key=value pairs separated by commas/);
    });
    test('PROMETHEUS_OPERATOR must be true or false', () => {
      expect(() => settingsFromVariables({ PROMETHEUS_OPERATOR: 'yes' })).toThrow(/PROMETHEUS_OPERATOR must be "true" or "false"/);
    });
  });
});
