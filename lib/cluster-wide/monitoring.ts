/**
 * Optional Prometheus Operator objects: PodMonitors for every exporter and a PrometheusRule with
 * the alerts a DBA expects. Typed from the vendored CRDs in imports/.
 *
 * Every metric name used in an expression is listed in test/fixtures/metric-names.json with the
 * program, version and how the name was checked (real /metrics output or upstream source).
 */
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { PodMonitor } from '../../imports/podmonitor-monitoring.coreos.com';
import { PrometheusRule, PrometheusRuleSpecGroupsRules, PrometheusRuleSpecGroupsRulesExpr } from '../../imports/prometheusrule-monitoring.coreos.com';
import { EtcdCluster } from '../components/etcd/etcd-cluster';
import { standardLabels } from '../k8s/labels';
import { PgRouter } from '../components/router/pg-router';
import { PgPooler } from '../components/pooler/pg-pooler';
import { PostgresCluster } from '../components/postgres/postgres-cluster';
import { DEFAULTS } from '../settings/defaults';
import { MonitoringSettings } from '../settings/feature-settings';
import { checkInt, checkLabel, checkPrometheusDuration, ConfigError, isLabel } from '../validation';
import { contentHash } from '../k8s/workload';
import { buildDashboard } from './grafana-dashboard';
import { ClusterContext } from '../settings/cluster-names';

/** Names of the HAProxy proxies in haproxy-config.ts (`listen primary`, `listen replicas`). */
export const ROUTER_PROXIES = { write: 'primary', read: 'replicas' } as const;

export interface MonitoringProps extends MonitoringSettings {
  readonly cluster: ClusterContext;
  readonly etcd: EtcdCluster;
  readonly postgres: PostgresCluster;
  readonly router: PgRouter;
  /** The PgBouncer poolers, if any. */
  readonly poolers?: readonly PgPooler[];
  /** Whether Patroni runs in synchronous mode (the sync-standby alert exists only then). */
  readonly synchronousMode: boolean;
}

/** PodMonitors for postgres-exporter, Patroni, etcd and HAProxy, plus the alerting rules. */
export class Monitoring extends Construct {
  /** PodMonitor name per component, to find the `job` label (`<namespace>/<name>`). */
  public readonly podMonitors: { postgres: PodMonitor; etcd: PodMonitor; router: PodMonitor; pooler?: PodMonitor };
  public readonly rule: PrometheusRule;
  /** The Grafana dashboard ConfigMap, unless `grafanaDashboard` is false. */
  public readonly dashboard?: k8s.KubeConfigMap;
  /** Every alerting rule, for tests. */
  public readonly alerts: PrometheusRuleSpecGroupsRules[];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { cluster, etcd, postgres, router } = props;
    const extraLabels = props.labels ?? {};
    for (const [key, value] of Object.entries(extraLabels)) {
      if (!isLabel(key, value)) {
        throw new ConfigError('monitoring.labels', `${key}=${value}`, 'Kubernetes labels "key=value" (keys like "release" or "example.com/team", values of at most 63 letters, digits, "-", "_", ".")');
      }
    }
    const interval = checkPrometheusDuration('monitoring.scrapeInterval', props.scrapeInterval ?? DEFAULTS.monitoring.scrapeInterval);
    if (props.replicationLagBytes === undefined && router.replicaMaxLagBytes < 1) {
      // The alert's default is the router's bound: the error names the setting that holds the value.
      throw new ConfigError('router.replicaMaxLagBytes', router.replicaMaxLagBytes, 'at least 1 while monitoring is on (the replication-lag alert uses it), or set monitoring.replicationLagBytes');
    }
    const lagBytes = checkInt('monitoring.replicationLagBytes', props.replicationLagBytes ?? router.replicaMaxLagBytes, 1, Number.MAX_SAFE_INTEGER);

