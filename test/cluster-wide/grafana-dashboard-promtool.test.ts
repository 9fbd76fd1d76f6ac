/**
 * The dashboard's queries evaluated by Prometheus' own engine (`promtool test rules`, promql_expr_test)
 * on synthetic series shaped like the real ones: a 3-member cluster whose leader pg-ha-0 dies at
 * minute 31 and pg-ha-1 takes over, with PgBouncer poolers (POOLER=true, a read pooler too) whose
 * series carry the labels the real exporter gives them (captured from Debian 13's exporter scraping
 * the chart's pgbouncer.ini: database/user per pool, the admin console's own "pgbouncer" pool). Each
 * panel must show what it claims at minute 60. Needs
 * `promtool` (see test/support/promtool.ts); skipped, saying so, without it.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { stringify } from 'yaml';
import { findPromtool } from '../support/promtool';
import { synth } from '../support/synth';

const promtool = findPromtool('grafana-dashboard-promtool.test.ts');
const available = promtool !== undefined;

const NS = 'namespace="pg-ha"';
const patroni = (pod: string) => `{${NS},scope="pg-ha",pod="${pod}",job="pg-ha/pg-ha-postgres",endpoint="patroni"}`;
const exporter = (pod: string, extra = '') => `{${NS},pod="${pod}",job="pg-ha/pg-ha-postgres",endpoint="metrics"${extra}}`;
const etcd = (pod: string) => `{${NS},pod="${pod}",job="pg-ha/pg-ha-etcd",endpoint="metrics"}`;
const router = (pod: string, proxy: string) => `{${NS},pod="${pod}",job="pg-ha/pg-ha-router",endpoint="metrics",proxy="${proxy}"}`;
const pooler = (pod: string, extra = '') => `{${NS},pod="${pod}",job="pg-ha/pg-ha-pooler",endpoint="metrics"${extra}}`;
const pool = (database: string, user: string) => `,database="${database}",user="${user}"`;
const MEMBERS = ['pg-ha-0', 'pg-ha-1', 'pg-ha-2'];
const POOLERS = ['pg-ha-pooler-a', 'pg-ha-pooler-b', 'pg-ha-pooler-ro-a'];

/** 61 samples a minute apart: `before` up to minute 30, `after` from minute 31 (the failover). */
const split = (before: string, after: string) => `${before}x30 ${after}x29`;

