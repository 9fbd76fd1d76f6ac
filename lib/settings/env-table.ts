/**
 * Settings from `pg-ha.env` and the environment, under the names compose users know.
 *
 * Like docker compose with its `.env` file, a variable set in the environment overrides the file.
 * Only the variables in SETTINGS are read; an unknown key in the file is an error (a typo would
 * otherwise be silently ignored). Passwords are never settings: they live in a Secret.
 */
import { existsSync, readFileSync } from 'fs';
import { PgHaSettings } from '../pg-ha-chart';
import { k8s } from 'cdk8s-plus-28';
import { parseLabelMap, parseTolerations } from './parsers';
import { checkQuantity, ConfigError } from '../validation';

type Kind = 'string' | 'int' | 'bool' | 'list' | 'file' | 'quantity' | 'labels' | 'tolerations' | 'ports';

/** One user-facing setting: its variable, where it goes in PgHaSettings, and its documented default. */
export interface SettingSpec {
  readonly env: string;
  /** Dotted path in PgHaSettings (also the name validation errors use). */
  readonly path: string;
  readonly kind: Kind;
  readonly default: string;
  readonly doc: string;
}

const s = (env: string, path: string, kind: Kind, def: string, doc: string): SettingSpec => ({ env, path, kind, default: def, doc });