    const labels = { ...standardLabels({ instance: cluster.name, name: 'pg-ha-monitoring', component: 'monitoring' }), ...extraLabels };
    const podMonitor = (id: string, name: string, selector: Record<string, string>, ports: Array<{ port: string; path: string }>) =>
      new PodMonitor(this, id, {
        metadata: { name, labels },
        spec: {
          selector: { matchLabels: selector },
          // Keep the pod's component label on every series, for dashboards and routing.
          podTargetLabels: ['app.kubernetes.io/component'],
          podMetricsEndpoints: ports.map(({ port, path }) => ({ port, path, interval })),
        },
      });
    this.podMonitors = {
      // One PodMonitor for both programs of a Spilo pod: the exporter sidecar and Patroni's REST API.
      postgres: podMonitor('Postgres', `${cluster.name}-postgres`, postgres.selector, [
        { port: 'metrics', path: '/metrics' },
        { port: 'patroni', path: '/metrics' },
      ]),
      etcd: podMonitor('Etcd', `${cluster.name}-etcd`, etcd.selector, [{ port: 'metrics', path: '/metrics' }]),
      router: podMonitor('Router', `${cluster.name}-router`, router.selector, [{ port: 'metrics', path: '/metrics' }]),
    };
    const poolers = props.poolers ?? [];
    if (poolers.length > 0) {
      // One PodMonitor for the write and the read pooler: both run PgBouncer with the exporter sidecar.
      const poolerPods = { 'app.kubernetes.io/name': poolers[0].selector['app.kubernetes.io/name'], 'app.kubernetes.io/instance': cluster.name };
      this.podMonitors.pooler = podMonitor('Pooler', `${cluster.name}-pooler`, poolerPods, [{ port: 'metrics', path: '/metrics' }]);
    }

    const job = (monitor: PodMonitor) => `${cluster.namespace}/${monitor.name}`;
    const inNamespace = `namespace="${cluster.namespace}"`;
    const patroni = `{${inNamespace},scope="${postgres.scope}"}`;
    const postgresJob = `${inNamespace},job="${job(this.podMonitors.postgres)}"`;
    const etcdJob = `{${inNamespace},job="${job(this.podMonitors.etcd)}"}`;
    const routerJob = `${inNamespace},job="${job(this.podMonitors.router)}"`;
    const members = postgres.podNames.length;
    const etcdMembers = etcd.podFqdns.length;
    const who = `${cluster.namespace}/${cluster.name}`;

    const alert = (name: string, severity: 'critical' | 'warning', expr: string, forDuration: string, summary: string, description: string): PrometheusRuleSpecGroupsRules => ({
      alert: name,
      expr: PrometheusRuleSpecGroupsRulesExpr.fromString(expr),
      for: forDuration,
      labels: { severity },
      annotations: { summary, description },
    });