function series(): Array<{ series: string; values: string }> {
  const s: Record<string, string> = {
    [`patroni_primary${patroni('pg-ha-0')}`]: split('1', '0'),
    [`patroni_primary${patroni('pg-ha-1')}`]: split('0', '1'),
    [`patroni_primary${patroni('pg-ha-2')}`]: '0x60',
    [`patroni_replica${patroni('pg-ha-0')}`]: '0x60',
    [`patroni_replica${patroni('pg-ha-1')}`]: split('1', '0'),
    [`patroni_replica${patroni('pg-ha-2')}`]: '1x60',
    [`patroni_sync_standby${patroni('pg-ha-0')}`]: '0x60',
    [`patroni_sync_standby${patroni('pg-ha-1')}`]: split('1', '0'),
    [`patroni_sync_standby${patroni('pg-ha-2')}`]: split('0', '1'),
    // The old leader is gone: not running, timeline 0 ("0 otherwise").
    [`patroni_postgres_running${patroni('pg-ha-0')}`]: split('1', '0'),
    [`patroni_postgres_timeline${patroni('pg-ha-0')}`]: split('1', '0'),
    [`patroni_postgres_running${patroni('pg-ha-1')}`]: '1x60',
    [`patroni_postgres_timeline${patroni('pg-ha-1')}`]: split('1', '2'),
    [`patroni_postgres_running${patroni('pg-ha-2')}`]: '1x60',
    [`patroni_postgres_timeline${patroni('pg-ha-2')}`]: split('1', '2'),
    // WAL: the new leader is at 5 030 000 at minute 60, pg-ha-2 has replayed 4 030 000.
    [`patroni_xlog_location${patroni('pg-ha-0')}`]: split('1000000', '0'),
    [`patroni_xlog_location${patroni('pg-ha-1')}`]: '0x30 5001000+1000x29',
    [`patroni_xlog_location${patroni('pg-ha-2')}`]: '0x60',
    [`patroni_xlog_replayed_location${patroni('pg-ha-0')}`]: '0x60',
    [`patroni_xlog_replayed_location${patroni('pg-ha-1')}`]: split('1000000', '0'),
    [`patroni_xlog_replayed_location${patroni('pg-ha-2')}`]: '1000000x30 4001000+1000x29',
    // 60 commits a minute on the leader; 10 connections per member to "app"; max_connections 100.
    [`pg_stat_database_xact_commit${exporter('pg-ha-1', ',datname="app"')}`]: '0+60x60',
    [`pg_stat_database_xact_rollback${exporter('pg-ha-1', ',datname="app"')}`]: '0x60',
    [`pg_database_size_bytes${exporter('pg-ha-1', ',datname="app"')}`]: '1000000000x60',
    [`pg_database_size_bytes${exporter('pg-ha-1', ',datname="template1"')}`]: '8000000x60',
    [`haproxy_backend_active_servers${router('pg-ha-router-a', 'primary')}`]: '1x60',
    [`haproxy_backend_active_servers${router('pg-ha-router-b', 'primary')}`]: '1x60',
    [`haproxy_backend_active_servers${router('pg-ha-router-a', 'replicas')}`]: '1x60',
    [`haproxy_backend_active_servers${router('pg-ha-router-b', 'replicas')}`]: '2x60',
    [`haproxy_backend_current_sessions${router('pg-ha-router-a', 'primary')}`]: '5x60',
    [`haproxy_backend_current_sessions${router('pg-ha-router-b', 'primary')}`]: '7x60',
    [`haproxy_backend_current_sessions${router('pg-ha-router-a', 'replicas')}`]: '2x60',
    [`haproxy_backend_current_sessions${router('pg-ha-router-b', 'replicas')}`]: '0x60',
  };
  for (const pod of MEMBERS) {
    s[`pg_stat_database_numbackends${exporter(pod, ',datname="app"')}`] = '10x60';
    s[`pg_settings_max_connections${exporter(pod)}`] = '100x60';
  }
  ['pg-ha-etcd-0', 'pg-ha-etcd-1', 'pg-ha-etcd-2'].forEach((pod, i) => {
    s[`up${etcd(pod)}`] = '1x60';
    s[`etcd_server_has_leader${etcd(pod)}`] = i === 2 ? split('1', '0') : '1x60';
    s[`etcd_server_leader_changes_seen_total${etcd(pod)}`] = split('1', '2');
    s[`etcd_mvcc_db_total_size_in_bytes${etcd(pod)}`] = '1000000x60';
    s[`etcd_server_quota_backend_bytes${etcd(pod)}`] = '2000000000x60';
  });
  // Poolers: pg-ha-pooler-a is busy (18 of 20 server connections of the app pool in use, 3 clients
  // queueing, the oldest for 2 s), pg-ha-pooler-b and the read pooler are quiet. Every pod also has
  // the admin console's pool (the exporter's own connection: 1 active client, no server connections)
  // and the auth_query lookup pool (database postgres, role pooler).
  const busy = POOLERS[0];
  for (const pod of POOLERS) {
    const app = pool('app', 'app');
    s[`pgbouncer_pools_client_waiting_connections${pooler(pod, app)}`] = pod === busy ? '3x60' : '0x60';
    s[`pgbouncer_pools_server_active_connections${pooler(pod, app)}`] = pod === busy ? '18x60' : '4x60';
    s[`pgbouncer_pools_server_idle_connections${pooler(pod, app)}`] = pod === busy ? '0x60' : '6x60';
    s[`pgbouncer_pools_client_maxwait_seconds${pooler(pod, app)}`] = pod === busy ? '2x60' : '0x60';
    s[`pgbouncer_pools_server_active_connections${pooler(pod, pool('postgres', 'pooler'))}`] = '0x60';
    s[`pgbouncer_pools_server_idle_connections${pooler(pod, pool('postgres', 'pooler'))}`] = '1x60';
    for (const [metric, value] of [['client_waiting_connections', 0], ['server_active_connections', 0], ['server_idle_connections', 0], ['client_maxwait_seconds', 0]]) {
      s[`pgbouncer_pools_${metric}${pooler(pod, pool('pgbouncer', 'pgbouncer'))}`] = `${value}x60`;
    }
    s[`pgbouncer_databases_pool_size${pooler(pod, ',name="app",database="app",force_user="",pool_mode=""')}`] = '20x60';
    s[`pgbouncer_databases_pool_size${pooler(pod, ',name="pgbouncer",database="pgbouncer",force_user="pgbouncer",pool_mode="statement"')}`] = '2x60';
    s[`pgbouncer_used_clients${pooler(pod)}`] = pod === busy ? '41x60' : '12x60';
    s[`pgbouncer_config_max_client_connections${pooler(pod)}`] = '1000x60';
    // Waiting: 30 s of client wait a minute over 60 server assignments a minute on the busy pod: 0.5 s each.
    s[`pgbouncer_stats_client_wait_seconds_total${pooler(pod, ',database="app"')}`] = pod === busy ? '0+30x60' : '0x60';
    s[`pgbouncer_stats_server_assignments_total${pooler(pod, ',database="app"')}`] = '0+60x60';
    s[`pgbouncer_stats_client_wait_seconds_total${pooler(pod, ',database="pgbouncer"')}`] = '0x60';
  }
  return Object.entries(s).map(([name, values]) => ({ series: name, values }));
}

const member = (pod: string) => `{${NS},scope="pg-ha",pod="${pod}",job="pg-ha/pg-ha-postgres",endpoint="patroni"}`;
const etcdPod = (pod: string) => `{${NS},pod="${pod}",job="pg-ha/pg-ha-etcd",endpoint="metrics"}`;

