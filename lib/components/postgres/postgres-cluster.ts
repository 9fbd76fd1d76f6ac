import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { ClusterSecrets } from '../jobs/cluster-secrets';
import { PatroniSettings, PostgresSettings, PostgresTlsSettings } from '../../settings/component-settings';
import { DEFAULTS } from '../../settings/defaults';
import { ETCD_TLS_KEYS, EtcdCluster, etcdTlsVolume } from '../etcd/etcd-cluster';
import { ETCD_PATRONI_USER } from '../etcd/etcd-access';
import { componentServiceAccountWithRole, SERVICE_ACCOUNT_TOKEN_MOUNT, serviceAccountTokenVolume } from '../../k8s/service-accounts';
import { EXPORTER_UID, restrictedContainerSecurityContext, restrictedPodSecurityContext, SPILO_GID, SPILO_UID } from '../../k8s/security-context';
import { quantityValue, resolveResources } from '../../k8s/resources';
import { schedulingSpec } from '../../k8s/scheduling';
import { patroniDynamicConfig, renderSpiloConfiguration } from './patroni-config';
import { ParameterValue, routeParameters } from './postgres-parameters';
import { resolvePostgresTls } from './postgres-tls';
import { readAsset } from '../../assets/read-asset';
import { ComponentIdentity, imageVersion, selectorLabels, standardLabels } from '../../k8s/labels';
import { checkImage, checkInt, checkQuantity, checkRoleName, checkUnprivilegedPort, ConfigError } from '../../validation';
import { ClusterContext, postgresPodNames, statefulPodFqdns } from '../../settings/cluster-names';
import { REPLICATION_USER, REST_API_USER, SUPERUSER } from '../../settings/credentials';
import { DeployedManifests, deployedClaimTemplates, STORAGE_SIZE_ANNOTATION } from '../../k8s/claim-templates';
import { fieldEnv, httpProbe, memberSetSpec, namedServicePorts, plainEnv, StatefulSetWithTypedClaims, volumeClaimTemplate } from '../../k8s/workload';

/** Ports of a Spilo pod besides PostgreSQL's (`postgres.port`, POSTGRES_PORT). */
export const POSTGRES_PORTS = { patroni: 8008 } as const;

/** Env vars of the postgres container that SPILO_CONFIGURATION refers to. */
const DYNAMIC_CONFIG_VAR = 'BOOTSTRAP_DYNAMIC_CONFIG';
const REST_API_PASSWORD_VAR = 'REST_API_PASSWORD';
/** Spilo's names for the superuser's and the replication user's passwords (SPILO_CONFIGURATION refers to them too). */
const SUPERUSER_PASSWORD_VAR = 'PGPASSWORD_SUPERUSER';
const REPLICATION_PASSWORD_VAR = 'PGPASSWORD_STANDBY';
/** The key of the Patroni ConfigMap that holds the dynamic configuration (one line of JSON). */
export const DYNAMIC_CONFIG_KEY = 'dynamic-config.json';

const PGDATA_MOUNT = '/home/postgres/pgdata';
/** Where the etcd clients' certificate, key and CA are mounted in the postgres container (Patroni shows the certificate and verifies etcd with the CA). */
const ETCD_CLIENT_TLS_MOUNT = '/etc/etcd-client-tls';
/**
 * The cluster domain of the API server's name in Spilo's role callback
 * (https://kubernetes.default.svc.cluster.local, fixed in Spilo's callback_role.py).
 */
const SPILO_CALLBACK_DOMAIN = 'cluster.local';
/** Where the role-label callback for other cluster domains is mounted (role_label_callback.py). */
const ROLE_CALLBACK_MOUNT = '/etc/role-label-callback';
const ROLE_CALLBACK_SCRIPT = 'role_label_callback.py';
/** The port Spilo gives PostgreSQL without PGPORT. */
const SPILO_DEFAULT_PORT = 5432;

export interface PostgresClusterProps extends PostgresSettings {
  /** Where the cluster lives. */
  readonly cluster: ClusterContext;
  /** The etcd cluster Patroni uses as its DCS. */
  readonly dcs: EtcdCluster;
  /** Where the passwords live. */
  readonly secrets: ClusterSecrets;
  /** Patroni's timing and replication settings, and the PostgreSQL parameters. */
  readonly patroni?: PatroniSettings;
  /**
   * WAL archiving through WAL-G is on (backups): archive_command and archive_timeout are then Spilo's.
   * @default false
   */
  readonly archiving?: boolean;
  /**
   * More env vars for the Spilo container, after the chart's own (e.g. the WAL-G settings of backups.ts).
   * @default - none
   */
  readonly extraEnv?: k8s.EnvVar[];
  /**
   * The previous synth output: a running StatefulSet keeps its volumeClaimTemplates (lib/k8s/claim-templates.ts).
   * @default - a new cluster
   */
  readonly deployed?: DeployedManifests;
}