/** Production hardening (docs/readme-parts/production.md): scheduling, budgets, resources, policies, TLS. */
const HARDENING_SETTINGS: readonly SettingSpec[] = [
  s('ANTI_AFFINITY', 'scheduling.antiAffinity', 'string', 'preferred', 'Pods of a component on different nodes: preferred, required or none'),
  s('ZONE_SPREAD', 'scheduling.zoneSpread', 'string', 'none', 'Spread each component over zones: none, preferred or required'),
  s('NODE_SELECTOR', 'scheduling.nodeSelector', 'labels', '(any node)', 'Node labels every pod requires (key=value,...)'),
  s('TOLERATIONS', 'scheduling.tolerations', 'tolerations', '(none)', 'Taints every pod tolerates (key=value:Effect, key:Effect or key; comma list)'),
  s('PRIORITY_CLASS_NAME', 'scheduling.priorityClassName', 'string', '(none)', 'PriorityClass of every pod'),
  s('DISRUPTION_BUDGETS', 'disruptionBudgets', 'bool', 'true', 'PodDisruptionBudgets: etcd and Postgres at most 1 unavailable, router at least 1 available'),
  s('POSTGRES_CPU_REQUEST', 'postgres.resources.requests.cpu', 'quantity', '500m', 'CPU request of the Spilo container'),
  s('POSTGRES_MEMORY_REQUEST', 'postgres.resources.requests.memory', 'quantity', '1Gi', 'Memory request of the Spilo container'),
  s('POSTGRES_MEMORY_LIMIT', 'postgres.resources.limits.memory', 'quantity', '1Gi', 'Memory limit of the Spilo container (sizes shared_buffers and max_connections)'),
  s('POSTGRES_CPU_LIMIT', 'postgres.resources.limits.cpu', 'quantity', '(none)', 'CPU limit of the Spilo container'),
  s('ETCD_CPU_REQUEST', 'etcd.resources.requests.cpu', 'quantity', '100m', 'CPU request of an etcd member'),
  s('ETCD_MEMORY_REQUEST', 'etcd.resources.requests.memory', 'quantity', '128Mi', 'Memory request of an etcd member'),
  s('ETCD_MEMORY_LIMIT', 'etcd.resources.limits.memory', 'quantity', '512Mi', 'Memory limit of an etcd member'),
  s('ETCD_CPU_LIMIT', 'etcd.resources.limits.cpu', 'quantity', '(none)', 'CPU limit of an etcd member'),
  s('ROUTER_CPU_REQUEST', 'router.resources.requests.cpu', 'quantity', '50m', 'CPU request of a router pod'),
  s('ROUTER_MEMORY_REQUEST', 'router.resources.requests.memory', 'quantity', '64Mi', 'Memory request of a router pod'),
  s('ROUTER_MEMORY_LIMIT', 'router.resources.limits.memory', 'quantity', '256Mi', 'Memory limit of a router pod'),
  s('ROUTER_CPU_LIMIT', 'router.resources.limits.cpu', 'quantity', '(none)', 'CPU limit of a router pod'),
  s('NETWORK_POLICIES', 'networkPolicies.enabled', 'bool', 'true', 'Deny-by-default NetworkPolicies that allow only the paths the cluster uses'),
  s('NETWORK_POLICY_CLIENT_NAMESPACES', 'networkPolicies.clientNamespaces', 'list', '(own namespace)', 'Namespaces whose pods may connect to the router (comma list)'),
  s('NETWORK_POLICY_CLIENT_POD_LABELS', 'networkPolicies.clientPodLabels', 'labels', '(any pod)', 'Labels client pods need to connect to the router (key=value,...)'),
  s('NETWORK_POLICY_PROMETHEUS_NAMESPACES', 'networkPolicies.prometheusNamespaces', 'list', 'monitoring', 'Namespaces whose pods may scrape the metrics ports (comma list)'),
  s('NETWORK_POLICY_PROMETHEUS_POD_LABELS', 'networkPolicies.prometheusPodLabels', 'labels', '(any pod)', 'Labels of the Prometheus pods (key=value,...)'),
  s('NETWORK_POLICY_INGRESS_NAMESPACES', 'networkPolicies.ingressNamespaces', 'list', 'kube-system,traefik', 'Namespaces of the ingress controller that serves the stats page'),
  s('NETWORK_POLICY_INGRESS_POD_LABELS', 'networkPolicies.ingressPodLabels', 'labels', 'app.kubernetes.io/name=traefik', 'Labels of the ingress controller pods'),
  s('NETWORK_POLICY_OBJECT_STORAGE_PORTS', 'networkPolicies.objectStoragePorts', 'ports', '443', 'Ports the Postgres pods may reach on any address for backups (e.g. 443,9000 for MinIO)'),
  s('NETWORK_POLICY_DNS', 'networkPolicies.dns', 'string', 'kube-dns', 'DNS egress: kube-dns (CoreDNS pods in kube-system) or any (port 53 anywhere, e.g. NodeLocal DNSCache)'),
  s('POSTGRES_TLS_SECRET', 'postgres.tls.secretName', 'string', '(Spilo self-signed)', 'Secret with tls.crt, tls.key, ca.crt: PostgreSQL\'s serving certificate'),
  s('POSTGRES_TLS_ISSUER', 'postgres.tls.issuerName', 'string', '(none)', 'cert-manager issuer: the chart adds a Certificate writing POSTGRES_TLS_SECRET (default <SCOPE>-tls)'),
  s('POSTGRES_TLS_ISSUER_KIND', 'postgres.tls.issuerKind', 'string', 'Issuer', 'Issuer or ClusterIssuer'),
  s('ROUTER_STATS_AUTH_SECRET', 'router.statsAuthSecret', 'string', '(none)', 'Secret (kubernetes.io/basic-auth: username, password) HAProxy asks for on the stats page'),
];

