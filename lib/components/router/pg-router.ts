import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { RouterSettings } from '../../settings/component-settings';
import { DEFAULTS } from '../../settings/defaults';
import { componentServiceAccount } from '../../k8s/service-accounts';
import { HAPROXY_UID, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../../k8s/security-context';
import { renderHaproxyConfig, STATS_AUTH_ENV } from './haproxy-config';
import { resolveRouterExposure, RouterExposure } from './router-exposure';
import { ComponentIdentity, imageVersion, selectorLabels, standardLabels } from '../../k8s/labels';
import { POSTGRES_PORTS, PostgresCluster } from '../postgres/postgres-cluster';
import { resolveResources } from '../../k8s/resources';
import { rollingUpdateFor, schedulingSpec } from '../../k8s/scheduling';
import { checkDistinct, checkDnsSubdomain, checkImage, checkInt, checkUnprivilegedPort } from '../../validation';
import { ClusterContext } from '../../settings/cluster-names';
import { contentHash, httpProbe, namedServicePorts } from '../../k8s/workload';

export interface PgRouterProps extends RouterSettings {
  /** Where the cluster lives. */
  readonly cluster: ClusterContext;
  /** The members to route to. */
  readonly postgres: PostgresCluster;
  /**
   * Whether the chart writes NetworkPolicies (the only enforcement of a NodePort Service's source ranges).
   * @default true
   */
  readonly networkPoliciesEnabled?: boolean;
}

/**
 * HAProxy in front of the Patroni members: a write Service to the leader, a read Service to the
 * replicas, and a stats/metrics Service. A change to haproxy.cfg rolls the router pods.
 */
export class PgRouter extends Construct {
  /** Clients that write connect here (`<name>-rw:<writePort>`). */
  public readonly writeService: k8s.KubeService;
  /** Read-only clients connect here (`<name>-ro:<readPort>`). */
  public readonly readService: k8s.KubeService;
  /** HAProxy's stats page and Prometheus metrics. */
  public readonly statsService: k8s.KubeService;
  public readonly deployment: k8s.KubeDeployment;
  public readonly configMap: k8s.KubeConfigMap;
  /** The rendered haproxy.cfg. */
  public readonly haproxyConfig: string;
  public readonly writePort: number;
  public readonly readPort: number;
  public readonly statsPort: number;
  public readonly metricsPort: number;
  /** Replicas further behind the leader than this many bytes get no reads. */
  public readonly replicaMaxLagBytes: number;
  /** Labels selecting the router pods. */
  public readonly selector: Record<string, string>;
  /** Router pods. */
  public readonly replicas: number;
  /** Access from outside the cluster: Service type and the address blocks allowed in. */
  public readonly exposure: RouterExposure;

  constructor(scope: Construct, id: string, props: PgRouterProps) {
    super(scope, id);
    const { cluster, postgres } = props;
    const replicas = checkInt('router.replicas', props.replicas ?? DEFAULTS.router.replicas, 1, 20);
    const image = checkImage('router.image', props.image ?? DEFAULTS.router.image);
    this.writePort = checkUnprivilegedPort('router.writePort', props.writePort ?? DEFAULTS.router.writePort);
    this.readPort = checkUnprivilegedPort('router.readPort', props.readPort ?? DEFAULTS.router.readPort);
    this.statsPort = checkUnprivilegedPort('router.statsPort', props.statsPort ?? DEFAULTS.router.statsPort);
    this.metricsPort = checkUnprivilegedPort('router.metricsPort', props.metricsPort ?? DEFAULTS.router.metricsPort);
    checkDistinct({
      'router.writePort': this.writePort,
      'router.readPort': this.readPort,
      'router.statsPort': this.statsPort,
      'router.metricsPort': this.metricsPort,
    });
    const replicaMaxLagBytes = checkInt('router.replicaMaxLagBytes', props.replicaMaxLagBytes ?? DEFAULTS.router.replicaMaxLagBytes, 0, Number.MAX_SAFE_INTEGER);
    this.replicaMaxLagBytes = replicaMaxLagBytes;
    const maxConnections = checkInt('router.maxConnections', props.maxConnections ?? DEFAULTS.router.maxConnections, 1, 100000);
    const resources = resolveResources('router.resources', DEFAULTS.router.resources, props.resources);
    const statsAuthSecret = props.statsAuthSecret === undefined ? undefined : checkDnsSubdomain('router.statsAuthSecret', props.statsAuthSecret);
    this.replicas = replicas;
    this.exposure = resolveRouterExposure(props.external, props.networkPoliciesEnabled ?? true);

    const name = `${cluster.name}-router`;
    const identity: ComponentIdentity = { instance: cluster.name, name: 'haproxy', component: 'router', version: imageVersion(image) };
    const labels = standardLabels(identity);
    this.selector = selectorLabels(identity);
    const scheduling = schedulingSpec('router.scheduling', this.selector, props.scheduling);
    const serviceAccountName = componentServiceAccount(this, name, labels);

    this.haproxyConfig = renderHaproxyConfig({
      backends: postgres.podNames.map((podName, i) => ({ name: podName, host: postgres.podFqdns[i] })),
      postgresPort: postgres.port,
      patroniPort: POSTGRES_PORTS.patroni,
      writePort: this.writePort,
      readPort: this.readPort,
      statsPort: this.statsPort,
      metricsPort: this.metricsPort,
      replicaMaxLagBytes,
      maxConnections,
      statsAuth: statsAuthSecret !== undefined,
    });
    this.configMap = new k8s.KubeConfigMap(this, 'Config', {
      metadata: { name, labels },
      data: { 'haproxy.cfg': this.haproxyConfig },
    });

    this.deployment = new k8s.KubeDeployment(this, 'Deployment', {
      metadata: { name, labels },
      spec: {
        replicas,
        selector: { matchLabels: this.selector },
        strategy: { type: 'RollingUpdate', rollingUpdate: rollingUpdateFor(props.scheduling) },
        template: {
          metadata: {
            labels,
            // A new haproxy.cfg changes this hash, which rolls the pods (HAProxy reads its config at start).
            annotations: { 'pg-ha.cdk8s.io/config-hash': contentHash(this.haproxyConfig) },
          },
          spec: {
            serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 30,
            ...scheduling,
            // The image's user is `haproxy` (uid 99) by name; runAsNonRoot needs the number.
            securityContext: restrictedPodSecurityContext(HAPROXY_UID, HAPROXY_UID),
            containers: [{
              name: 'haproxy',
              image,
              ...(statsAuthSecret ? {
                env: [
                  { name: STATS_AUTH_ENV.user, valueFrom: { secretKeyRef: { name: statsAuthSecret, key: 'username' } } },
                  { name: STATS_AUTH_ENV.secret, valueFrom: { secretKeyRef: { name: statsAuthSecret, key: 'password' } } },
                ],
              } : {}),
              ports: [
                { name: 'write', containerPort: this.writePort },
                { name: 'read', containerPort: this.readPort },
                { name: 'stats', containerPort: this.statsPort },
                { name: 'metrics', containerPort: this.metricsPort },
              ],
              readinessProbe: httpProbe('/metrics', 'metrics', { periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 }),
              livenessProbe: httpProbe('/metrics', 'metrics', { initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 }),
              resources,
              // HAProxy binds ports >= 1024 and writes nothing: no capabilities, read-only root.
              securityContext: restrictedContainerSecurityContext({ runAsNonRoot: true, runAsUser: HAPROXY_UID, runAsGroup: HAPROXY_UID }),
              volumeMounts: [{ name: 'config', mountPath: '/usr/local/etc/haproxy', readOnly: true }],
            }],
            volumes: [{ name: 'config', configMap: { name } }],
          },
        },
      },
    });

    const service = (id: string, serviceName: string, ports: Record<string, number>) => new k8s.KubeService(this, id, {
      metadata: { name: serviceName, labels },
      spec: { selector: this.selector, ports: namedServicePorts(ports) },
    });
    // Clients connect to these two; they are the ones published outside the cluster when asked.
    const clientService = (id: string, serviceName: string, kind: 'write' | 'read', port: number) => {
      const nodePort = this.exposure.nodePort(kind);
      const annotations = this.exposure.annotations;
      return new k8s.KubeService(this, id, {
        metadata: { name: serviceName, labels, ...(Object.keys(annotations).length ? { annotations } : {}) },
        spec: {
          ...this.exposure.serviceSpec,
          selector: this.selector,
          ports: namedServicePorts({ [kind]: port }).map((p) => (nodePort === undefined ? p : { ...p, nodePort })),
        },
      });
    };
    this.writeService = clientService('WriteService', `${cluster.name}-rw`, 'write', this.writePort);
    this.readService = clientService('ReadService', `${cluster.name}-ro`, 'read', this.readPort);
    this.statsService = service('StatsService', name, { stats: this.statsPort, metrics: this.metricsPort });
  }
}