/**
 * PostgreSQL with Patroni (Spilo image) on a StatefulSet, using etcd v3 as the DCS, with a
 * postgres-exporter sidecar in every pod.
 */
export class PostgresCluster extends Construct {
  /** Patroni's scope (cluster name in the DCS). */
  public readonly scope: string;
  /** FQDN of every member, in ordinal order. */
  public readonly podFqdns: string[];
  /** Pod names (= Patroni member names). */
  public readonly podNames: string[];
  public readonly headlessService: k8s.KubeService;
  public readonly statefulSet: StatefulSetWithTypedClaims;
  /** Labels selecting the Postgres pods. */
  public readonly selector: Record<string, string>;
  /** PostgreSQL's port on every pod. */
  public readonly port: number;
  /** The exporter's port on every pod. */
  public readonly exporterPort: number;
  /** The role the exporter logs in as. */
  public readonly monitorUser: string;
  /** The Patroni configuration (YAML) passed in SPILO_CONFIGURATION. */
  public readonly spiloConfiguration: string;
  /** Patroni's dynamic configuration as Git declares it (bootstrap, and what the converge Job applies). */
  public readonly dynamicConfig: ReturnType<typeof patroniDynamicConfig>;
  /** Parameters in Spilo's local configuration (they change with a pod restart, not in the DCS). */
  public readonly localParameters: Record<string, ParameterValue>;
  /** The ConfigMap holding the dynamic configuration (key `DYNAMIC_CONFIG_KEY`). */
  public readonly patroniConfigMap: k8s.KubeConfigMap;
  /** The Patroni REST API's URL on every member, in ordinal order. */
  public readonly restApiUrls: string[];
  /** Members of the cluster. */
  public readonly replicas: number;
  /** The Secret holding PostgreSQL's serving certificate (`tls.crt`, `tls.key`, `ca.crt`), if any. */
  public readonly tlsSecretName?: string;
  /** The TLS settings (for the cert-manager Certificate the chart may add). */
  public readonly tls: PostgresTlsSettings;
  /** The declared size of each member's data volume (the rollout Job grows existing claims to it). */
  public readonly storageSize: string;
  /** Name of the data volume's claim template (claims are `<template>-<statefulset>-<ordinal>`). */
  public readonly claimTemplateName = 'pgdata';

