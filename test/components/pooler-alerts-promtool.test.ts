/**
 * The pooler's alerts under Prometheus' own rule engine (`promtool test rules`), on series shaped
 * like the exporter's real ones (labels as in test/fixtures/observed-metrics/pgbouncer-exporter-*.txt:
 * pools by database and user, databases by name, host, port, database, force_user, pool_mode):
 * each alert fires in the failure it is for, including the join of active server connections with
 * the pool size, and a healthy pooler fires nothing. Skipped without promtool (see support/promtool).
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { stringify } from 'yaml';
import { findPromtool } from '../support/promtool';
import { synth } from '../support/synth';

const promtool = findPromtool('pooler-alerts-promtool.test.ts');

const target = (pod: string) => `namespace="pg-ha",pod="${pod}",job="pg-ha/pg-ha-pooler",endpoint="metrics"`;
const pools = (pod: string, database: string, user: string) => `{${target(pod)},database="${database}",user="${user}"}`;
const databases = (pod: string, database: string) => `{${target(pod)},name="${database}",host="pg-ha-rw.pg-ha.svc.cluster.local",port="5432",database="${database}",force_user="",pool_mode=""}`;
const PODS = ['pg-ha-pooler-a', 'pg-ha-pooler-b'];
const POOLER_ALERTS = ['PoolerClientsWaiting', 'PoolerPoolSaturated', 'PoolerCannotReachPgBouncer', 'PoolerMetricsDown'];

/** Two pooler pods, each with the app pool 5 of 20 busy and nobody waiting. */
function healthy(overrides: Record<string, string> = {}): Array<{ series: string; values: string }> {
  const base: Record<string, string> = {};
  for (const pod of PODS) {
    base[`up{${target(pod)}}`] = '1x30';
    base[`pgbouncer_up{${target(pod)}}`] = '1x30';
    base[`pgbouncer_pools_client_waiting_connections${pools(pod, 'app', 'app')}`] = '0x30';
    base[`pgbouncer_pools_server_active_connections${pools(pod, 'app', 'app')}`] = '5x30';
    base[`pgbouncer_databases_pool_size${databases(pod, 'app')}`] = '20x30';
    // The lookup role's own pool in "postgres": idle.
    base[`pgbouncer_pools_client_waiting_connections${pools(pod, 'postgres', 'pooler')}`] = '0x30';
    base[`pgbouncer_pools_server_active_connections${pools(pod, 'postgres', 'pooler')}`] = '0x30';
    base[`pgbouncer_databases_pool_size${databases(pod, 'postgres')}`] = '20x30';
  }
  return Object.entries({ ...base, ...overrides }).map(([series, values]) => ({ series, values }));
}

const onPod = (pod: string, extra: Record<string, string> = {}) => ({ namespace: 'pg-ha', pod, ...extra });

/** [name, series overrides, the alert that must fire, its labels (besides severity)]. */
const SCENARIOS: Array<[string, Record<string, string>, string, Record<string, string>]> = [
  ['clients queue for the app pool on one pod', { [`pgbouncer_pools_client_waiting_connections${pools('pg-ha-pooler-a', 'app', 'app')}`]: '3x30' },
    'PoolerClientsWaiting', onPod('pg-ha-pooler-a', { database: 'app' })],
  ['every server connection of the app pool is busy', { [`pgbouncer_pools_server_active_connections${pools('pg-ha-pooler-b', 'app', 'app')}`]: '19x30' },
    'PoolerPoolSaturated', onPod('pg-ha-pooler-b', { database: 'app' })],
  ['the exporter cannot query PgBouncer', { [`pgbouncer_up{${target('pg-ha-pooler-a')}}`]: '0x30' },
    'PoolerCannotReachPgBouncer', { ...onPod('pg-ha-pooler-a'), job: 'pg-ha/pg-ha-pooler', endpoint: 'metrics' }],
  ['a pooler pod cannot be scraped', { [`up{${target('pg-ha-pooler-b')}}`]: '0x30' },
    'PoolerMetricsDown', { ...onPod('pg-ha-pooler-b'), job: 'pg-ha/pg-ha-pooler', endpoint: 'metrics' }],
];

(promtool ? describe : describe.skip)('pooler alerts under promtool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-ha-pooler-promtool-'));
  const [rule] = synth({ monitoring: { enabled: true }, pooler: { enabled: true } }).all('PrometheusRule');
  const poolerGroup = rule.spec.groups.find((g: any) => g.name === 'pg-ha.pooler');
  // promtool compares annotations exactly; the templates are not what is under test here.
  const rules = poolerGroup.rules.map(({ annotations: _, ...r }: any) => r);
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: [{ name: poolerGroup.name, rules }] }));
  const severity = Object.fromEntries(rules.map((r: any) => [r.alert, r.labels.severity]));
  const run = (tests: object[]) => {
    writeFileSync(join(dir, 'test.yaml'), stringify({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests }));
    const result = spawnSync(promtool!, ['test', 'rules', 'test.yaml'], { cwd: dir, encoding: 'utf8' });
    return result.stdout + result.stderr;
  };

  test('the pooler group holds the four pooler alerts', () => {
    expect(rules.map((r: any) => r.alert)).toEqual(POOLER_ALERTS);
  });

  test('a healthy pooler fires no alert', () => {
    expect(run([{ interval: '1m', input_series: healthy(), alert_rule_test: POOLER_ALERTS.map((alertname) => ({ eval_time: '20m', alertname, exp_alerts: [] })) }])).toMatch(/SUCCESS/);
  });

  test.each(SCENARIOS)('%s', (_, overrides, alertname, labels) => {
    expect(run([{
      interval: '1m',
      input_series: healthy(overrides),
      alert_rule_test: [{ eval_time: '20m', alertname, exp_alerts: [{ exp_labels: { severity: severity[alertname], ...labels } }] }],
    }])).toMatch(/SUCCESS/);
  });

  test('the check can fail: a saturated pool is not reported as waiting clients', () => {
    expect(run([{
      interval: '1m',
      input_series: healthy({ [`pgbouncer_pools_server_active_connections${pools('pg-ha-pooler-b', 'app', 'app')}`]: '19x30' }),
      alert_rule_test: [{ eval_time: '20m', alertname: 'PoolerClientsWaiting', exp_alerts: [{ exp_labels: { severity: 'warning', ...onPod('pg-ha-pooler-b', { database: 'app' }) } }] }],
    }])).toMatch(/FAILED/);
  });
});