    const postgresAlerts = [
      alert('PostgresNoLeader', 'critical',
        `(sum(patroni_primary${patroni}) or vector(0)) < 1`, '1m',
        `No PostgreSQL leader in ${who}`,
        'No Patroni member reports itself primary: writes fail. Check etcd (Patroni needs it to take the leader lock) and `patronictl list`.'),
      alert('PostgresMultipleLeaders', 'critical',
        `sum(patroni_primary${patroni}) > 1`, '1m',
        `More than one PostgreSQL leader in ${who}`,
        '{{ $value }} members report themselves primary: split brain. Stop writes and check the DCS (etcd) before anything else.'),
      alert('PostgresReplicasBelowDesired', 'warning',
        `(count(patroni_replica${patroni} == 1) or vector(0)) < ${members - 1}`, '5m',
        `Fewer PostgreSQL replicas than desired in ${who}`,
        `{{ $value }} of ${members - 1} replicas are running as replicas.`),
      alert('PostgresReplicaNotStreaming', 'warning',
        `patroni_replica${patroni} == 1 and on (pod) patroni_postgres_streaming${patroni} == 0`, '5m',
        'PostgreSQL replica {{ $labels.pod }} is not streaming from the leader',
        'The replica is running but receives no WAL stream; it falls further behind until it reconnects.'),
      alert('PostgresReplicationLagHigh', 'warning',
        `(max by (namespace, scope) (patroni_xlog_location${patroni}) - on (namespace, scope) group_right patroni_xlog_replayed_location${patroni}) > ${lagBytes}`
          + ` and on (pod) patroni_replica${patroni} == 1`, '5m',
        'PostgreSQL replica {{ $labels.pod }} is {{ $value | humanize1024 }}B behind the leader',
        `Above ${lagBytes} bytes the router stops sending it reads, and Patroni will not promote it if it is beyond maximum_lag_on_failover.`),
      ...(props.synchronousMode && members > 1 ? [
        alert('PostgresSyncStandbyMissing', 'warning',
          `(sum(patroni_sync_standby${patroni}) or vector(0)) < 1`, '2m',
          `No synchronous standby in ${who}`,
          'synchronous_mode is on but no member is a sync standby: commits are not confirmed on a second node, and a failover may lose them.'),
      ] : []),
      alert('PostgresExporterDown', 'warning',
        `up{${postgresJob},endpoint="metrics"} == 0`, '5m',
        'postgres-exporter on {{ $labels.pod }} cannot be scraped',
        'The exporter sidecar does not answer; PostgreSQL metrics of this member are missing.'),
      alert('PostgresExporterCannotConnect', 'warning',
        `pg_up{${postgresJob}} == 0`, '5m',
        'postgres-exporter on {{ $labels.pod }} cannot connect to PostgreSQL',
        'Either PostgreSQL is down on this member, or the monitoring role (created by the init Job) cannot log in.'),
      alert('PatroniMetricsDown', 'warning',
        `up{${postgresJob},endpoint="patroni"} == 0`, '5m',
        'Patroni REST API on {{ $labels.pod }} cannot be scraped',
        'Patroni does not answer on its REST API: the router cannot health-check this member either.'),
    ];
    const etcdAlerts = [
      alert('EtcdNoLeader', 'critical',
        `etcd_server_has_leader${etcdJob} == 0`, '1m',
        'etcd member {{ $labels.pod }} has no leader',
        'Without an etcd leader Patroni cannot renew its lock; with failsafe_mode the primary stays only while every member answers.'),
      alert('EtcdMembersDown', 'warning',
        `(count(up${etcdJob} == 1) or vector(0)) < ${etcdMembers}`, '3m',
        `etcd members down in ${who}`,
        `{{ $value }} of ${etcdMembers} etcd members answer; losing ${Math.floor(etcdMembers / 2) + 1} loses quorum.`),
      alert('EtcdDatabaseNearQuota', 'warning',
        `etcd_mvcc_db_total_size_in_bytes${etcdJob} / etcd_server_quota_backend_bytes${etcdJob} > 0.8`, '10m',
        'etcd member {{ $labels.pod }} database is above 80% of its quota',
        'At the quota etcd refuses writes and Patroni can no longer hold the leader lock. Compaction and defragmentation free space.'),
    ];
    const routerAlerts = [
      alert('RouterWriteBackendDown', 'critical',
        `haproxy_backend_active_servers{${routerJob},proxy="${ROUTER_PROXIES.write}"} == 0`, '1m',
        'Router {{ $labels.pod }} has no PostgreSQL leader to send writes to',
        'Every server of the write backend fails its Patroni /primary check: clients of the write Service get errors.'),
      ...(members > 1 ? [
        alert('RouterReadBackendDown', 'warning',
          `haproxy_backend_active_servers{${routerJob},proxy="${ROUTER_PROXIES.read}"} == 0`, '5m',
          'Router {{ $labels.pod }} has no replica to send reads to',
          'No replica passes the /replica lag check; reads fall back to the leader.'),
      ] : []),
      alert('RouterMetricsDown', 'warning',
        `up{${routerJob}} == 0`, '5m',
        'Router {{ $labels.pod }} cannot be scraped',
        'HAProxy\'s Prometheus endpoint does not answer; this router pod may be down.'),
    ];
    const poolerJob = this.podMonitors.pooler ? `${inNamespace},job="${job(this.podMonitors.pooler)}"` : undefined;
    const byPool = 'namespace, pod, database';
    const poolerAlerts = poolerJob === undefined ? [] : [
      alert('PoolerClientsWaiting', 'warning',
        `sum by (${byPool}) (pgbouncer_pools_client_waiting_connections{${poolerJob}}) > 0`, '2m',
        'Clients of pooler {{ $labels.pod }} wait for a server connection to {{ $labels.database }}',
        '{{ $value }} clients have been queueing for two minutes: every server connection of the pool is busy. Raise POOLER_DEFAULT_POOL_SIZE (within PostgreSQL\'s max_connections) or look for long transactions.'),
      alert('PoolerPoolSaturated', 'warning',
        `max by (${byPool}) (pgbouncer_pools_server_active_connections{${poolerJob}})`
          + ` / on (${byPool}) max by (${byPool}) (pgbouncer_databases_pool_size{${poolerJob}}) >= 0.9`, '10m',
        'Pool of {{ $labels.database }} on pooler {{ $labels.pod }} is {{ $value | humanizePercentage }} busy',
        'At 100% new transactions queue (PoolerClientsWaiting follows).'),
      alert('PoolerCannotReachPgBouncer', 'warning',
        `pgbouncer_up{${poolerJob}} == 0`, '2m',
        'pgbouncer-exporter on {{ $labels.pod }} cannot query PgBouncer',
        'PgBouncer is down in this pod, or its admin console refuses the lookup role (POOLER_USER).'),
      alert('PoolerMetricsDown', 'warning',
        `up{${poolerJob}} == 0`, '5m',
        'Pooler {{ $labels.pod }} cannot be scraped',
        'The pgbouncer-exporter sidecar does not answer; this pooler pod may be down.'),
    ];
    this.alerts = [...postgresAlerts, ...etcdAlerts, ...routerAlerts, ...poolerAlerts];

