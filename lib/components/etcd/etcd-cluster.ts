import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { EtcdSettings } from '../../settings/component-settings';
import { DEFAULTS } from '../../settings/defaults';
import { ETCD_UID, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../../k8s/security-context';
import { componentServiceAccount } from '../../k8s/service-accounts';
import { ComponentIdentity, imageVersion, selectorLabels, standardLabels } from '../../k8s/labels';
import { resolveResources } from '../../k8s/resources';
import { schedulingSpec } from '../../k8s/scheduling';
import { checkDistinct, checkImage, checkOddInt, checkQuantity, checkUnprivilegedPort } from '../../validation';
import { ClusterContext, etcdClientEndpoints, etcdNames, serviceFqdn, statefulPodFqdns } from '../../settings/cluster-names';
import { DeployedManifests, deployedClaimTemplates, STORAGE_SIZE_ANNOTATION } from '../../k8s/claim-templates';
import { fieldEnv, httpProbe, memberSetSpec, namedServicePorts, plainEnv, StatefulSetWithTypedClaims, volumeClaimTemplate } from '../../k8s/workload';

/** Ports etcd listens on besides its client port (`etcd.clientPort`, ETCD_CLIENT_PORT). */
export const ETCD_PORTS = { peer: 2380, metrics: 8080 } as const;

const DATA_DIR = '/var/lib/etcd';

export interface EtcdClusterProps extends EtcdSettings {
  /** Where the cluster lives. */
  readonly cluster: ClusterContext;
  /**
   * The previous synth output: a running StatefulSet keeps its volumeClaimTemplates (lib/k8s/claim-templates.ts).
   * @default - a new cluster
   */
  readonly deployed?: DeployedManifests;
}

/**
 * A static etcd cluster on a StatefulSet: Patroni's distributed configuration store (DCS).
 *
 * The image is distroless (no shell), so every setting is an `ETCD_*` env var using Kubernetes'
 * `$(VAR)` expansion. Members find each other through a headless Service that publishes
 * not-ready addresses, and start in parallel (a member cannot be ready before a quorum exists).
 */
export class EtcdCluster extends Construct {
  /** `host:port` of every member's client URL, for Patroni's `etcd3.hosts` (ETCD3_HOSTS). */
  public readonly clientEndpoints: string[];
  /** FQDN of every member (pod) behind the headless Service. */
  public readonly podFqdns: string[];
  /** The headless Service that gives each member a stable DNS name. */
  public readonly headlessService: k8s.KubeService;
  /** The ClusterIP Service for etcdctl and other clients. */
  public readonly clientService: k8s.KubeService;
  public readonly statefulSet: StatefulSetWithTypedClaims;
  /** Labels selecting the etcd pods. */
  public readonly selector: Record<string, string>;
  /** Members of the cluster. */
  public readonly replicas: number;
  /** The declared size of each member's data volume (the rollout Job grows existing claims to it). */
  public readonly storageSize: string;
  /** Name of the data volume's claim template (claims are `<template>-<statefulset>-<ordinal>`). */
  public readonly claimTemplateName = 'data';
  /** The port clients (Patroni, etcdctl) connect to on every member and on the client Service. */
  public readonly clientPort: number;

  constructor(scope: Construct, id: string, props: EtcdClusterProps) {
    super(scope, id);
    const { cluster } = props;
    const replicas = checkOddInt('etcd.replicas', props.replicas ?? DEFAULTS.etcd.replicas, 1, 9);
    const image = checkImage('etcd.image', props.image ?? DEFAULTS.etcd.image);
    const storageSize = checkQuantity('etcd.storageSize', props.storageSize ?? DEFAULTS.etcd.storageSize);
    const storageClass = props.storageClass;
    const resources = resolveResources('etcd.resources', DEFAULTS.etcd.resources, props.resources);
    this.replicas = replicas;
    this.storageSize = storageSize;
    const clientPort = checkUnprivilegedPort('etcd.clientPort', props.clientPort ?? DEFAULTS.etcd.clientPort, 'etcd runs as a non-root user and binds it itself');
    // Fixed ports first, so an error names the setting.
    checkDistinct({ 'etcd\'s peer port': ETCD_PORTS.peer, 'etcd\'s metrics port': ETCD_PORTS.metrics, 'etcd.clientPort': clientPort }, 'each etcd port needs its own number');
    this.clientPort = clientPort;

    const { statefulSet: name, headless: headlessName } = etcdNames(cluster);
    const identity: ComponentIdentity = { instance: cluster.name, name: 'etcd', component: 'dcs', version: imageVersion(image) };
    const labels = standardLabels(identity);
    this.selector = selectorLabels(identity);
    this.podFqdns = statefulPodFqdns(cluster, name, headlessName, replicas);
    this.clientEndpoints = etcdClientEndpoints(cluster, replicas, clientPort);
    const scheduling = schedulingSpec('etcd.scheduling', this.selector, props.scheduling);
    const serviceAccountName = componentServiceAccount(this, name, labels);

    this.headlessService = new k8s.KubeService(this, 'Headless', {
      metadata: { name: headlessName, labels },
      spec: {
        clusterIp: 'None',
        // Peers must resolve each other before any of them is ready (readiness needs a quorum).
        publishNotReadyAddresses: true,
        selector: this.selector,
        ports: namedServicePorts({ client: clientPort, peer: ETCD_PORTS.peer }),
      },
    });
    this.clientService = new k8s.KubeService(this, 'Client', {
      metadata: { name, labels },
      spec: {
        selector: this.selector,
        ports: namedServicePorts({ client: clientPort }),
      },
    });

    const memberUrl = (pod: string, port: number) => `http://${pod}.${serviceFqdn(cluster, headlessName)}:${port}`;
    const initialCluster = Array.from({ length: replicas }, (_, i) => `${name}-${i}=${memberUrl(`${name}-${i}`, ETCD_PORTS.peer)}`).join(',');

    this.statefulSet = new StatefulSetWithTypedClaims(this, 'StatefulSet', {
      metadata: { name, labels, annotations: { [STORAGE_SIZE_ANNOTATION]: storageSize } },
      spec: {
        // Parallel start: OrderedReady would deadlock (member 0 is not ready until a quorum of members runs).
        // RollingUpdate: the controller replaces one member at a time, highest ordinal first, and
        // only once every member is Ready; Ready is /readyz, a linearizable read, i.e. the member
        // is part of a quorum. So each step starts from a full quorum (docs/day-2.md says why no Job).
        ...memberSetSpec(headlessName, replicas, this.selector, 'RollingUpdate'),
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 30,
            ...scheduling,
            // The distroless image's `nonroot` user, by number; fsGroup makes the data volume writable
            // (OnRootMismatch: a volume first written as root is re-owned once, not on every start).
            securityContext: restrictedPodSecurityContext(ETCD_UID, ETCD_UID, { fsGroup: ETCD_UID, fsGroupChangePolicy: 'OnRootMismatch' }),
            containers: [{
              name: 'etcd',
              image,
              ports: [
                { name: 'client', containerPort: clientPort },
                { name: 'peer', containerPort: ETCD_PORTS.peer },
                { name: 'metrics', containerPort: ETCD_PORTS.metrics },
              ],
              env: [
                fieldEnv('POD_NAME', 'metadata.name'),
                ...plainEnv({
                  ETCD_NAME: '$(POD_NAME)',
                  ETCD_DATA_DIR: `${DATA_DIR}/data`,
                  ETCD_LISTEN_PEER_URLS: `http://0.0.0.0:${ETCD_PORTS.peer}`,
                  ETCD_LISTEN_CLIENT_URLS: `http://0.0.0.0:${clientPort}`,
                  ETCD_LISTEN_METRICS_URLS: `http://0.0.0.0:${ETCD_PORTS.metrics}`,
                  // Patroni connects to the advertised client URLs it reads from the member list.
                  ETCD_ADVERTISE_CLIENT_URLS: memberUrl('$(POD_NAME)', clientPort),
                  ETCD_INITIAL_ADVERTISE_PEER_URLS: memberUrl('$(POD_NAME)', ETCD_PORTS.peer),
                  ETCD_INITIAL_CLUSTER: initialCluster,
                  // Ignored once a member has data, so `new` stays correct across restarts.
                  ETCD_INITIAL_CLUSTER_STATE: 'new',
                  // Unique per namespace and cluster: members of another cluster cannot join by mistake.
                  ETCD_INITIAL_CLUSTER_TOKEN: `${name}.${cluster.namespace}`,
                  // Patroni rewrites its keys every loop: compact history so the DB never hits its quota.
                  ETCD_AUTO_COMPACTION_MODE: 'periodic',
                  ETCD_AUTO_COMPACTION_RETENTION: '1h',
                }),
              ],
              // /readyz needs a quorum (linearizable read); /livez does not, so losing quorum restarts nothing.
              readinessProbe: httpProbe('/readyz', 'metrics', { periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 }),
              livenessProbe: httpProbe('/livez', 'metrics', { initialDelaySeconds: 15, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 }),
              resources,
              // etcd writes only to its data volume.
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [{ name: 'data', mountPath: DATA_DIR }],
            }],
          },
        },
        volumeClaimTemplates: [volumeClaimTemplate(this.claimTemplateName, storageSize, storageClass)],
      },
    });
    this.statefulSet.deployedClaimTemplates = deployedClaimTemplates(props.deployed?.statefulSet(cluster.namespace, name), {
      sizeSetting: 'etcd.storageSize', classSetting: 'etcd.storageClass', size: storageSize, storageClass,
    });
  }
}
