import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { readAsset } from '../../assets/read-asset';
import { ClusterContext, serviceFqdn } from '../../settings/cluster-names';
import { ComponentIdentity, imageVersion, selectorLabels, standardLabels } from '../../k8s/labels';
import { resolveResources } from '../../k8s/resources';
import { rollingUpdateFor, schedulingSpec } from '../../k8s/scheduling';
import { EXPORTER_UID, PGBOUNCER_GID, PGBOUNCER_UID, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../../k8s/security-context';
import { componentServiceAccount } from '../../k8s/service-accounts';
import { contentHash, httpProbe, namedServicePorts, plainEnv } from '../../k8s/workload';
import { DEFAULTS } from '../../settings/defaults';
import { POOL_MODES, PoolerSettings } from '../../settings/pooler-settings';
import { checkImage, checkInt, checkOneOf, checkPort, checkRoleName } from '../../validation';
import { ClusterSecrets } from '../jobs/cluster-secrets';
import { PgRouter } from '../router/pg-router';
import { PGBOUNCER_PORT, POOLER_RUN_DIR, renderPgbouncerConfig } from './pgbouncer-config';

/** Port of the pgbouncer-exporter sidecar (its default). */
export const POOLER_METRICS_PORT = 9127;

/** Which router Service a pooler sits in front of. */
export type PoolerRole = 'write' | 'read';

export interface PgPoolerProps extends PoolerSettings {
  readonly cluster: ClusterContext;
  readonly role: PoolerRole;
  /** The router whose write or read Service the pooler connects to. */
  readonly router: PgRouter;
  readonly secrets: ClusterSecrets;
  /** The Secret with the cluster's certificate (`tls.crt`, `tls.key`, `ca.crt`), if any. */
  readonly tlsSecretName?: string;
}

const CONFIG_DIR = '/etc/pgbouncer';
const TLS_DIR = '/etc/pooler-tls';

/**
 * PgBouncer in front of one router Service (`<scope>-pooler` for writes, `<scope>-pooler-ro` for
 * reads): a Deployment of `replicas` pods with a pgbouncer-exporter sidecar, its ConfigMap and Service.
 * A change of pgbouncer.ini or of the start script rolls the pods.
 */
export class PgPooler extends Construct {
  public readonly role: PoolerRole;
  public readonly service: k8s.KubeService;
  public readonly deployment: k8s.KubeDeployment;
  public readonly configMap: k8s.KubeConfigMap;
  /** The rendered pgbouncer.ini. */
  public readonly pgbouncerConfig: string;
  /** Labels selecting the pooler pods. */
  public readonly selector: Record<string, string>;
  public readonly replicas: number;
  /** Port of the Service. */
  public readonly port: number;
  /** Port PgBouncer listens on in the pods. */
  public readonly podPort = PGBOUNCER_PORT;
  public readonly metricsPort = POOLER_METRICS_PORT;
  /** The router port the pooler connects to. */
  public readonly routerPort: number;
  /** The auth_query role. */
  public readonly user: string;
  public readonly defaultPoolSize: number;

  constructor(scope: Construct, id: string, props: PgPoolerProps) {
    super(scope, id);
    const { cluster, role, router, secrets } = props;
    this.role = role;
    this.replicas = checkInt('pooler.replicas', props.replicas ?? DEFAULTS.pooler.replicas, 1, 20);
    const image = checkImage('pooler.image', props.image ?? DEFAULTS.pooler.image);
    const exporterImage = checkImage('pooler.exporterImage', props.exporterImage ?? DEFAULTS.pooler.exporterImage);
    // Only the Service listens on it (PgBouncer binds 6432 in the pod), so any port will do.
    this.port = checkPort('pooler.port', props.port ?? DEFAULTS.pooler.port);
    const mode = checkOneOf('pooler.mode', props.mode ?? DEFAULTS.pooler.mode, POOL_MODES);
    const maxClientConnections = checkInt('pooler.maxClientConnections', props.maxClientConnections ?? DEFAULTS.pooler.maxClientConnections, 1, 100000);
    this.defaultPoolSize = checkInt('pooler.defaultPoolSize', props.defaultPoolSize ?? DEFAULTS.pooler.defaultPoolSize, 1, 10000);
    const reservePoolSize = checkInt('pooler.reservePoolSize', props.reservePoolSize ?? DEFAULTS.pooler.reservePoolSize, 0, 10000);
    this.user = checkRoleName('pooler.user', props.user ?? DEFAULTS.pooler.user);
    const resources = resolveResources('pooler.resources', DEFAULTS.pooler.resources, props.resources);
    const exporterResources = resolveResources('pooler.exporterResources', DEFAULTS.pooler.exporterResources, props.exporterResources);

    const routerService = role === 'write' ? router.writeService : router.readService;
    this.routerPort = role === 'write' ? router.writePort : router.readPort;
    const name = role === 'write' ? `${cluster.name}-pooler` : `${cluster.name}-pooler-ro`;
    const identity: ComponentIdentity = { instance: cluster.name, name: 'pgbouncer', component: role === 'write' ? 'pooler' : 'pooler-ro', version: imageVersion(image) };
    const labels = standardLabels(identity);
    this.selector = selectorLabels(identity);
    const scheduling = schedulingSpec('pooler.scheduling', this.selector, props.scheduling);
    const serviceAccountName = componentServiceAccount(this, name, labels);
    const tlsSecret = props.tlsSecretName;

    this.pgbouncerConfig = renderPgbouncerConfig({
      serverHost: serviceFqdn(cluster, routerService.name),
      serverPort: this.routerPort,
      mode,
      defaultPoolSize: this.defaultPoolSize,
      reservePoolSize,
      maxClientConnections,
      authUser: this.user,
      clusterTlsDir: tlsSecret ? TLS_DIR : undefined,
    });
    const data = { 'pgbouncer.ini': this.pgbouncerConfig, 'start.sh': readAsset('pooler-start.sh') };
    this.configMap = new k8s.KubeConfigMap(this, 'Config', { metadata: { name, labels }, data });

    const passwordEnv = secrets.env('POOLER_PASSWORD', 'pooler');
    this.deployment = new k8s.KubeDeployment(this, 'Deployment', {
      metadata: { name, labels },
      spec: {
        replicas: this.replicas,
        selector: { matchLabels: this.selector },
        strategy: { type: 'RollingUpdate', rollingUpdate: rollingUpdateFor(props.scheduling) },
        template: {
          metadata: { labels, annotations: { 'pg-ha.cdk8s.io/config-hash': contentHash(JSON.stringify(data)) } },
          spec: {
            serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            // A stopping pod finishes its transactions (start.sh turns SIGTERM into SIGINT outside
            // session mode), then its clients reconnect to another pod through the Service.
            terminationGracePeriodSeconds: 30,
            ...scheduling,
            // The image's `pgbouncer` user; fsGroup makes the mounted certificate key readable to it.
            securityContext: restrictedPodSecurityContext(PGBOUNCER_UID, PGBOUNCER_GID, { fsGroup: PGBOUNCER_GID }),
            containers: [{
              name: 'pgbouncer',
              image,
              command: ['/bin/sh', `${CONFIG_DIR}/start.sh`],
              env: [
                ...plainEnv({
                  POOLER_USER: this.user,
                  RUN_DIR: POOLER_RUN_DIR,
                  PGBOUNCER_CONFIG: `${CONFIG_DIR}/pgbouncer.ini`,
                  STOP_SIGNAL: mode === 'session' ? 'TERM' : 'INT',
                  ...(tlsSecret ? {} : { SELF_SIGNED_CN: serviceFqdn(cluster, name) }),
                }),
                passwordEnv,
              ],
              ports: [{ name: 'pgbouncer', containerPort: PGBOUNCER_PORT }],
              readinessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('pgbouncer') }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
              livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('pgbouncer') }, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
              resources,
              securityContext: restrictedContainerSecurityContext({ runAsNonRoot: true, runAsUser: PGBOUNCER_UID, runAsGroup: PGBOUNCER_GID }),
              volumeMounts: [
                { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                { name: 'run', mountPath: POOLER_RUN_DIR },
                ...(tlsSecret ? [{ name: 'tls', mountPath: TLS_DIR, readOnly: true }] : []),
              ],
            }, {
              name: 'exporter',
              image: exporterImage,
              env: [
                // The exporter's Go driver (pq) reads PGPASSWORD when the connection string has no
                // password: the Secret's text as it is, whatever characters it holds (pasted into the
                // URI it would need percent-encoding, which `$(VAR)` cannot do).
                secrets.env('PGPASSWORD', 'pooler'),
                // The admin console's SHOW commands, as the lookup role (stats_users); TLS because
                // PgBouncer requires it of every client.
                { name: 'PGBOUNCER_EXPORTER_CONNECTION_STRING', value: `postgres://${this.user}@127.0.0.1:${PGBOUNCER_PORT}/pgbouncer?sslmode=require` },
              ],
              ports: [{ name: 'metrics', containerPort: POOLER_METRICS_PORT }],
              // The landing page: the exporter's own health (a scrape of /metrics queries PgBouncer).
              readinessProbe: httpProbe('/', 'metrics', { periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 }),
              livenessProbe: httpProbe('/', 'metrics', { initialDelaySeconds: 5, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 }),
              resources: exporterResources,
              securityContext: restrictedContainerSecurityContext({ runAsNonRoot: true, runAsUser: EXPORTER_UID, runAsGroup: EXPORTER_UID }),
            }],
            volumes: [
              { name: 'config', configMap: { name } },
              // The auth file and a self-signed key live in memory, never on the node's disk.
              { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('1Mi') } },
              ...(tlsSecret ? [{ name: 'tls', secret: { secretName: tlsSecret, defaultMode: 0o440 } }] : []),
            ],
          },
        },
      },
    });

    this.service = new k8s.KubeService(this, 'Service', {
      metadata: { name, labels },
      spec: { selector: this.selector, ports: [{ ...namedServicePorts({ pgbouncer: this.port })[0] }] },
    });
  }
}
