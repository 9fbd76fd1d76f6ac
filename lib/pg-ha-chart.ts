import { Chart, JsonPatch } from 'cdk8s';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { annotateForArgoCd, SYNC_WAVES, SyncWaveGroup } from './gitops/argocd-annotations';
import { ArgoCdApplicationSettings } from './gitops/argocd-application';
import { BACKUP_ANNOTATION, BackupConfiguration, backupConfiguration, BackupSettings } from './components/postgres/backups';
import { ClusterSecrets } from './components/jobs/cluster-secrets';
import { DEFAULT_IMAGES } from './settings/defaults';
import { EtcdCluster, EtcdClusterProps } from './components/etcd/etcd-cluster';
import { InitJob, InitJobProps } from './components/jobs/init-job';
import { checkMonitoringSettings, Monitoring, MonitoringSettings } from './cluster-wide/monitoring';
import { PgRouter, PgRouterProps } from './components/router/pg-router';
import { PatroniSettings, PostgresCluster, PostgresClusterProps } from './components/postgres/postgres-cluster';
import { StatsIngress, StatsIngressProps } from './components/router/stats-ingress';
import { DisruptionBudgets } from './cluster-wide/disruption-budgets';
import { NetworkPolicies, NetworkPolicySettings } from './cluster-wide/network-policies';
import { mergeScheduling, SchedulingProps } from './k8s/scheduling';
import { POD_SECURITY_NAMESPACE_LABELS } from './k8s/security-context';
import { PostgresCertificate, postgresTlsDnsNames } from './components/postgres/postgres-tls';
import { checkDnsLabel, checkDnsSubdomain, ConfigError } from './validation';
import { ClusterContext } from './k8s/dns-names';

/** Everything a user can set; every field is optional and documented with its default. */
export interface PgHaSettings {
  /**
   * Patroni scope (SCOPE) and prefix of every object name.
   * @default 'pg-ha'
   */
  readonly scope?: string;
  /**
   * Namespace of every object.
   * @default 'pg-ha'
   */
  readonly namespace?: string;
  /**
   * Write a Namespace object into dist/ (turn off when the namespace is managed elsewhere).
   * @default true
   */
  readonly createNamespace?: boolean;
  /**
   * DNS domain of the Kubernetes cluster (pod and Service FQDNs end with it).
   * @default 'cluster.local'
   */
  readonly clusterDomain?: string;
  /**
   * Base domain (DEFAULT_URL): the stats page is served at `pg-haproxy.<domain>`.
   * @default 'example.com'
   */
  readonly domain?: string;
  /**
   * Application role the init Job creates (POSTGRES_USER).
   * @default 'app'
   */
  readonly postgresUser?: string;
  /**
   * Application database the init Job creates (POSTGRES_DB).
   * @default 'app'
   */
  readonly postgresDb?: string;
  /**
   * Existing Secret holding the passwords (keys: see CREDENTIAL_KEYS).
   * @default - a Job generates `<scope>-credentials` with random passwords
   */
  readonly existingSecret?: string;
  /** @default - see EtcdClusterProps */
  readonly etcd?: Omit<EtcdClusterProps, 'cluster'>;
  /** @default - see PostgresClusterProps */
  readonly postgres?: Omit<PostgresClusterProps, 'cluster' | 'dcs' | 'secrets' | 'patroni'>;
  /** @default - see PatroniSettings */
  readonly patroni?: PatroniSettings;
  /** @default - see PgRouterProps */
  readonly router?: Omit<PgRouterProps, 'cluster' | 'postgres'>;
  /** @default - see InitJobProps */
  readonly init?: Omit<InitJobProps, 'cluster' | 'router' | 'postgres' | 'secrets' | 'appUser' | 'appDb'>;
  /** @default - an Ingress for `pg-haproxy.<domain>` with class `traefik` */
  readonly statsIngress?: Omit<StatsIngressProps, 'cluster' | 'router' | 'host'> & { readonly host?: string };
  /** @default - no PodMonitors or PrometheusRule (see MonitoringSettings) */
  readonly monitoring?: MonitoringSettings;
  /** @default - backups off: archive_command=/bin/true (see BackupSettings) */
  readonly backups?: BackupSettings;
  /**
   * The Argo CD Application manifest (written by main.ts outside dist/, not part of this chart).
   * @default - no Application
   */
  readonly argocd?: ArgoCdApplicationSettings;
  /**
   * Scheduling of every component (anti-affinity, zone spread, nodeSelector, tolerations,
   * priorityClassName); a component's own `scheduling` wins field by field.
   * @default - preferred anti-affinity on the node name; no zone spread
   */
  readonly scheduling?: SchedulingProps;
  /**
   * A PodDisruptionBudget per component (etcd and Postgres: at most 1 unavailable; router: at least 1 available).
   * @default true
   */
  readonly disruptionBudgets?: boolean;
  /** @default - see NetworkPolicySettings (on, clients from the same namespace) */
  readonly networkPolicies?: NetworkPolicySettings;
}

