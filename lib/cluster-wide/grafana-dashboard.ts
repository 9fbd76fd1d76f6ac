/**
 * A Grafana dashboard of one cluster, as JSON for Grafana's dashboard sidecar (the
 * kube-prometheus-stack convention: a ConfigMap labelled `grafana_dashboard: "1"`). Built by a small
 * typed builder: panels are listed row by row below, the builder gives ids and grid positions.
 *
 * Every metric name in a query is listed in test/fixtures/metric-names.json (checked by
 * test/cluster-wide/grafana-dashboard.test.ts with Prometheus' own PromQL grammar).
 */

/** Grafana's dashboard JSON model version this builder writes (Grafana 10.4 / 11). */
export const DASHBOARD_SCHEMA_VERSION = 39;
/** Width of Grafana's grid. */
const GRID_WIDTH = 24;
/** Grafana's unit for a plain number. */
const PLAIN_NUMBER = 'none';
/** PgBouncer's admin console (the exporter's own connection): a pool without server connections. */
const PGBOUNCER_ADMIN_DATABASE = 'pgbouncer';
/** The panels' data source: the dashboard's `datasource` variable (any Prometheus). */
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

/** The label matchers (without braces) that select this cluster's series of each scrape job. */
export interface DashboardSelectors {
  /** Patroni's metrics (`namespace`, `scope`). */
  readonly patroni: string;
  /** postgres-exporter's metrics (the Postgres PodMonitor's job). */
  readonly exporter: string;
  readonly etcd: string;
  readonly router: string;
  /** The pgbouncer-exporter sidecars' metrics (the pooler PodMonitor's job); absent without a pooler (POOLER=false). */
  readonly pooler?: string;
}

export interface DashboardOptions {
  readonly uid: string;
  readonly title: string;
  readonly selectors: DashboardSelectors;
  /** PostgreSQL members and etcd members, for the stat panels' thresholds. */
  readonly members: number;
  readonly etcdMembers: number;
  /** HAProxy's proxy names (`listen primary`, `listen replicas`). */
  readonly routerProxies: { readonly write: string; readonly read: string };
}

interface Query {
  readonly expr: string;
  readonly legend?: string;
}

interface PanelSpec {
  readonly title: string;
  readonly type: 'stat' | 'timeseries';
  readonly width: number;
  readonly description?: string;
  readonly unit?: string;
  readonly queries: readonly Query[];
  /** For stat panels: show the series name (a pod) instead of the value. */
  readonly showName?: boolean;
  readonly noValue?: string;
  /** Red below this value, green from it (stat panels). */
  readonly healthyFrom?: number;
}

interface RowSpec {
  readonly title: string;
  readonly height: number;
  readonly panels: readonly PanelSpec[];
}

