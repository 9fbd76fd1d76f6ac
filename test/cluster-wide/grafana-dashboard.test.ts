/**
 * The Grafana dashboard: a ConfigMap for Grafana's sidecar only when monitoring is on, a dashboard
 * JSON Grafana accepts (schemaVersion, panels with gridPos, targets and a datasource, unique ids, no
 * overlapping panels), and queries that use only metric names verified in metric-names.json, read
 * with Prometheus' own PromQL grammar.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { DASHBOARD_SCHEMA_VERSION, PgHaSettings, settingsFromVariables } from '../../lib';
import { parsePromql } from '../support/promql';
import { synth } from '../support/synth';

const known: { metrics: Record<string, unknown> } = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'metric-names.json'), 'utf8'));

type Panel = Record<string, any>;
const dashboardOf = (settings: PgHaSettings) => {
  const s = synth(settings);
  const configMap = s.all('ConfigMap').find((c) => c.metadata.name === `${settings.scope ?? 'pg-ha'}-grafana-dashboard`);
  return { configMap, dashboard: configMap ? JSON.parse(Object.values<string>(configMap.data)[0]) : undefined };
};
const POOLER_ROW = 'Pooler (PgBouncer)';
const WITH_POOLER: PgHaSettings = { monitoring: { enabled: true }, pooler: { enabled: true, read: true } };
/** The dashboard without and with the pooler: every structural and query check runs on both. */
const VARIANTS: Array<[string, PgHaSettings]> = [['monitoring on', { monitoring: { enabled: true } }], ['monitoring and POOLER on', WITH_POOLER]];
const expressions = (dashboard: { panels: Panel[] }) => dashboard.panels.flatMap((p) => (p.targets ?? []).map((t: Panel) => ({ panel: p.title, expr: t.expr as string })));