  constructor(scope: Construct, id: string, props: PostgresClusterProps) {
    super(scope, id);
    const { cluster, dcs, secrets } = props;
    const replicas = checkInt('postgres.replicas', props.replicas ?? DEFAULTS.postgres.replicas, 1, 9);
    const image = checkImage('postgres.image', props.image ?? DEFAULTS.postgres.image);
    const pgVersion = checkInt('postgres.pgVersion', props.pgVersion ?? DEFAULTS.postgres.pgVersion, 13, 17);
    const storageSize = checkQuantity('postgres.storageSize', props.storageSize ?? DEFAULTS.postgres.storageSize);
    this.storageSize = storageSize;
    const exporterImage = checkImage('postgres.exporterImage', props.exporterImage ?? DEFAULTS.postgres.exporterImage);
    this.port = checkUnprivilegedPort('postgres.port', props.port ?? DEFAULTS.postgres.port, 'PostgreSQL runs as the postgres user and binds it itself');
    if (this.port === POSTGRES_PORTS.patroni) {
      throw new ConfigError('postgres.port', this.port, `different from Patroni's REST API (${POSTGRES_PORTS.patroni}) in the same pod`);
    }
    this.exporterPort = checkInt('postgres.exporterPort', props.exporterPort ?? DEFAULTS.postgres.exporterPort, 1024, 65535);
    if (this.exporterPort === this.port || this.exporterPort === POSTGRES_PORTS.patroni) {
      throw new ConfigError('postgres.exporterPort', this.exporterPort, `different from PostgreSQL (${this.port}) and Patroni (${POSTGRES_PORTS.patroni}) in the same pod`);
    }
    this.monitorUser = checkRoleName('postgres.monitorUser', props.monitorUser ?? DEFAULTS.postgres.monitorUser);
    const resources = resolveResources('postgres.resources', DEFAULTS.postgres.resources, props.resources,
      'Spilo sizes shared_buffers and max_connections from the memory limit (without one, from the node\'s RAM)');
    const exporterResources = resolveResources('postgres.exporterResources', DEFAULTS.postgres.exporterResources, props.exporterResources);
    this.replicas = replicas;
    this.tls = props.tls ?? {};
    this.tlsSecretName = resolvePostgresTls(cluster, this.tls);

    this.scope = cluster.name;
    const name = cluster.name;
    const headlessName = `${name}-headless`;
    const identity: ComponentIdentity = { instance: cluster.name, name: 'postgresql', component: 'database', version: imageVersion(image) };
    const labels = standardLabels(identity);
    this.selector = selectorLabels(identity);
    this.podNames = postgresPodNames(cluster, replicas);
    this.podFqdns = statefulPodFqdns(cluster, name, headlessName, replicas);
    const patroni = props.patroni ?? {};
    const memoryLimit = String(resources.limits!.memory!.value);
    const parameters = routeParameters('patroni.parameters', patroni.parameters ?? {}, {
      backupsEnabled: props.archiving ?? false,
      memoryLimit: { setting: 'postgres.resources.limits.memory', text: memoryLimit, bytes: quantityValue(memoryLimit) },
    });
    this.dynamicConfig = patroniDynamicConfig(patroni, parameters.dcs);
    // Spilo's role callback finds the API server at kubernetes.default.svc.cluster.local only; in a
    // cluster with another domain, Patroni runs Spilo's callback through role_label_callback.py, which
    // finds it by KUBERNETES_SERVICE_HOST like every in-cluster client.
    const roleCallback = cluster.clusterDomain === SPILO_CALLBACK_DOMAIN ? undefined : new k8s.KubeConfigMap(this, 'RoleLabelCallback', {
      metadata: { name: `${name}-role-label-callback`, labels: standardLabels(identity) },
      data: { [ROLE_CALLBACK_SCRIPT]: readAsset(ROLE_CALLBACK_SCRIPT) },
    });
    this.localParameters = parameters.local;
    this.spiloConfiguration = renderSpiloConfiguration(
      {
        dynamicConfigVar: DYNAMIC_CONFIG_VAR,
        restApi: { username: REST_API_USER, passwordVar: REST_API_PASSWORD_VAR },
        passwordVars: { superuser: SUPERUSER_PASSWORD_VAR, replication: REPLICATION_PASSWORD_VAR },
        roleCallback: roleCallback && `python3 ${ROLE_CALLBACK_MOUNT}/${ROLE_CALLBACK_SCRIPT}`,
      },
      parameters.local,
    );
    this.restApiUrls = this.podFqdns.map((fqdn) => `http://${fqdn}:${POSTGRES_PORTS.patroni}`);
    // Pods read it when they start (bootstrap only); a change is applied by the converge Job, not a rollout.
    this.patroniConfigMap = new k8s.KubeConfigMap(this, 'PatroniConfig', {
      metadata: { name: `${name}-patroni`, labels },
      data: { [DYNAMIC_CONFIG_KEY]: JSON.stringify(this.dynamicConfig) },
    });
    const scheduling = schedulingSpec('postgres.scheduling', this.selector, props.scheduling);

    this.headlessService = new k8s.KubeService(this, 'Headless', {
      metadata: { name: headlessName, labels },
      spec: {
        clusterIp: 'None',
        // The router follows pods by DNS and lets Patroni's health checks decide; a pod that is not
        // (yet) ready must still resolve, or a recovering member would vanish from the router.
        publishNotReadyAddresses: true,
        selector: this.selector,
        ports: namedServicePorts({ postgresql: this.port, patroni: POSTGRES_PORTS.patroni, metrics: this.exporterPort }),
      },
    });

    // Spilo's role callback labels its own pod `spilo-role=primary|replica` (kubectl get pods -L spilo-role).
    const saName = componentServiceAccountWithRole(this, `${name}-postgres`, labels, cluster.namespace, [
      { apiGroups: [''], resources: ['pods'], resourceNames: this.podNames, verbs: ['get', 'patch'] },
    ]);

    this.statefulSet = new StatefulSetWithTypedClaims(this, 'StatefulSet', {
      metadata: { name, labels, annotations: { [STORAGE_SIZE_ANNOTATION]: storageSize } },
      spec: {
        // Parallel start: members find each other through etcd, not through start order.
        // OnDelete: the rollout Job replaces the pods, replicas first and the primary last after one
        // switchover; RollingUpdate would go by ordinal and could restart the primary mid-way.
        ...memberSetSpec(headlessName, replicas, this.selector, 'OnDelete'),
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: saName,
            // Spilo's role callback uses the token; it is mounted into the postgres container only
            // (volume below), not into the exporter sidecar, which never calls the API.
            automountServiceAccountToken: false,
            // Spilo turns every ETCD3_*-like variable into DCS config: no service-link variables.
            enableServiceLinks: false,
            // Long enough for Patroni to hand the leader lock over and shut PostgreSQL down cleanly.
            terminationGracePeriodSeconds: 300,
            ...scheduling,
            // Spilo as its image's `postgres` user (launch.sh and runit support a non-root start; cron
            // backups run through Spilo's cron_unprivileged.so). fsGroup makes a new volume writable;
            // OnRootMismatch leaves a volume a root-run Spilo already gave to 101:103 as it is.
            securityContext: restrictedPodSecurityContext(SPILO_UID, SPILO_GID, { fsGroup: SPILO_GID, fsGroupChangePolicy: 'OnRootMismatch' }),
            containers: [
              {
                name: 'postgres',
                image,
                ports: [
                  { name: 'postgresql', containerPort: this.port },
                  { name: 'patroni', containerPort: POSTGRES_PORTS.patroni },
                ],
                env: [
                  ...plainEnv({
                    SCOPE: this.scope,
                    PGVERSION: pgVersion,
                    // etcd v3 API; DCS_ENABLE_KUBERNETES_API stays unset so Spilo never picks the Kubernetes DCS.
                    ETCD3_HOSTS: dcs.clientEndpoints.join(','),
                  }),
                  // Spilo's PostgreSQL listens on PGPORT (its default: 5432) and advertises it to Patroni.
                  ...(this.port !== SPILO_DEFAULT_PORT ? plainEnv({ PGPORT: this.port }) : []),
                  fieldEnv('POD_IP', 'status.podIP'),
                  fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
                  { name: 'PGUSER_SUPERUSER', value: SUPERUSER },
                  secrets.env(SUPERUSER_PASSWORD_VAR, 'superuser'),
                  { name: 'PGUSER_STANDBY', value: REPLICATION_USER },
                  secrets.env(REPLICATION_PASSWORD_VAR, 'replication'),
                  // etcd over https (its CA) and Patroni's etcd user, when etcd has them.
                  ...etcdClientEnv(dcs, secrets),
                  // PostgreSQL's serving certificate, when one is configured (postgres.tls).
                  ...tlsEnv(this.tlsSecretName),
                  // Referred to by SPILO_CONFIGURATION as $(VAR): defined before it. A ConfigMap key,
                  // so a changed dynamic configuration leaves the pod template as it is.
                  { name: DYNAMIC_CONFIG_VAR, valueFrom: { configMapKeyRef: { name: this.patroniConfigMap.name, key: DYNAMIC_CONFIG_KEY } } },
                  secrets.env(REST_API_PASSWORD_VAR, 'restapi'),
                  // Patroni settings (PATRONI_* env vars are stripped by Spilo's runit script).
                  { name: 'SPILO_CONFIGURATION', value: this.spiloConfiguration },
                  ...(props.extraEnv ?? []),
                ],
                readinessProbe: httpProbe('/readiness', 'patroni', { periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 }),
                livenessProbe: httpProbe('/liveness', 'patroni', { initialDelaySeconds: 30, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 }),
                resources,
                // Pod Security "restricted": no capability, no privilege escalation. The root filesystem
                // stays writable: Spilo writes its configuration and certificates to /run and its
                // uid into /etc/passwd (the image makes both group-writable for this).
                securityContext: restrictedContainerSecurityContext({ readOnlyRootFilesystem: false }),
                volumeMounts: [
                  { name: 'pgdata', mountPath: PGDATA_MOUNT },
                  { name: 'dshm', mountPath: '/dev/shm' },
                  { name: 'kube-api-access', mountPath: SERVICE_ACCOUNT_TOKEN_MOUNT, readOnly: true },
                  ...(dcs.tls ? [{ name: 'etcd-client-tls', mountPath: ETCD_CLIENT_TLS_MOUNT, readOnly: true }] : []),
                  ...(roleCallback ? [{ name: 'role-label-callback', mountPath: ROLE_CALLBACK_MOUNT, readOnly: true }] : []),
                ],
              },
              {
                name: 'exporter',
                image: exporterImage,
                args: [`--web.listen-address=:${this.exporterPort}`, '--web.telemetry-path=/metrics'],
                ports: [{ name: 'metrics', containerPort: this.exporterPort }],
                env: [
                  // Loopback: Spilo's pg_hba allows md5 without TLS from 127.0.0.1 only.
                  { name: 'DATA_SOURCE_URI', value: `127.0.0.1:${this.port}/postgres?sslmode=disable` },
                  { name: 'DATA_SOURCE_USER', value: this.monitorUser },
                  // Not DATA_SOURCE_PASS: the exporter splits the connection string it builds from it
                  // on spaces (parseFingerprint), so a password with a space fails, and is logged.
                  // Its Go driver (pq) reads PGPASSWORD when the string has none.
                  secrets.env('PGPASSWORD', 'monitor'),
                ],
                readinessProbe: httpProbe('/', 'metrics', { periodSeconds: 10, timeoutSeconds: 5 }),
                livenessProbe: httpProbe('/', 'metrics', { periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 }),
                resources: exporterResources,
                // The image's `nobody`, by number: the sidecar meets "restricted" on its own.
                securityContext: restrictedContainerSecurityContext({ runAsNonRoot: true, runAsUser: EXPORTER_UID, runAsGroup: EXPORTER_UID }),
              },
            ],
            volumes: [
              // PostgreSQL's parallel queries need more shared memory than a container's 64Mi /dev/shm.
              { name: 'dshm', emptyDir: { medium: 'Memory' } },
              serviceAccountTokenVolume('kube-api-access'),
              // The clients' certificate and the CA (the key readable by the pod's fsGroup only): never etcd's key.
              ...(dcs.tls ? [etcdTlsVolume('etcd-client-tls', dcs.tls.clientSecretName, Object.values(ETCD_TLS_KEYS), 0o440)] : []),
              ...(roleCallback ? [{ name: 'role-label-callback', configMap: { name: roleCallback.name } }] : []),
            ],
          },
        },
        volumeClaimTemplates: [volumeClaimTemplate(this.claimTemplateName, storageSize, props.storageClass)],
      },
    });
    this.statefulSet.deployedClaimTemplates = deployedClaimTemplates(props.deployed?.statefulSet(cluster.namespace, name), {
      sizeSetting: 'postgres.storageSize', classSetting: 'postgres.storageClass', size: storageSize, storageClass: props.storageClass,
    });
  }
}

