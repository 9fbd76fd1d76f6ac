/**
 * SETTINGS: the variables of `pg-ha.env`, under the names compose users know, each with the
 * PgHaSettings path it fills (checked by the compiler, with the type there), its parser and what it
 * does. The default column comes from DEFAULTS, or describes a default other settings decide.
 */
import { k8s } from 'cdk8s-plus-28';
import { DEFAULTS } from './defaults';
import { getSetting, SettingPath, SettingValue } from './setting-paths';

/** How a variable's text is parsed (lib/settings/env-file.ts). */
export type SettingKind = 'string' | 'int' | 'bool' | 'list' | 'file' | 'quantity' | 'labels' | 'annotations' | 'parameters' | 'tolerations' | 'ports';

/** The kinds that parse into a value of type `V`: a path only takes a variable of a kind that fits it. */
export type KindFor<V> =
  [V] extends [k8s.Quantity] ? 'quantity'
    : [V] extends [boolean] ? 'bool'
      : [V] extends [number] ? 'int'
        : [V] extends [string] ? 'string' | 'file'
          : [V] extends [readonly number[]] ? 'ports'
            : [V] extends [readonly string[]] ? 'list'
              : [V] extends [readonly k8s.Toleration[]] ? 'tolerations'
                : [V] extends [Record<string, string>] ? 'labels' | 'annotations'
                  : [V] extends [Record<string, string | number>] ? 'parameters'
                    : never;

/** One user-facing setting: its variable, where it goes in PgHaSettings, and its documented default. */
export interface SettingSpec<P extends SettingPath = SettingPath> {
  readonly env: string;
  /** Path in PgHaSettings (also the name validation errors use). */
  readonly path: P;
  readonly kind: SettingKind;
  /** The default as the docs show it: DEFAULTS' value at `path`, or what decides it. */
  readonly default: string;
  readonly doc: string;
}

/**
 * A row of the table. `describedDefault` is only for settings without a value in DEFAULTS ("(none)",
 * "(SCOPE)": decided by other settings or by the cluster); a test checks no default is written twice.
 */
function setting<P extends SettingPath>(env: string, path: P, kind: KindFor<SettingValue<P>>, doc: string, describedDefault?: string): SettingSpec<P> {
  const value = getSetting(DEFAULTS, path);
  if (value !== undefined && describedDefault !== undefined) {
    throw new Error(`${env}: the default of ${path} is in DEFAULTS; do not describe it again ("${describedDefault}")`);
  }
  return { env, path, kind, doc, default: describedDefault ?? formatDefault(value) };
}

/** A default as a variable would spell it (`443,9000`, `key=value`, `512Mi`). */
function formatDefault(value: unknown): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.join(',');
  if (value instanceof k8s.Quantity) return String(value.value);
  if (typeof value === 'object' && value !== null) return Object.entries(value).map(([key, v]) => `${key}=${v}`).join(',');
  return String(value);
}