/** The whole HA PostgreSQL topology: etcd, Spilo/Patroni with exporters, HAProxy, init Job, stats Ingress. */
export class PgHaChart extends Chart {
  public readonly cluster: ClusterContext;
  public readonly secrets: ClusterSecrets;
  public readonly etcd: EtcdCluster;
  public readonly postgres: PostgresCluster;
  public readonly router: PgRouter;
  public readonly init: InitJob;
  /** PodMonitors and alerts, when monitoring is enabled. */
  public readonly monitoring?: Monitoring;
  /** What the backup settings do (env, annotation, object-storage port). */
  public readonly backups: BackupConfiguration;

  constructor(scope: Construct, id: string, settings: PgHaSettings = {}) {
    // Pod names are `<scope>-N` and must stay DNS labels; `-etcd-N`, `-router-xxxxx` suffixes need room.
    const name = checkDnsLabel('scope', settings.scope ?? 'pg-ha', 40);
    const namespace = checkDnsLabel('namespace', settings.namespace ?? 'pg-ha');
    super(scope, id, { namespace, disableResourceNameHashes: true });
    const clusterDomain = checkDnsSubdomain('clusterDomain', settings.clusterDomain ?? 'cluster.local');
    const domain = checkDnsSubdomain('domain', settings.domain ?? 'example.com');
    this.cluster = { name, namespace, clusterDomain };
    const cluster = this.cluster;

    let ns: k8s.KubeNamespace | undefined;
    if (settings.createNamespace ?? true) {
      ns = new k8s.KubeNamespace(this, 'Namespace', { metadata: { name: namespace, labels: POD_SECURITY_NAMESPACE_LABELS } });
      // Namespaces are cluster-scoped: drop the namespace the chart gives every object.
      ns.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
    }

    const postgresProps = settings.postgres ?? {};
    this.secrets = new ClusterSecrets(this, 'Secrets', {
      cluster,
      existingSecret: settings.existingSecret,
      generatorImage: postgresProps.image ?? DEFAULT_IMAGES.spilo,
      scheduling: settings.scheduling,
    });
    this.etcd = new EtcdCluster(this, 'Etcd', { cluster, ...settings.etcd, scheduling: mergeScheduling(settings.scheduling, settings.etcd?.scheduling) });
    const backups = backupConfiguration(settings.backups ?? {}, { scope: name, namespace, pgVersion: postgresProps.pgVersion ?? 17 });
    this.backups = backups;
    this.postgres = new PostgresCluster(this, 'Postgres', {
      cluster, dcs: this.etcd, secrets: this.secrets, patroni: settings.patroni, ...postgresProps,
      scheduling: mergeScheduling(settings.scheduling, postgresProps.scheduling),
      extraEnv: [...backups.env, ...(postgresProps.extraEnv ?? [])],
    });
    // Said plainly on the StatefulSet, on or off.
    this.postgres.statefulSet.metadata.addAnnotation(BACKUP_ANNOTATION, backups.annotation);
    this.router = new PgRouter(this, 'Router', {
      cluster, postgres: this.postgres, ...settings.router, scheduling: mergeScheduling(settings.scheduling, settings.router?.scheduling),
    });
    this.init = new InitJob(this, 'Init', {
      cluster,
      router: this.router,
      postgres: this.postgres,
      secrets: this.secrets,
      appUser: settings.postgresUser,
      appDb: settings.postgresDb,
      ...settings.init,
      scheduling: mergeScheduling(settings.scheduling, settings.init?.scheduling),
    });
    const statsIngress = new StatsIngress(this, 'StatsIngress', {
      cluster,
      router: this.router,
      host: `pg-haproxy.${domain}`,
      ...settings.statsIngress,
    });
    checkMonitoringSettings(settings.monitoring ?? {});
    if (settings.monitoring?.enabled ?? false) {
      this.monitoring = new Monitoring(this, 'Monitoring', {
        cluster,
        etcd: this.etcd,
        postgres: this.postgres,
        router: this.router,
        synchronousMode: settings.patroni?.synchronousMode ?? true,
        ...settings.monitoring,
      });
    }

    this.addHardening(settings);

    // Last: every object must exist by now (a test checks that each one has a wave).
    annotateForArgoCd(this, [
      ...(ns ? [{ scope: ns, wave: SYNC_WAVES.namespace }] : []),
      { scope: this.secrets, wave: SYNC_WAVES.secretsPrerequisites },
      { scope: this.etcd, wave: SYNC_WAVES.etcd },
      { scope: this.postgres, wave: SYNC_WAVES.postgres },
      { scope: this.router, wave: SYNC_WAVES.router },
      { scope: this.init, wave: SYNC_WAVES.init },
      { scope: statsIngress, wave: SYNC_WAVES.extras },
      ...(this.monitoring ? [{ scope: this.monitoring, wave: SYNC_WAVES.extras }] : []),
      ...this.hardeningWaves(),
    ]);
  }

