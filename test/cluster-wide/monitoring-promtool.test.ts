/**
 * The alert rules evaluated by Prometheus' own rule engine (`promtool test rules`) on synthetic
 * series shaped like the real ones: each alert fires in the failure it is for, and a healthy cluster
 * fires nothing. Needs `promtool`: PROMTOOL=/path/to/promtool, else `promtool` on PATH, else the
 * e2e test bed's Debian 13 root (scripts/e2e-install.sh installs prometheus 2.53 there; its promtool
 * needs only libc and runs on the host); without any of them this file is skipped and says so.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { stringify } from 'yaml';
import { findPromtool } from '../support/promtool';
import { synth } from '../support/synth';

const promtool = findPromtool('monitoring-promtool.test.ts');
const available = promtool !== undefined;

const NS = 'namespace="pg-ha"';
const pg = (pod: string) => `{${NS},scope="pg-ha",pod="${pod}",job="pg-ha/pg-ha-postgres",endpoint="patroni"}`;
const exporter = (pod: string) => `{${NS},pod="${pod}",job="pg-ha/pg-ha-postgres",endpoint="metrics"}`;
const etcd = (pod: string) => `{${NS},pod="${pod}",job="pg-ha/pg-ha-etcd",endpoint="metrics"}`;
const router = (pod: string, proxy?: string) => `{${NS},pod="${pod}",job="pg-ha/pg-ha-router",endpoint="metrics"${proxy ? `,proxy="${proxy}"` : ''}}`;
const MEMBERS = ['pg-ha-0', 'pg-ha-1', 'pg-ha-2'];

/** A healthy cluster: pg-ha-0 leads, pg-ha-1 is the sync standby, pg-ha-2 async; all caught up. */
function healthy(overrides: Record<string, string> = {}): Array<{ series: string; values: string }> {
  const base: Record<string, string> = {};
  MEMBERS.forEach((m, i) => {
    base[`patroni_primary${pg(m)}`] = i === 0 ? '1x20' : '0x20';
    base[`patroni_replica${pg(m)}`] = i === 0 ? '0x20' : '1x20';
    base[`patroni_sync_standby${pg(m)}`] = i === 1 ? '1x20' : '0x20';
    base[`patroni_postgres_streaming${pg(m)}`] = i === 0 ? '0x20' : '1x20';
    base[`patroni_xlog_location${pg(m)}`] = i === 0 ? '1000000+1000x20' : '0x20';
    base[`patroni_xlog_replayed_location${pg(m)}`] = i === 0 ? '0x20' : '1000000+1000x20';
    base[`up${pg(m)}`] = '1x20';
    base[`up${exporter(m)}`] = '1x20';
    base[`pg_up${exporter(m)}`] = '1x20';
  });
  ['pg-ha-etcd-0', 'pg-ha-etcd-1', 'pg-ha-etcd-2'].forEach((m) => {
    base[`up${etcd(m)}`] = '1x20';
    base[`etcd_server_has_leader${etcd(m)}`] = '1x20';
    base[`etcd_mvcc_db_total_size_in_bytes${etcd(m)}`] = '1000000x20';
    base[`etcd_server_quota_backend_bytes${etcd(m)}`] = '2147483648x20';
  });
  ['pg-ha-router-a', 'pg-ha-router-b'].forEach((r) => {
    base[`up${router(r)}`] = '1x20';
    base[`haproxy_backend_active_servers${router(r, 'primary')}`] = '1x20';
    base[`haproxy_backend_active_servers${router(r, 'replicas')}`] = '2x20';
  });
  return Object.entries({ ...base, ...overrides }).map(([series, values]) => ({ series, values }));
}

const ALERTS = [
  'PostgresNoLeader', 'PostgresMultipleLeaders', 'PostgresReplicasBelowDesired', 'PostgresReplicaNotStreaming',
  'PostgresReplicationLagHigh', 'PostgresSyncStandbyMissing', 'PostgresExporterDown', 'PostgresExporterCannotConnect',
  'PatroniMetricsDown', 'EtcdNoLeader', 'EtcdMembersDown', 'EtcdDatabaseNearQuota', 'RouterWriteBackendDown',
  'RouterReadBackendDown', 'RouterMetricsDown',
];

