/**
 * The chart: every component and cluster-wide object of one HA PostgreSQL cluster, composed from
 * PgHaSettings, each in a typed field and each group in its Argo CD sync wave.
 */
import { Chart, JsonPatch } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { DisruptionBudgets } from './cluster-wide/disruption-budgets';
import { Monitoring } from './cluster-wide/monitoring';
import { NetworkPolicies } from './cluster-wide/network-policies';
import { EtcdCluster } from './components/etcd/etcd-cluster';
import { etcdNames } from './settings/cluster-names';
import { EtcdAccess } from './components/etcd/etcd-access';
import { EtcdCertificate, etcdClientOrganization, etcdTlsDnsNames, resolveEtcdSecurity } from './components/etcd/etcd-tls';
import { ClusterSecrets } from './components/jobs/cluster-secrets';
import { ConvergeJob } from './components/jobs/converge-job';
import { Day2Lease } from './components/jobs/day2-lease';
import { InitJob } from './components/jobs/init-job';
import { BACKUP_ANNOTATION, BackupConfiguration, backupConfiguration } from './components/postgres/backups';
import { PostgresCluster } from './components/postgres/postgres-cluster';
import { PostgresRollout } from './components/postgres/postgres-rollout';
import { externalDnsNames, PostgresCertificate, postgresTlsDnsNames } from './components/postgres/postgres-tls';
import { PgPooler } from './components/pooler/pg-pooler';
import { PgRouter } from './components/router/pg-router';
import { StatsIngress } from './components/router/stats-ingress';
import { annotateForArgoCd, JobHook, KEEP_UNTRACKED_ANNOTATIONS, SYNC_WAVES, SyncWaveGroup } from './gitops/argocd-annotations';
import { DeployedManifests } from './k8s/claim-templates';
import { ClusterContext } from './settings/cluster-names';
import { instanceLabels } from './k8s/labels';
import { checkScheduling, mergeScheduling } from './k8s/scheduling';
import { POD_SECURITY_NAMESPACE_LABELS } from './k8s/security-context';
import { DEFAULTS } from './settings/defaults';
import { checkOptionalFeatures } from './settings/optional-features';
import { PgHaSettings } from './settings/pg-ha-settings';
import { checkDnsLabel, checkDnsSubdomain, ConfigError } from './validation';

/** Where the cluster of `settings` lives: its name (the scope), namespace and DNS domain, validated. */
export function clusterContextOf(settings: PgHaSettings): ClusterContext {
  return {
    // Pod names are `<scope>-N` and must stay DNS labels; `-etcd-N`, `-router-xxxxx` suffixes need room.
    name: checkDnsLabel('scope', settings.scope ?? DEFAULTS.scope, 40),
    namespace: checkDnsLabel('namespace', settings.namespace ?? DEFAULTS.namespace),
    clusterDomain: checkDnsSubdomain('clusterDomain', settings.clusterDomain ?? DEFAULTS.clusterDomain),
  };
}

/** What the chart is built against, besides the settings. */
export interface PgHaChartOptions {
  /**
   * The previous synth output (the committed dist/): running StatefulSets keep their immutable
   * volumeClaimTemplates, and a smaller volume size is refused.
   * @default - a new cluster
   */
  readonly deployed?: DeployedManifests;
}

/** The whole HA PostgreSQL topology: etcd, Spilo/Patroni with exporters, HAProxy, Jobs, stats Ingress, policies. */
export class PgHaChart extends Chart {
  public readonly cluster: ClusterContext;
  /** The Namespace object, unless `createNamespace` is false. */
  public readonly namespaceObject?: k8s.KubeNamespace;
  public readonly secrets: ClusterSecrets;
  public readonly etcd: EtcdCluster;
  /** The Job that keeps etcd's peer URLs on https, creates its users and turns its authentication on (`etcd.auth`), with etcd TLS. */
  public readonly etcdAccess?: EtcdAccess;
  /** The cert-manager Certificate of etcd, when `etcd.tls.issuerName` is set. */
  public readonly etcdCertificate?: EtcdCertificate;
  public readonly postgres: PostgresCluster;
  public readonly router: PgRouter;
  /** PgBouncer in front of the write Service (and of the read Service), when `pooler.enabled`. */
  public readonly poolers: PgPooler[] = [];
  public readonly init: InitJob;
  /** The Job that grows volumes and rolls the Postgres pods onto a new template (PostSync). */
  public readonly rollout: PostgresRollout;
  /** The Lease the day-2 Jobs (converge, rollout) hold in turn. */
  public readonly day2Lease: Day2Lease;
  /** The Job that applies Patroni's dynamic configuration to the running cluster after each sync. */
  public readonly converge: ConvergeJob;
  public readonly statsIngress: StatsIngress;
  /** PodMonitors and alerts, when monitoring is enabled. */
  public readonly monitoring?: Monitoring;
  /** A PodDisruptionBudget per component, unless `disruptionBudgets` is false. */
  public readonly disruptionBudgets?: DisruptionBudgets;
  /** The NetworkPolicies, unless `networkPolicies.enabled` is false. */
  public readonly networkPolicies?: NetworkPolicies;
  /** The cert-manager Certificate of PostgreSQL, when `postgres.tls.issuerName` is set. */
  public readonly postgresCertificate?: PostgresCertificate;
  /** What the backup settings do (env, annotation, object-storage port). */
  public readonly backups: BackupConfiguration;