/** Every setting, in the order of the README's configuration table. */
export const SETTINGS: readonly SettingSpec[] = [
  s('SCOPE', 'scope', 'string', 'pg-ha', 'Patroni scope; prefix of every object name'),
  s('NAMESPACE', 'namespace', 'string', 'pg-ha', 'Namespace of every object'),
  s('CREATE_NAMESPACE', 'createNamespace', 'bool', 'true', 'Write a Namespace object into dist/'),
  s('CLUSTER_DOMAIN', 'clusterDomain', 'string', 'cluster.local', 'Kubernetes cluster DNS domain'),
  s('DEFAULT_URL', 'domain', 'string', 'example.com', 'Base domain; stats page at pg-haproxy.<DEFAULT_URL>'),
  s('POSTGRES_USER', 'postgresUser', 'string', 'app', 'Application role created by the init Job'),
  s('POSTGRES_DB', 'postgresDb', 'string', 'app', 'Application database created by the init Job'),
  s('POSTGRES_WRITE_PORT', 'router.writePort', 'int', '5432', 'Write (leader) port of the router'),
  s('POSTGRES_READ_PORT', 'router.readPort', 'int', '5433', 'Read (replicas) port of the router'),
  s('POSTGRES_EXPORTER_PORT', 'postgres.exporterPort', 'int', '9187', 'postgres-exporter sidecar port'),
  s('EXISTING_SECRET', 'existingSecret', 'string', '(generated)', 'Use this Secret for passwords instead of generating one'),
  s('ETCD_REPLICAS', 'etcd.replicas', 'int', '3', 'etcd members (odd)'),
  s('ETCD_IMAGE', 'etcd.image', 'string', 'quay.io/coreos/etcd:v3.6.7', 'etcd image'),
  s('ETCD_STORAGE_SIZE', 'etcd.storageSize', 'string', '1Gi', 'etcd volume size per member'),
  s('ETCD_STORAGE_CLASS', 'etcd.storageClass', 'string', '(cluster default)', 'etcd StorageClass'),
  s('POSTGRES_REPLICAS', 'postgres.replicas', 'int', '3', 'PostgreSQL members (1 leader + replicas)'),
  s('SPILO_IMAGE', 'postgres.image', 'string', 'ghcr.io/zalando/spilo-17:4.0-p3', 'Spilo (PostgreSQL + Patroni) image'),
  s('PGVERSION', 'postgres.pgVersion', 'int', '17', 'PostgreSQL major version Spilo runs'),
  s('POSTGRES_STORAGE_SIZE', 'postgres.storageSize', 'string', '10Gi', 'PostgreSQL volume size per member'),
  s('POSTGRES_STORAGE_CLASS', 'postgres.storageClass', 'string', '(cluster default)', 'PostgreSQL StorageClass'),
  s('EXPORTER_IMAGE', 'postgres.exporterImage', 'string', 'prometheuscommunity/postgres-exporter:v0.18.1', 'postgres-exporter image'),
  s('MONITOR_USER', 'postgres.monitorUser', 'string', 'postgres_exporter', 'Role the exporters log in as (pg_monitor)'),
  s('BACKUPS', 'backups.enabled', 'bool', 'false', 'WAL-G continuous archiving and base backups to S3-compatible storage'),
  s('BACKUP_S3_BUCKET', 'backups.bucket', 'string', '(none)', 'S3 bucket (required with BACKUPS=true)'),
  s('BACKUP_S3_PREFIX', 'backups.prefix', 'string', 'spilo/<NAMESPACE>-<SCOPE>/wal/<PGVERSION>', 'Path inside the bucket'),
  s('BACKUP_S3_ENDPOINT', 'backups.endpoint', 'string', '(AWS S3)', 'Endpoint of S3-compatible storage, e.g. https://minio.example.com:9000'),
  s('BACKUP_S3_REGION', 'backups.region', 'string', 'us-east-1', 'S3 region'),
  s('BACKUP_S3_FORCE_PATH_STYLE', 'backups.forcePathStyle', 'bool', 'true', 'Path-style bucket addressing (always on with an endpoint)'),
  s('BACKUP_CREDENTIALS_SECRET', 'backups.credentialsSecret', 'string', '(none)', 'Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (required with BACKUPS=true)'),
  s('BACKUP_SCHEDULE', 'backups.schedule', 'string', '0 1 * * *', 'Cron schedule of base backups (run on the primary)'),
  s('BACKUP_NUM_TO_RETAIN', 'backups.numToRetain', 'int', '5', 'Base backups (and days) to keep, at least 2'),
  s('CLONE_FROM_S3_PREFIX', 'backups.clone.s3Prefix', 'string', '(none)', 'Bootstrap a NEW cluster from this WAL-G archive (s3://bucket/path)'),
  s('CLONE_FROM_SCOPE', 'backups.clone.scope', 'string', '(SCOPE)', 'SCOPE of the cluster being cloned'),
  s('CLONE_TARGET_TIME', 'backups.clone.targetTime', 'string', '(latest)', 'Point-in-time to recover the clone to, e.g. 2026-11-26 05:00:00+00:00'),
  s('PATRONI_TTL', 'patroni.ttl', 'int', '20', 'Leader lock TTL, seconds (>= 20)'),
  s('PATRONI_LOOP_WAIT', 'patroni.loopWait', 'int', '5', 'Patroni HA loop interval, seconds (>= 1)'),
  s('PATRONI_RETRY_TIMEOUT', 'patroni.retryTimeout', 'int', '7', 'DCS/PostgreSQL retry timeout, seconds (>= 3; loop_wait + 2*retry_timeout <= ttl)'),
  s('SYNCHRONOUS_MODE', 'patroni.synchronousMode', 'bool', 'true', 'Synchronous replication: no acknowledged commit lost on failover'),
  s('FAILSAFE_MODE', 'patroni.failsafeMode', 'bool', 'true', 'Keep the leader while etcd is down if every member confirms it'),
  s('MAXIMUM_LAG_ON_FAILOVER', 'patroni.maximumLagOnFailover', 'int', '1048576', 'Bytes of lag above which a replica is not promoted'),
  s('ROUTER_REPLICAS', 'router.replicas', 'int', '2', 'HAProxy pods'),
  s('HAPROXY_IMAGE', 'router.image', 'string', 'haproxy:3.3.1', 'HAProxy image'),
  s('ROUTER_STATS_PORT', 'router.statsPort', 'int', '7000', 'HAProxy stats page port'),
  s('ROUTER_METRICS_PORT', 'router.metricsPort', 'int', '8404', 'HAProxy Prometheus metrics port'),
  s('PROMETHEUS_OPERATOR', 'monitoring.enabled', 'bool', 'false', 'Write PodMonitors and a PrometheusRule (needs the Prometheus Operator CRDs)'),
  s('PROMETHEUS_LABELS', 'monitoring.labels', 'labels', '(none)', 'Labels for the Prometheus selectors (comma list of key=value, e.g. release=kube-prometheus-stack)'),
  s('PROMETHEUS_SCRAPE_INTERVAL', 'monitoring.scrapeInterval', 'string', '30s', 'Scrape interval of the PodMonitors'),
  s('REPLICATION_LAG_ALERT_BYTES', 'monitoring.replicationLagBytes', 'int', '(REPLICA_MAX_LAG_BYTES)', 'Replication lag (bytes) that raises PostgresReplicationLagHigh'),
  s('REPLICA_MAX_LAG_BYTES', 'router.replicaMaxLagBytes', 'int', '16777216', 'Replicas further behind get no reads'),
  s('ROUTER_MAX_CONNECTIONS', 'router.maxConnections', 'int', '1000', 'Client connections per router pod'),
  s('INIT_IMAGE', 'init.image', 'string', 'postgres:17-alpine', 'Init Job image'),
  s('INIT_SQL_FILE', 'init.extraSql', 'file', '(none)', 'File of extra idempotent SQL the init Job runs in POSTGRES_DB'),
  s('STATS_INGRESS', 'statsIngress.kind', 'string', 'ingress', 'ingress, ingressroute (Traefik CRD) or none'),
  s('STATS_INGRESS_CLASS', 'statsIngress.className', 'string', 'traefik', 'IngressClass of the stats Ingress'),
  s('STATS_ENTRYPOINTS', 'statsIngress.entryPoints', 'list', 'websecure', 'Traefik entry points (comma list)'),
  s('STATS_AUTH_SECRET', 'statsIngress.basicAuthSecret', 'string', '(none)', 'Secret with an htpasswd "users" key for Traefik basic auth'),
  s('ARGOCD_REPO_URL', 'argocd.repoUrl', 'string', '(none)', 'Git URL of your fork; when set, synth writes an Argo CD Application'),
  s('ARGOCD_TARGET_REVISION', 'argocd.targetRevision', 'string', 'HEAD', 'Branch, tag or commit Argo CD follows'),
  s('ARGOCD_PATH', 'argocd.path', 'string', 'dist', 'Directory of the manifests in the repository'),
  s('ARGOCD_APP_NAME', 'argocd.appName', 'string', '(SCOPE)', 'Name of the Application'),
  s('ARGOCD_NAMESPACE', 'argocd.namespace', 'string', 'argocd', 'Namespace Argo CD reads Applications from'),
  s('ARGOCD_PROJECT', 'argocd.project', 'string', 'default', 'Argo CD project'),
  s('ARGOCD_DESTINATION_SERVER', 'argocd.server', 'string', 'https://kubernetes.default.svc', 'API server of the target cluster'),
  s('ARGOCD_AUTO_SYNC', 'argocd.automated', 'bool', 'true', 'Automated sync with prune and self-heal'),
  s('ARGOCD_APPLICATION_FILE', 'argocd.file', 'string', 'deploy/argocd-application.yaml', 'Where the Application is written (outside dist/)'),
  ...HARDENING_SETTINGS,
];