/** [name, series overrides, the alert that must fire, its labels (besides severity)]. */
const SCENARIOS: Array<[string, Record<string, string>, string, Record<string, string>]> = [
  ['no member is primary', { [`patroni_primary${pg('pg-ha-0')}`]: '0x20' }, 'PostgresNoLeader', {}],
  ['two members are primary', { [`patroni_primary${pg('pg-ha-1')}`]: '1x20' }, 'PostgresMultipleLeaders', {}],
  ['a replica left', { [`patroni_replica${pg('pg-ha-2')}`]: '0x20' }, 'PostgresReplicasBelowDesired', {}],
  ['a replica stopped streaming', { [`patroni_postgres_streaming${pg('pg-ha-2')}`]: '0x20' }, 'PostgresReplicaNotStreaming',
    { namespace: 'pg-ha', scope: 'pg-ha', pod: 'pg-ha-2', job: 'pg-ha/pg-ha-postgres', endpoint: 'patroni' }],
  ['a replica is 29 MB behind', {
    [`patroni_xlog_location${pg('pg-ha-0')}`]: '30000000+1000x20',
    [`patroni_xlog_replayed_location${pg('pg-ha-1')}`]: '30000000+1000x20',
  }, 'PostgresReplicationLagHigh',
    { namespace: 'pg-ha', scope: 'pg-ha', pod: 'pg-ha-2', job: 'pg-ha/pg-ha-postgres', endpoint: 'patroni' }],
  ['no sync standby', { [`patroni_sync_standby${pg('pg-ha-1')}`]: '0x20' }, 'PostgresSyncStandbyMissing', {}],
  ['etcd lost its leader', { [`etcd_server_has_leader${etcd('pg-ha-etcd-1')}`]: '0x20' }, 'EtcdNoLeader',
    { namespace: 'pg-ha', pod: 'pg-ha-etcd-1', job: 'pg-ha/pg-ha-etcd', endpoint: 'metrics' }],
  ['an etcd member is down', { [`up${etcd('pg-ha-etcd-2')}`]: '0x20' }, 'EtcdMembersDown', {}],
  ['the router has no leader', { [`haproxy_backend_active_servers${router('pg-ha-router-a', 'primary')}`]: '0x20' }, 'RouterWriteBackendDown',
    { namespace: 'pg-ha', pod: 'pg-ha-router-a', job: 'pg-ha/pg-ha-router', endpoint: 'metrics', proxy: 'primary' }],
  ['an exporter cannot log in', { [`pg_up${exporter('pg-ha-1')}`]: '0x20' }, 'PostgresExporterCannotConnect',
    { namespace: 'pg-ha', pod: 'pg-ha-1', job: 'pg-ha/pg-ha-postgres', endpoint: 'metrics' }],
];

(available ? describe : describe.skip)('alert rules under promtool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-ha-promtool-'));
  const [rule] = synth({ monitoring: { enabled: true } }).all('PrometheusRule');
  // promtool compares annotations exactly; the templates are not what is under test here.
  const groups = rule.spec.groups.map((g: any) => ({ ...g, rules: g.rules.map(({ annotations: _, ...r }: any) => r) }));
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }));
  const severity = Object.fromEntries(rule.spec.groups.flatMap((g: any) => g.rules.map((r: any) => [r.alert, r.labels.severity])));

  const run = (tests: object[]) => {
    writeFileSync(join(dir, 'test.yaml'), stringify({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests }));
    return spawnSync(promtool!, ['test', 'rules', 'test.yaml'], { cwd: dir, encoding: 'utf8' });
  };

  test('the rule file is valid PromQL', () => {
    const result = spawnSync(promtool!, ['check', 'rules', 'rules.yaml'], { cwd: dir, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toMatch(/SUCCESS: 15 rules found/);
  });

  test('a healthy cluster fires no alert', () => {
    const result = run([{ interval: '1m', input_series: healthy(), alert_rule_test: ALERTS.map((alertname) => ({ eval_time: '15m', alertname, exp_alerts: [] })) }]);
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
  });

  test.each(SCENARIOS)('%s', (_, overrides, alertname, labels) => {
    const result = run([{
      interval: '1m',
      input_series: healthy(overrides),
      alert_rule_test: [{ eval_time: '15m', alertname, exp_alerts: [{ exp_labels: { severity: severity[alertname], ...labels } }] }],
    }]);
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
  });
});