/** What each panel's queries must return at minute 60 (refId order), as promtool's exp_samples. */
const EXPECTED: Record<string, Array<Array<{ labels?: string; value: number }>>> = {
  'Leader': [[{ labels: `patroni_primary${member('pg-ha-1')}`, value: 1 }]],
  'Members running': [[{ value: 2 }]],
  'Synchronous standby': [[{ labels: `patroni_sync_standby${member('pg-ha-2')}`, value: 1 }]],
  // The timeline changed at minute 31; the 5-minute step that first sees it is minute 35: 25 minutes ago.
  'Time since last failover': [[{ value: 1500 }]],
  'Timeline': [[{ value: 2 }]],
  'etcd members with a leader': [[{ value: 2 }]],
  'Replication lag per replica': [[{ labels: `{${NS},scope="pg-ha",pod="pg-ha-2",job="pg-ha/pg-ha-postgres",endpoint="patroni"}`, value: 1000000 }]],
  'Leader changes': [[{ value: 1 }], [{ value: 1 }]],
  'Transactions per second': [[{ labels: '{pod="pg-ha-1"}', value: 1 }], [{ labels: '{pod="pg-ha-1"}', value: 0 }]],
  'Connections and max_connections': [MEMBERS.map((pod) => ({ labels: `{pod="${pod}"}`, value: 10 })), [{ value: 100 }]],
  'Database size': [[{ labels: '{datname="app"}', value: 1000000000 }]],
  'Healthy backends': [[{ labels: '{proxy="primary"}', value: 1 }, { labels: '{proxy="replicas"}', value: 1 }]],
  'Sessions': [[{ labels: '{proxy="primary"}', value: 12 }, { labels: '{proxy="replicas"}', value: 2 }]],
  'Members up and with a leader': [[{ value: 3 }], [{ value: 2 }]],
  'Database size of its quota': [['pg-ha-etcd-0', 'pg-ha-etcd-1', 'pg-ha-etcd-2'].map((pod) => ({ labels: etcdPod(pod), value: 0.0005 }))],
  // The admin console's "pgbouncer" pool never shows; the auth_query lookup pool (postgres) does.
  'Clients waiting for a server': [POOLERS.map((pod) => ({ labels: `{pod="${pod}",database="app"}`, value: pod === POOLERS[0] ? 3 : 0 }))],
  'Server connections and pool size': [
    POOLERS.flatMap((pod) => [{ labels: `{pod="${pod}",database="app"}`, value: pod === POOLERS[0] ? 18 : 4 }, { labels: `{pod="${pod}",database="postgres"}`, value: 0 }]),
    POOLERS.flatMap((pod) => [{ labels: `{pod="${pod}",database="app"}`, value: pod === POOLERS[0] ? 0 : 6 }, { labels: `{pod="${pod}",database="postgres"}`, value: 1 }]),
    [{ value: 20 }],
  ],
  'Client connections and max_client_conn': [POOLERS.map((pod) => ({ labels: `{pod="${pod}"}`, value: pod === POOLERS[0] ? 41 : 12 })), [{ value: 1000 }]],
  'Client wait time': [
    POOLERS.map((pod) => ({ labels: `{pod="${pod}"}`, value: pod === POOLERS[0] ? 0.5 : 0 })),
    POOLERS.map((pod) => ({ labels: `{pod="${pod}"}`, value: pod === POOLERS[0] ? 2 : 0 })),
  ],
};

(available ? describe : describe.skip)('the dashboard\'s queries under promtool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-ha-dashboard-'));
  const configMap = synth({ monitoring: { enabled: true }, pooler: { enabled: true, read: true } }).get('ConfigMap', 'pg-ha-grafana-dashboard');
  const panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }> }> = JSON.parse(Object.values<string>(configMap.data)[0]).panels;
  // Grafana's $__rate_interval is at least four scrape intervals: 5m for these 1-minute samples.
  const queries = (title: string) => panels.find((p) => p.title === title)!.targets!.map((t) => t.expr.replace(/\$__rate_interval/g, '5m'));

  test('every data panel has an expectation here', () => {
    expect(panels.filter((p) => p.type !== 'row').map((p) => p.title).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  test.each(Object.entries(EXPECTED))('%s', (title, expected) => {
    const tests = [{
      interval: '1m',
      input_series: series(),
      promql_expr_test: queries(title).map((expr, i) => ({ expr, eval_time: '60m', exp_samples: expected[i] })),
    }];
    writeFileSync(join(dir, 'test.yaml'), stringify({ rule_files: [], evaluation_interval: '1m', tests }));
    const result = spawnSync(promtool!, ['test', 'rules', 'test.yaml'], { cwd: dir, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
  });

  test('without a failover in 30 days the panel shows nothing (its "none in 30 days" text), not a wrong age', () => {
    const [expr] = queries('Time since last failover');
    const steady = [{ series: `patroni_postgres_timeline${patroni('pg-ha-1')}`, values: '3x60' }];
    writeFileSync(join(dir, 'test.yaml'), stringify({ rule_files: [], evaluation_interval: '1m', tests: [{ interval: '1m', input_series: steady, promql_expr_test: [{ expr, eval_time: '60m', exp_samples: [] }] }] }));
    const result = spawnSync(promtool!, ['test', 'rules', 'test.yaml'], { cwd: dir, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
  });
});