/** The rows of the dashboard, top to bottom. */
function rows(o: DashboardOptions): RowSpec[] {
  const { patroni: p, exporter: x, etcd: e, router: r } = o.selectors;
  const proxies = `proxy=~"${o.routerProxies.write}|${o.routerProxies.read}"`;
  const timeline = `max(patroni_postgres_timeline{${p}})`;
  return [
    {
      title: 'Cluster overview',
      height: 5,
      panels: [
        { title: 'Leader', type: 'stat', width: 4, showName: true, noValue: 'no leader', queries: [{ expr: `patroni_primary{${p}} == 1`, legend: '{{pod}}' }] },
        {
          title: 'Members running', type: 'stat', width: 4, healthyFrom: o.members,
          queries: [{ expr: `sum(patroni_postgres_running{${p}})` }],
        },
        {
          title: 'Synchronous standby', type: 'stat', width: 4, showName: true, noValue: 'none',
          description: 'The member that confirms every commit (synchronous_mode).',
          queries: [{ expr: `patroni_sync_standby{${p}} == 1`, legend: '{{pod}}' }],
        },
        {
          title: 'Time since last failover', type: 'stat', width: 4, unit: 's', noValue: 'none in 30 days',
          description: 'Since the timeline last changed (every failover or switchover starts a new one), looked up over 30 days in 5-minute steps.',
          queries: [{ expr: `time() - max(max_over_time((timestamp(changes(${timeline}[5m:1m]) > 0))[30d:5m]))` }],
        },
        {
          title: 'Timeline', type: 'stat', width: 4,
          description: 'PostgreSQL\'s timeline: one more after every failover or switchover since the cluster was created.',
          queries: [{ expr: timeline }],
        },
        {
          title: 'etcd members with a leader', type: 'stat', width: 4, healthyFrom: Math.floor(o.etcdMembers / 2) + 1,
          queries: [{ expr: `sum(etcd_server_has_leader{${e}})` }],
        },
      ],
    },
    {
      title: 'Replication',
      height: 8,
      panels: [
        {
          title: 'Replication lag per replica', type: 'timeseries', width: 12, unit: 'bytes',
          description: 'WAL the leader has written that the replica has not replayed yet.',
          queries: [{
            expr: `(max by (namespace, scope) (patroni_xlog_location{${p}}) - on (namespace, scope) group_right patroni_xlog_replayed_location{${p}})`
              + ` and on (pod) patroni_replica{${p}} == 1`,
            legend: '{{pod}}',
          }],
        },
        {
          title: 'Leader changes', type: 'timeseries', width: 12, unit: 'short',
          description: 'PostgreSQL: new timelines (failovers and switchovers) in the past hour. etcd: leader elections each member saw in the past hour.',
          queries: [
            { expr: `${timeline} - max(patroni_postgres_timeline{${p}} offset 1h)`, legend: 'PostgreSQL leader' },
            { expr: `max(increase(etcd_server_leader_changes_seen_total{${e}}[1h]))`, legend: 'etcd leader' },
          ],
        },
      ],
    },
    {
      title: 'PostgreSQL',
      height: 8,
      panels: [
        {
          title: 'Transactions per second', type: 'timeseries', width: 8, unit: 'ops',
          queries: [
            { expr: `sum by (pod) (rate(pg_stat_database_xact_commit{${x}}[$__rate_interval]))`, legend: '{{pod}} commits' },
            { expr: `sum by (pod) (rate(pg_stat_database_xact_rollback{${x}}[$__rate_interval]))`, legend: '{{pod}} rollbacks' },
          ],
        },
        {
          title: 'Connections and max_connections', type: 'timeseries', width: 8, unit: 'short',
          queries: [
            { expr: `sum by (pod) (pg_stat_database_numbackends{${x}})`, legend: '{{pod}}' },
            { expr: `max(pg_settings_max_connections{${x}})`, legend: 'max_connections' },
          ],
        },
        {
          title: 'Database size', type: 'timeseries', width: 8, unit: 'bytes',
          queries: [{ expr: `max by (datname) (pg_database_size_bytes{${x},datname!~"template0|template1"})`, legend: '{{datname}}' }],
        },
      ],
    },
    {
      title: 'Router (HAProxy)',
      height: 8,
      panels: [
        {
          title: 'Healthy backends', type: 'timeseries', width: 12, unit: 'short',
          description: `Servers passing Patroni's check, lowest over the router pods: "${o.routerProxies.write}" (writes) needs 1.`,
          queries: [{ expr: `min by (proxy) (haproxy_backend_active_servers{${r},${proxies}})`, legend: '{{proxy}}' }],
        },
        {
          title: 'Sessions', type: 'timeseries', width: 12, unit: 'short',
          queries: [{ expr: `sum by (proxy) (haproxy_backend_current_sessions{${r},${proxies}})`, legend: '{{proxy}}' }],
        },
      ],
    },
    {
      title: 'etcd',
      height: 8,
      panels: [
        {
          title: 'Members up and with a leader', type: 'timeseries', width: 12, unit: 'short',
          queries: [
            { expr: `sum(up{${e}})`, legend: 'up' },
            { expr: `sum(etcd_server_has_leader{${e}})`, legend: 'with a leader' },
          ],
        },
        {
          title: 'Database size of its quota', type: 'timeseries', width: 12, unit: 'percentunit',
          description: 'At the quota etcd refuses writes and Patroni can no longer hold the leader lock.',
          queries: [{ expr: `etcd_mvcc_db_total_size_in_bytes{${e}} / etcd_server_quota_backend_bytes{${e}}`, legend: '{{pod}}' }],
        },
      ],
    },
    ...(o.selectors.pooler === undefined ? [] : [poolerRow(o.selectors.pooler)]),
  ];
}

/**
 * The PgBouncer poolers (write and read Deployments, one pgbouncer-exporter per pod). Pools are per
 * pod, database and role; like the PoolerPoolSaturated alert, a pod's pool for a database is its
 * busiest role's. The admin console's database is left out of the pool panels.
 */