  constructor(scope: Construct, id: string, settings: PgHaSettings = {}, options: PgHaChartOptions = {}) {
    const cluster = clusterContextOf(settings);
    super(scope, id, { namespace: cluster.namespace, disableResourceNameHashes: true });
    this.cluster = cluster;
    const domain = checkDnsSubdomain('domain', settings.domain ?? DEFAULTS.domain);
    checkOptionalFeatures(settings);
    // Chart-wide scheduling is checked as given, before each component merges its own over it.
    checkScheduling('scheduling', settings.scheduling);
    const scheduling = settings.scheduling;
    const clusterPods = instanceLabels(cluster.name);

    if (settings.createNamespace ?? DEFAULTS.createNamespace) {
      this.namespaceObject = new k8s.KubeNamespace(this, 'Namespace', { metadata: { name: cluster.namespace, labels: POD_SECURITY_NAMESPACE_LABELS } });
      // Namespaces are cluster-scoped: drop the namespace the chart gives every object.
      this.namespaceObject.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
    }

    const postgresSettings = settings.postgres ?? {};
    // etcd's security first: the secrets Job generates its certificate and its users' passwords.
    const etcdSecurity = resolveEtcdSecurity(cluster, settings.etcd?.tls, settings.etcd?.auth);
    const etcdNamesForTls = etcdTlsDnsNames(cluster, etcdNames(cluster).headless, etcdNames(cluster).statefulSet);
    this.secrets = new ClusterSecrets(this, 'Secrets', {
      cluster,
      existingSecret: settings.existingSecret,
      generatorImage: postgresSettings.image ?? DEFAULTS.postgres.image,
      scheduling,
      // Not in git but labelled as part of the app: Argo CD must neither prune nor flag it.
      generatedSecretAnnotations: KEEP_UNTRACKED_ANNOTATIONS,
      featureCredentials: [
        ...((settings.pooler?.enabled ?? DEFAULTS.pooler.enabled) ? ['pooler' as const] : []),
        ...(etcdSecurity.auth ? ['etcdRoot' as const, 'etcdPatroni' as const] : []),
      ],
      etcdTls: etcdSecurity.tls ? { tls: etcdSecurity.tls, names: etcdNamesForTls, commonName: `${cluster.name}-etcd`, clientOrganization: etcdClientOrganization(cluster) } : undefined,
    });
    const deployed = options.deployed;
    this.etcd = new EtcdCluster(this, 'Etcd', { cluster, deployed, ...settings.etcd, scheduling: mergeScheduling(scheduling, settings.etcd?.scheduling) });
    if (this.etcd.tls?.issuer) {
      this.etcdCertificate = new EtcdCertificate(this, 'EtcdTls', { cluster, tls: this.etcd.tls, dnsNames: etcdNamesForTls });
    }
    if (this.etcd.tls) {
      this.etcdAccess = new EtcdAccess(this, 'EtcdAccess', {
        cluster, etcd: this.etcd, secrets: this.secrets, image: postgresSettings.image ?? DEFAULTS.postgres.image, scheduling,
      });
    }
    this.backups = backupConfiguration(settings.backups ?? {}, {
      scope: cluster.name, namespace: cluster.namespace, pgVersion: postgresSettings.pgVersion ?? DEFAULTS.postgres.pgVersion,
    });
    this.postgres = new PostgresCluster(this, 'Postgres', {
      cluster, dcs: this.etcd, secrets: this.secrets, patroni: settings.patroni, ...postgresSettings,
      archiving: settings.backups?.enabled ?? DEFAULTS.backups.enabled,
      scheduling: mergeScheduling(scheduling, postgresSettings.scheduling),
      extraEnv: this.backups.env,
      deployed,
    });
    // Said plainly on the StatefulSet, on or off.
    this.postgres.statefulSet.metadata.addAnnotation(BACKUP_ANNOTATION, this.backups.annotation);
    // The converge and rollout Jobs hold it in turn: never two restarts or switchovers at once.
    this.day2Lease = new Day2Lease(this, 'Day2Lease', { cluster });
    this.rollout = new PostgresRollout(this, 'Rollout', {
      cluster,
      lease: this.day2Lease,
      postgres: this.postgres,
      etcd: this.etcd,
      secrets: this.secrets,
      image: postgresSettings.image ?? DEFAULTS.postgres.image,
      primary: postgresSettings.rolloutPrimary,
      synchronousMode: settings.patroni?.synchronousMode ?? DEFAULTS.patroni.synchronousMode,
      maximumLagBytes: settings.patroni?.maximumLagOnFailover ?? DEFAULTS.patroni.maximumLagOnFailover,
      scheduling: mergeScheduling(scheduling, postgresSettings.scheduling),
    });
    const networkPolicies = settings.networkPolicies ?? {};
    const networkPoliciesEnabled = networkPolicies.enabled ?? DEFAULTS.networkPolicies.enabled;
    this.router = new PgRouter(this, 'Router', {
      cluster, postgres: this.postgres, ...settings.router, scheduling: mergeScheduling(scheduling, settings.router?.scheduling), networkPoliciesEnabled,
    });
    const poolerSettings = settings.pooler ?? {};
    if (poolerSettings.enabled ?? DEFAULTS.pooler.enabled) {
      const { enabled: _enabled, read, ...pooler } = poolerSettings;
      const poolerProps = {
        cluster, router: this.router, secrets: this.secrets, tlsSecretName: this.postgres.tlsSecretName,
        ...pooler, scheduling: mergeScheduling(scheduling, pooler.scheduling),
      };
      this.poolers.push(new PgPooler(this, 'Pooler', { ...poolerProps, role: 'write' }));
      if (read ?? DEFAULTS.pooler.read) this.poolers.push(new PgPooler(this, 'ReadPooler', { ...poolerProps, role: 'read' }));
    }
    this.init = new InitJob(this, 'Init', {
      cluster,
      router: this.router,
      postgres: this.postgres,
      secrets: this.secrets,
      appUser: settings.postgresUser,
      appDb: settings.postgresDb,
      poolerUser: this.poolers[0]?.user,
      poolerServices: this.poolers.map((pooler) => ({ name: pooler.service.name, port: pooler.port })),
      pythonImage: postgresSettings.image ?? DEFAULTS.postgres.image,
      appSecretAnnotations: KEEP_UNTRACKED_ANNOTATIONS,
      ...settings.init,
      scheduling: mergeScheduling(scheduling, settings.init?.scheduling),
    });
    // The secrets Job creates the application's connection Secret too: it names the Services above.
    this.secrets.addGenerator(this.init.appSecret);
    this.converge = new ConvergeJob(this, 'Converge', {
      cluster,
      lease: this.day2Lease,
      postgres: this.postgres,
      secrets: this.secrets,
      image: postgresSettings.image ?? DEFAULTS.postgres.image,
      pgVersion: postgresSettings.pgVersion ?? DEFAULTS.postgres.pgVersion,
      scheduling,
    });
    this.statsIngress = new StatsIngress(this, 'StatsIngress', {
      cluster,
      router: this.router,
      host: `pg-haproxy.${domain}`,
      ...settings.statsIngress,
    });
    if (settings.monitoring?.enabled ?? DEFAULTS.monitoring.enabled) {
      this.monitoring = new Monitoring(this, 'Monitoring', {
        cluster,
        etcd: this.etcd,
        postgres: this.postgres,
        router: this.router,
        poolers: this.poolers,
        synchronousMode: settings.patroni?.synchronousMode ?? DEFAULTS.patroni.synchronousMode,
        ...settings.monitoring,
      });
    }
    if (settings.disruptionBudgets ?? DEFAULTS.disruptionBudgets) {
      this.disruptionBudgets = new DisruptionBudgets(this, 'DisruptionBudgets', {
        cluster, etcd: this.etcd, postgres: this.postgres, router: this.router, poolers: this.poolers, labels: clusterPods,
      });
    }
    if (networkPoliciesEnabled) {
      this.networkPolicies = new NetworkPolicies(this, 'NetworkPolicies', {
        ...networkPolicies,
        objectStoragePorts: backupStoragePorts(networkPolicies.objectStoragePorts, this.backups.storagePort),
        cluster,
        clusterPodLabels: clusterPods,
        etcd: this.etcd,
        postgres: this.postgres,
        router: this.router,
        poolers: this.poolers,
        init: this.init,
        rollout: this.rollout,
        converge: this.converge,
        secretsGenerator: { selector: this.secrets.generatorSelector },
        etcdAccess: this.etcdAccess,
        statsExposed: (settings.statsIngress?.kind ?? DEFAULTS.statsIngress.kind) !== 'none',
        labels: clusterPods,
      });
    }
    const tls = this.postgres.tls;
    if (tls.issuerName !== undefined && this.postgres.tlsSecretName) {
      this.postgresCertificate = new PostgresCertificate(this, 'PostgresTls', {
        cluster,
        secretName: this.postgres.tlsSecretName,
        issuerName: tls.issuerName,
        issuerKind: tls.issuerKind,
        dnsNames: [
          // Clients verify the router's and the poolers' Service names (the poolers show the same certificate).
          ...postgresTlsDnsNames(cluster, [this.router.writeService.name, this.router.readService.name, ...this.poolers.map((p) => p.service.name)], this.postgres.headlessService.name),
          ...externalDnsNames(tls.externalDnsNames),
        ],
      });
    }

    // Last: every object must exist by now (a test checks that each one has a wave).
    annotateForArgoCd(this, this.syncWaveGroups());
  }