/** Every setting, in the order of the configuration table (docs/configuration.md). */
export const SETTINGS: readonly SettingSpec[] = [
  setting('SCOPE', 'scope', 'string', 'Patroni scope; prefix of every object name'),
  setting('NAMESPACE', 'namespace', 'string', 'Namespace of every object'),
  setting('CREATE_NAMESPACE', 'createNamespace', 'bool', 'Write a Namespace object into dist/'),
  setting('CLUSTER_DOMAIN', 'clusterDomain', 'string', 'Kubernetes cluster DNS domain'),
  setting('DEFAULT_URL', 'domain', 'string', 'Base domain; stats page at pg-haproxy.<DEFAULT_URL>'),
  setting('POSTGRES_USER', 'postgresUser', 'string', 'Application role created by the init Job'),
  setting('POSTGRES_DB', 'postgresDb', 'string', 'Application database created by the init Job'),
  setting('POSTGRES_WRITE_PORT', 'router.writePort', 'int', 'Write (leader) port of the router'),
  setting('POSTGRES_READ_PORT', 'router.readPort', 'int', 'Read (replicas) port of the router'),
  setting('POSTGRES_PORT', 'postgres.port', 'int', 'PostgreSQL\'s port in the pods (clients use the router\'s ports)'),
  setting('ETCD_CLIENT_PORT', 'etcd.clientPort', 'int', 'etcd\'s client port (Patroni connects to it)'),
  setting('POSTGRES_EXPORTER_PORT', 'postgres.exporterPort', 'int', 'postgres-exporter sidecar port'),
  setting('EXISTING_SECRET', 'existingSecret', 'string', 'Use this Secret for passwords instead of generating one', '(generated)'),
  setting('ETCD_REPLICAS', 'etcd.replicas', 'int', 'etcd members (odd)'),
  setting('ETCD_IMAGE', 'etcd.image', 'string', 'etcd image'),
  setting('ETCD_STORAGE_SIZE', 'etcd.storageSize', 'string', 'etcd volume size per member'),
  setting('ETCD_STORAGE_CLASS', 'etcd.storageClass', 'string', 'etcd StorageClass', '(cluster default)'),
  setting('ETCD_TLS', 'etcd.tls.enabled', 'bool', 'TLS on etcd\'s client and peer ports (Patroni verifies etcd with the CA)'),
  setting('ETCD_AUTH', 'etcd.auth', 'bool', 'etcd authentication: root user, and a Patroni user limited to its key prefix (needs ETCD_TLS)', '(ETCD_TLS; off with ETCD_TLS_MIGRATION)'),
  setting('ETCD_TLS_SECRET', 'etcd.tls.secretName', 'string', 'Secret with tls.crt, tls.key, ca.crt: etcd\'s certificate (server and client auth)', '<SCOPE>-etcd-tls (generated)'),
  setting('ETCD_CLIENT_TLS_SECRET', 'etcd.tls.clientSecretName', 'string', 'With ETCD_TLS_SECRET (and only then): Secret with tls.crt, tls.key (client auth, no common name), ca.crt: the certificate etcd\'s clients present', '<SCOPE>-etcd-client-tls (generated)'),
  setting('ETCD_TLS_ISSUER', 'etcd.tls.issuerName', 'string', 'cert-manager issuer: the chart adds a Certificate writing ETCD_TLS_SECRET', '(none)'),
  setting('ETCD_TLS_ISSUER_KIND', 'etcd.tls.issuerKind', 'string', 'Issuer or ClusterIssuer'),
  setting('ETCD_TLS_MIGRATION', 'etcd.tls.migration', 'bool', 'Step 1 of 2 for a cluster made with plain etcd: http and https side by side, auth off; step 2: unset it and set ETCD_AUTH=false (docs/security.md)'),
  setting('POSTGRES_REPLICAS', 'postgres.replicas', 'int', 'PostgreSQL members (1 leader + replicas)'),
  setting('SPILO_IMAGE', 'postgres.image', 'string', 'Spilo (PostgreSQL + Patroni) image'),
  setting('PGVERSION', 'postgres.pgVersion', 'int', 'PostgreSQL major version Spilo runs'),
  setting('POSTGRES_STORAGE_SIZE', 'postgres.storageSize', 'string', 'PostgreSQL volume size per member'),
  setting('POSTGRES_STORAGE_CLASS', 'postgres.storageClass', 'string', 'PostgreSQL StorageClass', '(cluster default)'),
  setting('EXPORTER_IMAGE', 'postgres.exporterImage', 'string', 'postgres-exporter image'),
  setting('MONITOR_USER', 'postgres.monitorUser', 'string', 'Role the exporters log in as (pg_monitor)'),
  setting('ROLLOUT_PRIMARY', 'postgres.rolloutPrimary', 'string', 'A new pod template: the rollout Job switches over to an updated standby itself (auto) or stops before and logs the command (manual)'),
  setting('BACKUPS', 'backups.enabled', 'bool', 'WAL-G continuous archiving and base backups to S3-compatible storage'),
  setting('BACKUP_S3_BUCKET', 'backups.bucket', 'string', 'S3 bucket (required with BACKUPS=true)', '(none)'),
  setting('BACKUP_S3_PREFIX', 'backups.prefix', 'string', 'Path inside the bucket', 'spilo/<NAMESPACE>-<SCOPE>/wal/<PGVERSION>'),
  setting('BACKUP_S3_ENDPOINT', 'backups.endpoint', 'string', 'Endpoint of S3-compatible storage, e.g. https://minio.example.com:9000', '(AWS S3)'),
  setting('BACKUP_S3_REGION', 'backups.region', 'string', 'S3 region'),
  setting('BACKUP_S3_FORCE_PATH_STYLE', 'backups.forcePathStyle', 'bool', 'Path-style bucket addressing (always on with an endpoint)'),
  setting('BACKUP_CREDENTIALS_SECRET', 'backups.credentialsSecret', 'string', 'Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (required with BACKUPS=true)', '(none)'),
  setting('BACKUP_SCHEDULE', 'backups.schedule', 'string', 'Cron schedule of base backups (run on the primary)'),
  setting('BACKUP_NUM_TO_RETAIN', 'backups.numToRetain', 'int', 'Base backups (and days) to keep, at least 2'),
  setting('CLONE_FROM_S3_PREFIX', 'backups.clone.s3Prefix', 'string', 'Bootstrap a NEW cluster from this WAL-G archive (s3://bucket/path)', '(none)'),
  setting('CLONE_FROM_SCOPE', 'backups.clone.scope', 'string', 'SCOPE of the cluster being cloned', '(SCOPE)'),
  setting('CLONE_TARGET_TIME', 'backups.clone.targetTime', 'string', 'Point-in-time to recover the clone to, e.g. 2026-11-26 05:00:00+00:00', '(latest)'),
  setting('PATRONI_TTL', 'patroni.ttl', 'int', 'Leader lock TTL, seconds (>= 20)'),
  setting('PATRONI_LOOP_WAIT', 'patroni.loopWait', 'int', 'Patroni HA loop interval, seconds (>= 1)'),
  setting('PATRONI_RETRY_TIMEOUT', 'patroni.retryTimeout', 'int', 'DCS/PostgreSQL retry timeout, seconds (>= 3; loop_wait + 2*retry_timeout <= ttl)'),
  setting('SYNCHRONOUS_MODE', 'patroni.synchronousMode', 'bool', 'Synchronous replication: no acknowledged commit lost on failover'),
  setting('FAILSAFE_MODE', 'patroni.failsafeMode', 'bool', 'Keep the leader while etcd is down if every member confirms it'),
  setting('MAXIMUM_LAG_ON_FAILOVER', 'patroni.maximumLagOnFailover', 'int', 'Bytes of lag above which a replica is not promoted'),
  setting('POSTGRES_PARAMETERS', 'patroni.parameters', 'parameters', 'PostgreSQL parameters, name=value,... (a value with commas in single quotes); applied to the running cluster by the converge Job', '(none)'),
  setting('ROUTER_REPLICAS', 'router.replicas', 'int', 'HAProxy pods'),
  setting('HAPROXY_IMAGE', 'router.image', 'string', 'HAProxy image'),
  setting('ROUTER_STATS_PORT', 'router.statsPort', 'int', 'HAProxy stats page port'),
  setting('ROUTER_METRICS_PORT', 'router.metricsPort', 'int', 'HAProxy Prometheus metrics port'),
  setting('PROMETHEUS_OPERATOR', 'monitoring.enabled', 'bool', 'Write PodMonitors and a PrometheusRule (needs the Prometheus Operator CRDs)'),
  setting('PROMETHEUS_LABELS', 'monitoring.labels', 'labels', 'Labels for the Prometheus selectors (comma list of key=value, e.g. release=kube-prometheus-stack)', '(none)'),
  setting('PROMETHEUS_SCRAPE_INTERVAL', 'monitoring.scrapeInterval', 'string', 'Scrape interval of the PodMonitors'),
  setting('REPLICATION_LAG_ALERT_BYTES', 'monitoring.replicationLagBytes', 'int', 'Replication lag (bytes) that raises PostgresReplicationLagHigh', '(REPLICA_MAX_LAG_BYTES)'),
  setting('GRAFANA_DASHBOARD', 'monitoring.grafanaDashboard', 'bool', 'A ConfigMap with a Grafana dashboard for Grafana\'s dashboard sidecar (with PROMETHEUS_OPERATOR=true)'),
  setting('GRAFANA_DASHBOARD_LABELS', 'monitoring.grafanaDashboardLabels', 'labels', 'Labels the dashboard sidecar looks for (key=value,...)'),
  setting('REPLICA_MAX_LAG_BYTES', 'router.replicaMaxLagBytes', 'int', 'Replicas further behind get no reads'),
  setting('ROUTER_MAX_CONNECTIONS', 'router.maxConnections', 'int', 'Client connections per router pod'),
  setting('ROUTER_SERVICE_TYPE', 'router.external.serviceType', 'string', 'Write and read Services: ClusterIP (inside the cluster), LoadBalancer or NodePort (docs/external-access.md)'),
  setting('ROUTER_SOURCE_RANGES', 'router.external.sourceRanges', 'list', 'Client address blocks allowed from outside (CIDR comma list): loadBalancerSourceRanges and NetworkPolicy ipBlocks', '(none)'),
  setting('ROUTER_ALLOW_ANY_SOURCE', 'router.external.allowAnySource', 'bool', 'Any address may connect from outside (required when ROUTER_SOURCE_RANGES is empty)'),
  setting('ROUTER_SERVICE_ANNOTATIONS', 'router.external.annotations', 'annotations', 'Annotations of the write and read Services, e.g. cloud load balancer options (key=value comma list)', '(none)'),
  setting('ROUTER_EXTERNAL_TRAFFIC_POLICY', 'router.external.trafficPolicy', 'string', 'Local (keeps the client address the NetworkPolicy checks) or Cluster'),
  setting('POSTGRES_WRITE_HOST_PORT', 'router.external.writeNodePort', 'int', 'Node port of the write Service with ROUTER_SERVICE_TYPE=NodePort (30000-32767)', '(picked by Kubernetes)'),
  setting('POSTGRES_READ_HOST_PORT', 'router.external.readNodePort', 'int', 'Node port of the read Service with ROUTER_SERVICE_TYPE=NodePort (30000-32767)', '(picked by Kubernetes)'),
  setting('POOLER', 'pooler.enabled', 'bool', 'PgBouncer in front of the write Service (Service <SCOPE>-pooler)'),
  setting('POOLER_READ', 'pooler.read', 'bool', 'A second PgBouncer in front of the read Service (Service <SCOPE>-pooler-ro)'),
  setting('POOLER_REPLICAS', 'pooler.replicas', 'int', 'PgBouncer pods per pooler'),
  setting('POOLER_IMAGE', 'pooler.image', 'string', 'PgBouncer image'),
  setting('POOLER_EXPORTER_IMAGE', 'pooler.exporterImage', 'string', 'pgbouncer-exporter sidecar image'),
  setting('POOLER_PORT', 'pooler.port', 'int', 'Port of the pooler Services'),
  setting('POOLER_MODE', 'pooler.mode', 'string', 'transaction, session or statement'),
  setting('POOLER_DEFAULT_POOL_SIZE', 'pooler.defaultPoolSize', 'int', 'Server connections per database and user, per pod'),
  setting('POOLER_RESERVE_POOL_SIZE', 'pooler.reservePoolSize', 'int', 'Extra server connections once a client has waited 5 s'),
  setting('POOLER_MAX_CLIENT_CONN', 'pooler.maxClientConnections', 'int', 'Client connections per PgBouncer pod'),
  setting('POOLER_USER', 'pooler.user', 'string', 'Role PgBouncer looks passwords up with (auth_query), created by the init Job'),
  setting('INIT_IMAGE', 'init.image', 'string', 'Init Job image'),
  setting('INIT_SQL_FILE', 'init.extraSql', 'file', 'File of extra idempotent SQL the init Job runs in POSTGRES_DB', '(none)'),
  setting('STATS_INGRESS', 'statsIngress.kind', 'string', 'ingress, ingressroute (Traefik CRD) or none'),
  setting('STATS_INGRESS_CLASS', 'statsIngress.className', 'string', 'IngressClass of the stats Ingress'),
  setting('STATS_ENTRYPOINTS', 'statsIngress.entryPoints', 'list', 'Traefik entry points (comma list)'),
  setting('STATS_AUTH_SECRET', 'statsIngress.basicAuthSecret', 'string', 'Secret with an htpasswd "users" key for Traefik basic auth', '(none)'),
  setting('ARGOCD_REPO_URL', 'argocd.repoUrl', 'string', 'Git URL of your fork; when set, synth writes an Argo CD Application', '(none)'),
  setting('ARGOCD_TARGET_REVISION', 'argocd.targetRevision', 'string', 'Branch, tag or commit Argo CD follows'),
  setting('ARGOCD_PATH', 'argocd.path', 'string', 'Directory of the manifests in the repository'),
  setting('ARGOCD_APP_NAME', 'argocd.appName', 'string', 'Name of the Application', '(SCOPE)'),
  setting('ARGOCD_NAMESPACE', 'argocd.namespace', 'string', 'Namespace Argo CD reads Applications from'),
  setting('ARGOCD_PROJECT', 'argocd.project', 'string', 'Argo CD project'),
  setting('ARGOCD_DESTINATION_SERVER', 'argocd.server', 'string', 'API server of the target cluster'),
  setting('ARGOCD_AUTO_SYNC', 'argocd.automated', 'bool', 'Automated sync with prune and self-heal'),
  setting('ARGOCD_APPLICATION_FILE', 'argocd.file', 'string', 'Where the Application is written (outside dist/)'),
  setting('ANTI_AFFINITY', 'scheduling.antiAffinity', 'string', 'Pods of a component on different nodes: preferred, required or none'),
  setting('ZONE_SPREAD', 'scheduling.zoneSpread', 'string', 'Spread each component over zones: none, preferred or required'),
  setting('NODE_SELECTOR', 'scheduling.nodeSelector', 'labels', 'Node labels every pod requires (key=value,...)', '(any node)'),
  setting('TOLERATIONS', 'scheduling.tolerations', 'tolerations', 'Taints every pod tolerates (key=value:Effect, key:Effect or key; comma list)', '(none)'),
  setting('PRIORITY_CLASS_NAME', 'scheduling.priorityClassName', 'string', 'PriorityClass of every pod', '(none)'),
  setting('DISRUPTION_BUDGETS', 'disruptionBudgets', 'bool', 'PodDisruptionBudgets: etcd and Postgres at most 1 unavailable, router at least 1 available'),
  setting('POSTGRES_CPU_REQUEST', 'postgres.resources.requests.cpu', 'quantity', 'CPU request of the Spilo container'),
  setting('POSTGRES_MEMORY_REQUEST', 'postgres.resources.requests.memory', 'quantity', 'Memory request of the Spilo container'),
  setting('POSTGRES_MEMORY_LIMIT', 'postgres.resources.limits.memory', 'quantity', 'Memory limit of the Spilo container (sizes shared_buffers and max_connections)'),
  setting('POSTGRES_CPU_LIMIT', 'postgres.resources.limits.cpu', 'quantity', 'CPU limit of the Spilo container', '(none)'),
  setting('ETCD_CPU_REQUEST', 'etcd.resources.requests.cpu', 'quantity', 'CPU request of an etcd member'),
  setting('ETCD_MEMORY_REQUEST', 'etcd.resources.requests.memory', 'quantity', 'Memory request of an etcd member'),
  setting('ETCD_MEMORY_LIMIT', 'etcd.resources.limits.memory', 'quantity', 'Memory limit of an etcd member'),
  setting('ETCD_CPU_LIMIT', 'etcd.resources.limits.cpu', 'quantity', 'CPU limit of an etcd member', '(none)'),
  setting('ROUTER_CPU_REQUEST', 'router.resources.requests.cpu', 'quantity', 'CPU request of a router pod'),
  setting('ROUTER_MEMORY_REQUEST', 'router.resources.requests.memory', 'quantity', 'Memory request of a router pod'),
  setting('ROUTER_MEMORY_LIMIT', 'router.resources.limits.memory', 'quantity', 'Memory limit of a router pod'),
  setting('ROUTER_CPU_LIMIT', 'router.resources.limits.cpu', 'quantity', 'CPU limit of a router pod', '(none)'),
  setting('NETWORK_POLICIES', 'networkPolicies.enabled', 'bool', 'Deny-by-default NetworkPolicies that allow only the paths the cluster uses'),
  setting('NETWORK_POLICY_CLIENT_NAMESPACES', 'networkPolicies.clientNamespaces', 'list', 'Namespaces whose pods may connect to the router (comma list)', '(own namespace)'),
  setting('NETWORK_POLICY_CLIENT_POD_LABELS', 'networkPolicies.clientPodLabels', 'labels', 'Labels client pods need to connect to the router (key=value,...)', '(any pod)'),
  setting('NETWORK_POLICY_PROMETHEUS_NAMESPACES', 'networkPolicies.prometheusNamespaces', 'list', 'Namespaces whose pods may scrape the metrics ports (comma list)'),
  setting('NETWORK_POLICY_PROMETHEUS_POD_LABELS', 'networkPolicies.prometheusPodLabels', 'labels', 'Labels of the Prometheus pods (key=value,...)', '(any pod)'),
  setting('NETWORK_POLICY_INGRESS_NAMESPACES', 'networkPolicies.ingressNamespaces', 'list', 'Namespaces of the ingress controller that serves the stats page'),
  setting('NETWORK_POLICY_INGRESS_POD_LABELS', 'networkPolicies.ingressPodLabels', 'labels', 'Labels of the ingress controller pods'),
  setting('NETWORK_POLICY_OBJECT_STORAGE_PORTS', 'networkPolicies.objectStoragePorts', 'ports', 'Ports the Postgres pods may reach on any address for backups (e.g. 443,9000 for MinIO)'),
  setting('NETWORK_POLICY_DNS', 'networkPolicies.dns', 'string', 'DNS egress: kube-dns (CoreDNS pods in kube-system) or any (port 53 anywhere, e.g. NodeLocal DNSCache)'),
  setting('POSTGRES_TLS_SECRET', 'postgres.tls.secretName', 'string', 'Secret with tls.crt, tls.key, ca.crt: PostgreSQL\'s serving certificate', '(Spilo self-signed)'),
  setting('POSTGRES_TLS_ISSUER', 'postgres.tls.issuerName', 'string', 'cert-manager issuer: the chart adds a Certificate writing POSTGRES_TLS_SECRET (default <SCOPE>-tls)', '(none)'),
  setting('POSTGRES_TLS_ISSUER_KIND', 'postgres.tls.issuerKind', 'string', 'Issuer or ClusterIssuer'),
  setting('POSTGRES_TLS_EXTERNAL_NAMES', 'postgres.tls.externalDnsNames', 'list', 'More DNS names in the cert-manager Certificate: the names clients outside the cluster use (comma list)', '(none)'),
  setting('ROUTER_STATS_AUTH_SECRET', 'router.statsAuthSecret', 'string', 'Secret (kubernetes.io/basic-auth: username, password) HAProxy asks for on the stats page', '(none)'),
];

/**
 * The variables that set the settings an error names (for "set by ..." hints): every path in
 * `setting` (`patroni.loopWait + 2 * patroni.retryTimeout`, `networkPolicies.clientNamespaces[0]`)
 * that is exactly a variable's path. `argocd.namespace` is not `namespace`.
 */
export function variablesFor(setting: string): string[] {
  const paths: string[] = setting.replace(/"[^"]*"/g, '').match(/[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*/g) ?? [];
  return SETTINGS.filter((spec) => paths.includes(spec.path)).map((spec) => spec.env);
}