    if (props.grafanaDashboard ?? DEFAULTS.monitoring.grafanaDashboard) {
      const dashboardLabels = props.grafanaDashboardLabels ?? DEFAULTS.monitoring.grafanaDashboardLabels;
      for (const [key, value] of Object.entries(dashboardLabels)) checkLabel('monitoring.grafanaDashboardLabels', key, value);
      const dashboard = buildDashboard({
        uid: `pg-ha-${contentHash(cluster.namespace, cluster.name)}`,
        title: `PostgreSQL HA ${who}`,
        selectors: { patroni: patroni.slice(1, -1), exporter: postgresJob, etcd: etcdJob.slice(1, -1), router: routerJob, pooler: poolerJob },
        members,
        etcdMembers,
        routerProxies: ROUTER_PROXIES,
      });
      this.dashboard = new k8s.KubeConfigMap(this, 'GrafanaDashboard', {
        metadata: { name: `${cluster.name}-grafana-dashboard`, labels: { ...labels, ...dashboardLabels } },
        data: { [`${cluster.namespace}-${cluster.name}.json`]: `${JSON.stringify(dashboard, null, 2)}\n` },
      });
    }

    this.rule = new PrometheusRule(this, 'Rules', {
      metadata: { name: `${cluster.name}-alerts`, labels },
      spec: {
        groups: [
          { name: `${cluster.name}.postgres`, rules: postgresAlerts },
          { name: `${cluster.name}.etcd`, rules: etcdAlerts },
          { name: `${cluster.name}.router`, rules: routerAlerts },
          ...(poolerAlerts.length ? [{ name: `${cluster.name}.pooler`, rules: poolerAlerts }] : []),
        ],
      },
    });
  }
}