/** Reads a KEY=VALUE file (`#` comments, optional quotes). Unknown keys are errors. */
export function parseEnvFile(text: string, fileName: string): Record<string, string> {
  const known = new Set(SETTINGS.map((spec) => spec.env));
  const values: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) {
      throw new ConfigError(`${fileName}:${index + 1}`, raw, 'a KEY=VALUE line');
    }
    const [, key, rawValue] = match;
    if (!known.has(key)) {
      throw new ConfigError(`${fileName}:${index + 1}`, key, `one of the known settings (${[...known].join(', ')})`);
    }
    values[key] = rawValue.replace(/^(["'])(.*)\1$/, '$2');
  });
  return values;
}

/** Turns variables into PgHaSettings; `readFile` loads INIT_SQL_FILE-style settings. */
export function settingsFromVariables(vars: Record<string, string | undefined>, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): PgHaSettings {
  const settings: Record<string, unknown> = {};
  for (const spec of SETTINGS) {
    const raw = vars[spec.env];
    if (raw === undefined || raw === '') continue;
    setPath(settings, spec.path, convert(spec, raw.trim(), readFile));
  }
  return settings as PgHaSettings;
}

/**
 * The settings for a synth: `pg-ha.env` (if present), overridden by the environment.
 */
export function loadSettings(envFile: string, env: Record<string, string | undefined>): PgHaSettings {
  const fromFile = existsSync(envFile) ? parseEnvFile(readFileSync(envFile, 'utf8'), envFile) : {};
  const fromEnv = Object.fromEntries(SETTINGS.filter((spec) => env[spec.env] !== undefined).map((spec) => [spec.env, env[spec.env]]));
  return settingsFromVariables({ ...fromFile, ...fromEnv });
}