describe('the dashboard ConfigMap', () => {
  test('exists only when monitoring is on', () => {
    expect(dashboardOf({}).configMap).toBeUndefined();
    expect(dashboardOf({ monitoring: { enabled: true } }).configMap).toBeDefined();
    expect(dashboardOf({ monitoring: { enabled: true, grafanaDashboard: false } }).configMap).toBeUndefined();
  });

  test('carries the sidecar\'s label (kube-prometheus-stack: grafana_dashboard: "1"), or the labels given instead', () => {
    expect(dashboardOf({ monitoring: { enabled: true } }).configMap!.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    const custom = dashboardOf(settingsFromVariables({ PROMETHEUS_OPERATOR: 'true', GRAFANA_DASHBOARD_LABELS: 'dashboards=postgres' })).configMap!.metadata.labels;
    expect(custom).toMatchObject({ dashboards: 'postgres' });
    expect(custom).not.toHaveProperty('grafana_dashboard');
  });

  test('bad labels and labels without a dashboard are refused, naming the setting', () => {
    expect(() => dashboardOf({ monitoring: { enabled: true, grafanaDashboardLabels: { 'bad key': '1' } } })).toThrow(/^monitoring.grafanaDashboardLabels must be a label key/);
    expect(() => dashboardOf({ monitoring: { enabled: true, grafanaDashboard: false, grafanaDashboardLabels: { a: 'b' } } }))
      .toThrow(/^monitoring.grafanaDashboardLabels must be unset while monitoring.grafanaDashboard is false \(GRAFANA_DASHBOARD=false\)/);
    expect(() => dashboardOf({ monitoring: { grafanaDashboard: true } })).toThrow(/^monitoring.grafanaDashboard must be unset while monitoring.enabled is false/);
  });

  test('has the pooler row only with POOLER=true (without a pooler there is nothing to scrape: the row would be empty)', () => {
    const rowTitles = (settings: PgHaSettings) => dashboardOf(settings).dashboard.panels.filter((p: Panel) => p.type === 'row').map((p: Panel) => p.title);
    expect(rowTitles({ monitoring: { enabled: true } })).not.toContain(POOLER_ROW);
    expect(rowTitles(WITH_POOLER)).toEqual(expect.arrayContaining([POOLER_ROW]));
    expect(rowTitles(WITH_POOLER).at(-1)).toBe(POOLER_ROW);
    expect(rowTitles(settingsFromVariables({ PROMETHEUS_OPERATOR: 'true', POOLER: 'true' }))).toContain(POOLER_ROW);
  });

  test('two clusters get two dashboards (uid and title from namespace and scope)', () => {
    const a = dashboardOf({ monitoring: { enabled: true } }).dashboard;
    const b = dashboardOf({ scope: 'orders', monitoring: { enabled: true } }).dashboard;
    expect(a.uid).not.toBe(b.uid);
    expect(b.title).toBe('PostgreSQL HA pg-ha/orders');
  });
});

describe.each(VARIANTS)('the dashboard JSON (%s)', (_variant, settings) => {
  const { dashboard } = dashboardOf(settings);
  const panels: Panel[] = dashboard.panels;

  test('has Grafana\'s top-level structure: uid, title, schemaVersion, a Prometheus datasource variable', () => {
    expect(dashboard.schemaVersion).toBe(DASHBOARD_SCHEMA_VERSION);
    expect(dashboard.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
    expect(typeof dashboard.title).toBe('string');
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
  });

  test('every panel has a unique id, a type, a title and a gridPos inside the 24-column grid', () => {
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) {
      expect([p.title, Number.isInteger(p.id), typeof p.type]).toEqual([p.title, true, 'string']);
      const { x, y, w, h } = p.gridPos;
      expect([p.title, [x, y, w, h].every(Number.isInteger), x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 24]).toEqual([p.title, true, true]);
    }
  });

  test('no two panels overlap', () => {
    const overlaps: string[] = [];
    panels.forEach((a, i) => panels.slice(i + 1).forEach((b) => {
      const [p, q] = [a.gridPos, b.gridPos];
      if (p.x < q.x + q.w && q.x < p.x + p.w && p.y < q.y + q.h && q.y < p.y + p.h) overlaps.push(`${a.title} / ${b.title}`);
    }));
    expect(overlaps).toEqual([]);
  });

  test('every data panel queries Prometheus through the datasource variable, with unique refIds', () => {
    const dataPanels = panels.filter((p) => p.type !== 'row');
    expect(dataPanels.length).toBeGreaterThanOrEqual(15);
    for (const p of dataPanels) {
      expect([p.title, p.datasource]).toEqual([p.title, { type: 'prometheus', uid: '${datasource}' }]);
      expect(p.targets.length).toBeGreaterThan(0);
      expect(new Set(p.targets.map((t: Panel) => t.refId)).size).toBe(p.targets.length);
      for (const t of p.targets) expect([p.title, t.datasource, typeof t.expr]).toEqual([p.title, p.datasource, 'string']);
    }
    for (const row of panels.filter((p) => p.type === 'row')) expect(row.targets).toBeUndefined();
  });

  test('shows what the issue asks for', () => {
    expect(panels.map((p) => p.title)).toEqual(expect.arrayContaining([
      'Leader', 'Members running', 'Synchronous standby', 'Time since last failover', 'Replication lag per replica', 'Transactions per second',
      'Connections and max_connections', 'Healthy backends', 'Sessions', 'Members up and with a leader', 'Leader changes', 'Database size',
    ]));
    const pooler = ['Clients waiting for a server', 'Server connections and pool size', 'Client connections and max_client_conn', 'Client wait time'];
    if (settings.pooler?.enabled) {
      // The pooler's panels sit in its row: after the row header, before any other.
      const row = panels.findIndex((p) => p.title === POOLER_ROW);
      expect(panels.slice(row + 1).map((p) => p.title)).toEqual(pooler);
    } else {
      expect(panels.map((p) => p.title).filter((t) => pooler.includes(t))).toEqual([]);
    }
  });
});

describe.each(VARIANTS)('the dashboard\'s queries (%s)', (_variant, settings) => {
  const { dashboard } = dashboardOf(settings);
  const exprs = expressions(dashboard);

  test.each(exprs.map((e) => [e.panel, e.expr]))('%s: parses, and names only verified metrics', (_, expr) => {
    const parsed = parsePromql(expr);
    expect(parsed.errors).toEqual([]);
    expect(parsed.nameMatchers).toEqual([]);
    expect(parsed.metricNames.length).toBeGreaterThan(0);
    expect(parsed.metricNames.filter((name) => !known.metrics[name])).toEqual([]);
  });

  test('every query is scoped to this cluster', () => {
    for (const { expr } of exprs) expect(expr).toMatch(/namespace="pg-ha"/);
  });
});

describe('the PromQL reader the checks rely on', () => {
  test('takes metric names from selectors only, not labels, grouping, functions or strings', () => {
    expect(parsePromql('sum by (pod) (rate(a_total{job="b_total",x!~"c"}[$__rate_interval])) / on (pod) group_left max(d) and time() > 0').metricNames)
      .toEqual(['a_total', 'd']);
    expect(parsePromql('max_over_time((timestamp(changes(max(tl{a="b"})[5m:1m]) > 0))[30d:5m]) - e offset 1h').metricNames).toEqual(['tl', 'e']);
  });

  test('reports a syntax error and a __name__ matcher', () => {
    expect(parsePromql('sum(rate(x[5m])').errors).not.toEqual([]);
    expect(parsePromql('sum by pod (x)').errors).not.toEqual([]);
    expect(parsePromql('{__name__="x"}').nameMatchers).not.toEqual([]);
  });

  test('an unverified metric name would fail the check', () => {
    expect(parsePromql('pg_stat_activity_count{namespace="pg-ha"}').metricNames.filter((n) => !known.metrics[n])).toEqual(['pg_stat_activity_count']);
  });
});