  /** Sync waves of the objects addHardening creates (see SYNC_WAVES). */
  private hardeningWaves(): SyncWaveGroup[] {
    const child = (id: string) => this.node.tryFindChild(id);
    return [
      { id: 'NetworkPolicies', wave: SYNC_WAVES.networkPolicies },
      { id: 'PostgresTls', wave: SYNC_WAVES.certificates },
      { id: 'DisruptionBudgets', wave: SYNC_WAVES.extras },
    ].flatMap(({ id, wave }) => {
      const scope = child(id);
      return scope ? [{ scope, wave }] : [];
    });
  }

  /** Disruption budgets, NetworkPolicies and the optional cert-manager Certificate (lib/disruption-budgets.ts, ...). */
  private addHardening(settings: PgHaSettings): void {
    const cluster = this.cluster;
    const partOf = { 'app.kubernetes.io/instance': cluster.name, 'app.kubernetes.io/part-of': 'pg-ha' };
    if (settings.disruptionBudgets ?? true) {
      new DisruptionBudgets(this, 'DisruptionBudgets', { cluster, etcd: this.etcd, postgres: this.postgres, router: this.router, labels: partOf });
    }
    const networkPolicies = settings.networkPolicies ?? {};
    if (networkPolicies.enabled ?? true) {
      new NetworkPolicies(this, 'NetworkPolicies', {
        ...networkPolicies,
        objectStoragePorts: backupStoragePorts(networkPolicies.objectStoragePorts, this.backups.storagePort),
        cluster,
        clusterPodLabels: partOf,
        etcd: this.etcd,
        postgres: this.postgres,
        router: this.router,
        init: this.init,
        secretsGenerator: this.secrets.generatorSelector ? { selector: this.secrets.generatorSelector } : undefined,
        statsExposed: (settings.statsIngress?.kind ?? 'ingress') !== 'none',
        labels: partOf,
      });
    }
    const tls = this.postgres.tls;
    if (tls.issuerName !== undefined && this.postgres.tlsSecretName) {
      new PostgresCertificate(this, 'PostgresTls', {
        cluster,
        secretName: this.postgres.tlsSecretName,
        issuerName: tls.issuerName,
        issuerKind: tls.issuerKind,
        dnsNames: postgresTlsDnsNames(cluster, [this.router.writeService.name, this.router.readService.name], this.postgres.headlessService.name),
      });
    }
  }
}

/**
 * Object-storage ports the Postgres pods may reach: the configured ones, plus the backup endpoint's
 * port by default (a MinIO on :9000 would otherwise be blocked); an explicit list must include it.
 */
function backupStoragePorts(configured: number[] | undefined, storagePort: number | undefined): number[] | undefined {
  if (storagePort === undefined) return configured;
  if (configured === undefined) return [...new Set([443, storagePort])];
  if (!configured.includes(storagePort)) {
    throw new ConfigError('networkPolicies.objectStoragePorts', configured.join(','), `a list that includes ${storagePort}, the port of the backup endpoint (or the Postgres pods cannot reach it)`);
  }
  return configured;
}