  /** Each group of objects and its sync wave (see SYNC_WAVES); a group listed later wins for its objects. */
  private syncWaveGroups(): SyncWaveGroup[] {
    const group = (scope: IConstruct | undefined, wave: number, hook?: JobHook): SyncWaveGroup[] => (scope ? [{ scope, wave, hook }] : []);
    return [
      ...group(this.namespaceObject, SYNC_WAVES.namespace),
      ...group(this.secrets, SYNC_WAVES.secretsPrerequisites),
      ...group(this.secrets.generatorJob, SYNC_WAVES.secretsJob),
      ...group(this.networkPolicies, SYNC_WAVES.networkPolicies),
      ...group(this.etcd, SYNC_WAVES.etcd),
      ...group(this.etcdCertificate, SYNC_WAVES.certificates),
      ...group(this.etcdAccess, SYNC_WAVES.etcd),
      ...group(this.postgresCertificate, SYNC_WAVES.certificates),
      ...group(this.postgres, SYNC_WAVES.postgres),
      ...group(this.router, SYNC_WAVES.router),
      ...this.poolers.flatMap((pooler) => group(pooler, SYNC_WAVES.router)),
      ...group(this.init, SYNC_WAVES.init),
      // The rollout Job's account, Role and script with the members; the Job itself after everything.
      ...group(this.rollout, SYNC_WAVES.postgres),
      ...group(this.day2Lease, SYNC_WAVES.postgres),
      ...group(this.rollout.job, SYNC_WAVES.rollout, 'PostSync'),
      { scope: this.converge, wave: SYNC_WAVES.converge, hook: 'PostSync' },
      ...group(this.statsIngress, SYNC_WAVES.extras),
      ...group(this.monitoring, SYNC_WAVES.extras),
      ...group(this.disruptionBudgets, SYNC_WAVES.extras),
    ];
  }
}

/**
 * Object-storage ports the Postgres pods may reach: the configured ones, plus the backup endpoint's
 * port by default (a MinIO on :9000 would otherwise be blocked); an explicit list must include it.
 */
function backupStoragePorts(configured: number[] | undefined, storagePort: number | undefined): number[] | undefined {
  if (storagePort === undefined) return configured;
  if (configured === undefined) return [...new Set([...DEFAULTS.networkPolicies.objectStoragePorts, storagePort])];
  if (!configured.includes(storagePort)) {
    throw new ConfigError('networkPolicies.objectStoragePorts', configured.join(','), `a list that includes ${storagePort}, the port of the backup endpoint (or the Postgres pods cannot reach it)`);
  }
  return configured;
}