/** The variables that feed a setting named in an error (for "set by ..." hints). */
export function variablesFor(setting: string): string[] {
  return SETTINGS.filter((spec) => setting === spec.path || setting.includes(spec.path)).map((spec) => spec.env);
}

function convert(spec: SettingSpec, raw: string, readFile: (path: string) => string): unknown {
  switch (spec.kind) {
    case 'int':
      if (!/^-?\d+$/.test(raw)) throw new ConfigError(spec.env, raw, 'a whole number');
      return Number(raw);
    case 'bool':
      if (!/^(true|false)$/i.test(raw)) throw new ConfigError(spec.env, raw, '"true" or "false"');
      return raw.toLowerCase() === 'true';
    case 'list':
      return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    case 'ports':
      return raw.split(',').map((item) => item.trim()).filter((item) => item !== '').map((item) => {
        if (!/^\d+$/.test(item)) throw new ConfigError(spec.env, raw, 'port numbers separated by commas, e.g. "443,9000"');
        return Number(item);
      });
    case 'quantity':
      return k8s.Quantity.fromString(checkQuantity(spec.env, raw));
    case 'labels':
      return parseLabelMap(spec.env, raw);
    case 'tolerations':
      return parseTolerations(spec.env, raw);
    case 'file':
      try {
        return readFile(raw);
      } catch (error) {
        throw new ConfigError(spec.env, raw, `a readable file (${(error as Error).message})`);
      }
    default:
      return raw;
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    node[key] = (node[key] as Record<string, unknown> | undefined) ?? {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}