function poolerRow(pooler: string): RowSpec {
  const pools = `${pooler},database!="${PGBOUNCER_ADMIN_DATABASE}"`;
  const perPool = 'pod, database';
  return {
    title: 'Pooler (PgBouncer)',
    height: 8,
    panels: [
      {
        title: 'Clients waiting for a server', type: 'timeseries', width: 6, unit: 'short',
        description: 'Clients queued because every server connection of their pool is busy (the PoolerClientsWaiting alert fires after 2 minutes above 0).',
        queries: [{ expr: `sum by (${perPool}) (pgbouncer_pools_client_waiting_connections{${pools}})`, legend: '{{pod}} {{database}}' }],
      },
      {
        title: 'Server connections and pool size', type: 'timeseries', width: 6, unit: 'short',
        description: 'Server connections of each pod\'s pool, in use (linked to a client) and idle, against the pool size (POOLER_DEFAULT_POOL_SIZE): at the pool size new transactions wait.',
        queries: [
          { expr: `max by (${perPool}) (pgbouncer_pools_server_active_connections{${pools}})`, legend: '{{pod}} {{database}} active' },
          { expr: `max by (${perPool}) (pgbouncer_pools_server_idle_connections{${pools}})`, legend: '{{pod}} {{database}} idle' },
          { expr: `max(pgbouncer_databases_pool_size{${pools}})`, legend: 'pool size' },
        ],
      },
      {
        title: 'Client connections and max_client_conn', type: 'timeseries', width: 6, unit: 'short',
        description: 'Client connections each pod holds (what max_client_conn limits, POOLER_MAX_CLIENT_CONN: beyond it PgBouncer refuses new clients).',
        queries: [
          { expr: `max by (pod) (pgbouncer_used_clients{${pooler}})`, legend: '{{pod}}' },
          { expr: `max(pgbouncer_config_max_client_connections{${pooler}})`, legend: 'max_client_conn' },
        ],
      },
      {
        title: 'Client wait time', type: 'timeseries', width: 6, unit: 's',
        description: 'Average: time clients waited for a server connection per server assignment (PgBouncer\'s avg_wait_time). Longest: the oldest client waiting now (whole seconds).',
        queries: [
          {
            expr: `sum by (pod) (rate(pgbouncer_stats_client_wait_seconds_total{${pools}}[$__rate_interval]))`
              + ` / sum by (pod) (rate(pgbouncer_stats_server_assignments_total{${pools}}[$__rate_interval]))`,
            legend: '{{pod}} average',
          },
          { expr: `max by (pod) (pgbouncer_pools_client_maxwait_seconds{${pools}})`, legend: '{{pod}} longest' },
        ],
      },
    ],
  };
}

/** The dashboard JSON model. */
export function buildDashboard(options: DashboardOptions): Record<string, unknown> {
  const panels: Array<Record<string, unknown>> = [];
  let y = 0;
  for (const row of rows(options)) {
    panels.push({ id: panels.length + 1, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: GRID_WIDTH, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    for (const spec of row.panels) {
      if (x + spec.width > GRID_WIDTH) {
        x = 0;
        y += row.height;
      }
      panels.push(panel(panels.length + 1, spec, { h: row.height, w: spec.width, x, y }));
      x += spec.width;
    }
    y += row.height;
  }
  return {
    uid: options.uid,
    title: options.title,
    tags: ['postgresql', 'patroni', 'etcd', 'haproxy', ...(options.selectors.pooler === undefined ? [] : ['pgbouncer']), 'pg-ha-cdk8s'],
    schemaVersion: DASHBOARD_SCHEMA_VERSION,
    version: 1,
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    timezone: 'browser',
    annotations: { list: [] },
    templating: {
      list: [{ name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1 }],
    },
    panels,
  };
}

function panel(id: number, spec: PanelSpec, gridPos: { h: number; w: number; x: number; y: number }): Record<string, unknown> {
  const thresholds = spec.healthyFrom === undefined
    ? { mode: 'absolute', steps: [{ color: 'green', value: null }] }
    : { mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'green', value: spec.healthyFrom }] };
  const options = spec.type === 'stat'
    ? {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      textMode: spec.showName ? 'name' : 'value',
      colorMode: spec.healthyFrom === undefined ? 'none' : 'background',
      graphMode: 'none',
      justifyMode: 'center',
      orientation: 'auto',
    }
    : { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'none' } };
  return {
    id,
    type: spec.type,
    title: spec.title,
    ...(spec.description ? { description: spec.description } : {}),
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: {
      defaults: { unit: spec.unit ?? PLAIN_NUMBER, thresholds, ...(spec.noValue ? { noValue: spec.noValue } : {}) },
      overrides: [],
    },
    options,
    targets: spec.queries.map((query, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DATASOURCE,
      expr: query.expr,
      ...(query.legend ? { legendFormat: query.legend } : {}),
      ...(spec.type === 'stat' ? { instant: true, range: false } : {}),
    })),
  };
}