/**
 * Spilo turns ETCD3_<X> into Patroni's `etcd3.<x>`: https with etcd's CA and the clients' certificate
 * (etcd's `--client-cert-auth`; in the Spilo template of the migration step already, so that the
 * second step changes only etcd), and with etcd auth the
 * `patroni` user's password (Patroni then waits for the etcd access Job to turn auth on: etcd-access.ts).
 * `use_proxies`: Patroni talks to the members of ETCD3_HOSTS over https instead of the client URLs
 * the members advertise, which stay http while a cluster moves from plain etcd (etcd.tls.migration);
 * always on, so the second step of that move (with ETCD_AUTH=false) leaves the Spilo pods alone.
 */
function etcdClientEnv(dcs: EtcdCluster, secrets: ClusterSecrets): k8s.EnvVar[] {
  if (!dcs.tls) return [];
  return [
    ...plainEnv({
      ETCD3_PROTOCOL: 'https',
      ETCD3_CACERT: `${ETCD_CLIENT_TLS_MOUNT}/${ETCD_TLS_KEYS.ca}`,
      ETCD3_CERT: `${ETCD_CLIENT_TLS_MOUNT}/${ETCD_TLS_KEYS.certificate}`,
      ETCD3_KEY: `${ETCD_CLIENT_TLS_MOUNT}/${ETCD_TLS_KEYS.key}`,
      ETCD3_USE_PROXIES: 'true',
    }),
    // Never during the move from plain etcd: etcd's auth stays off then (etcd-tls.ts).
    ...(dcs.authEnabled ? [{ name: 'ETCD3_USERNAME', value: ETCD_PATRONI_USER }, secrets.env('ETCD3_PASSWORD', 'etcdPatroni')] : []),
  ];
}

/** Spilo writes these env vars (certificate contents) to /run/certs with owner postgres and mode 0600. */
function tlsEnv(secretName: string | undefined): k8s.EnvVar[] {
  if (!secretName) return [];
  return [
    { name: 'SSL_CERTIFICATE', valueFrom: { secretKeyRef: { name: secretName, key: 'tls.crt' } } },
    { name: 'SSL_PRIVATE_KEY', valueFrom: { secretKeyRef: { name: secretName, key: 'tls.key' } } },
    // Optional: a Secret without a CA still serves the certificate.
    { name: 'SSL_CA', valueFrom: { secretKeyRef: { name: secretName, key: 'ca.crt', optional: true } } },
  ];
}
