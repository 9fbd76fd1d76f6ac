import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { EtcdSettings } from '../../settings/component-settings';
import { DEFAULTS } from '../../settings/defaults';
import { ETCD_UID, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../../k8s/security-context';
import { componentServiceAccount } from '../../k8s/service-accounts';
import { ComponentIdentity, imageVersion, selectorLabels, standardLabels } from '../../k8s/labels';
import { resolveResources } from '../../k8s/resources';
import { schedulingSpec } from '../../k8s/scheduling';
import { ConfigError, checkDistinct, checkImage, checkOddInt, checkQuantity, checkUnprivilegedPort } from '../../validation';
import { ClusterContext, etcdClientEndpoints, etcdNames, serviceFqdn, statefulPodFqdns } from '../../settings/cluster-names';
import { DeployedManifests, deployedClaimTemplates, Manifest, STORAGE_SIZE_ANNOTATION } from '../../k8s/claim-templates';
import { EtcdTls, resolveEtcdSecurity } from './etcd-tls';
import { fieldEnv, httpProbe, memberSetSpec, namedServicePorts, plainEnv, StatefulSetWithTypedClaims, volumeClaimTemplate } from '../../k8s/workload';

/** Ports etcd listens on besides its client port (`etcd.clientPort`, ETCD_CLIENT_PORT). */
export const ETCD_PORTS = {
  peer: 2380,
  metrics: 8080,
  /** Peers' https port during the move from plain etcd (`etcd.tls.migration`): http keeps 2380 meanwhile. */
  migrationPeer: 2382,
} as const;

const DATA_DIR = '/var/lib/etcd';
/** Where etcd's certificate, key and CA are mounted in the etcd container. */
const TLS_DIR = '/etc/etcd/tls';
/** The keys of an etcd TLS Secret. */
export const ETCD_TLS_KEYS = { certificate: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } as const;

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
  /** Client and peer TLS (the certificate's Secret and where it comes from), or undefined for plain http. */
  public readonly tls?: EtcdTls;
  /** True when etcd checks users and roles (the etcd access Job creates them and turns it on). */
  public readonly authEnabled: boolean;
  /** True during step 1 of the move from plain etcd (`etcd.tls.migration`). */
  public readonly migration: boolean;
  /** `http` or `https`: what clients speak to etcd (Patroni's ETCD3_PROTOCOL). */
  public readonly clientProtocol: 'http' | 'https';
  /** The client Service's URL (`<protocol>://<fqdn>:<clientPort>`). */
  public readonly clientServiceUrl: string;

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
    checkDistinct({ 'etcd\'s peer port': ETCD_PORTS.peer, 'etcd\'s metrics port': ETCD_PORTS.metrics, 'etcd\'s migration peer port': ETCD_PORTS.migrationPeer, 'etcd.clientPort': clientPort }, 'each etcd port needs its own number');
    this.clientPort = clientPort;
    const security = resolveEtcdSecurity(cluster, props.tls, props.auth);
    this.tls = security.tls;
    this.authEnabled = security.auth;
    const protocol = this.tls ? 'https' : 'http';
    this.clientProtocol = protocol;
    this.migration = this.tls?.migration ?? false;
    checkTlsStep(props.deployed?.statefulSet(cluster.namespace, etcdNames(cluster).statefulSet), this.tls, this.authEnabled,
      deployedEnvNames(props.deployed?.statefulSet(cluster.namespace, cluster.name)).includes('ETCD3_PASSWORD'));

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

    this.clientServiceUrl = `${protocol}://${serviceFqdn(cluster, name)}:${clientPort}`;
    // During the move from plain etcd the members keep their http URLs (old Spilo pods follow the
    // advertised client URLs; the membership's peer URLs are moved by the etcd access Job).
    const migration = this.tls?.migration ?? false;
    const advertised = migration ? 'http' : protocol;
    const memberUrl = (pod: string, port: number) => `${advertised}://${pod}.${serviceFqdn(cluster, headlessName)}:${port}`;
    const initialCluster = Array.from({ length: replicas }, (_, i) => `${name}-${i}=${memberUrl(`${name}-${i}`, ETCD_PORTS.peer)}`).join(',');
    const listen = (port: number, ...protocols: string[]) => protocols.map((p) => `${p}://0.0.0.0:${port}`).join(',');

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
                ...(migration ? [{ name: 'peer-tls', containerPort: ETCD_PORTS.migrationPeer }] : []),
              ],
              env: [
                fieldEnv('POD_NAME', 'metadata.name'),
                ...plainEnv({
                  ETCD_NAME: '$(POD_NAME)',
                  ETCD_DATA_DIR: `${DATA_DIR}/data`,
                  // Migration: etcd cannot serve http and https on one peer port, so https peers get
                  // a port of their own meanwhile; clients get both on one port.
                  ETCD_LISTEN_PEER_URLS: migration ? `${listen(ETCD_PORTS.peer, 'http')},${listen(ETCD_PORTS.migrationPeer, 'https')}` : listen(ETCD_PORTS.peer, protocol),
                  ETCD_LISTEN_CLIENT_URLS: migration ? listen(clientPort, 'http', 'https') : listen(clientPort, protocol),
                  // Plain http, apart from the client port: the kubelet's probes and Prometheus
                  // (/health, /livez, /readyz, /metrics), no key access; the NetworkPolicy admits only them.
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
                  ...(this.tls ? tlsEnv(this.tls.clientCertAuth) : {}),
                }),
              ],
              // /readyz needs a quorum (linearizable read); /livez does not, so losing quorum restarts nothing.
              readinessProbe: httpProbe('/readyz', 'metrics', { periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 }),
              livenessProbe: httpProbe('/livez', 'metrics', { initialDelaySeconds: 15, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 }),
              resources,
              // etcd writes only to its data volume.
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [
                { name: 'data', mountPath: DATA_DIR },
                ...(this.tls ? [{ name: 'tls', mountPath: TLS_DIR, readOnly: true }] : []),
              ],
            }],
            ...(this.tls ? { volumes: [etcdTlsVolume('tls', this.tls.secretName, Object.values(ETCD_TLS_KEYS), 0o440)] } : {}),
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

/** Where users read the two steps of the move from plain etcd (named by the errors below). */
export const ETCD_TLS_MOVE_PAGE = 'docs/security.md#moving-a-cluster-made-with-plain-etcd';

/**
 * A running etcd moves to TLS in two steps (docs/security.md): a cluster whose etcd the previous
 * synth output (dist/) runs on plain http takes `etcd.tls.migration` first; going from TLS back to
 * plain http, or from TLS only back to the migration step, would cut the members off from each other.
 * All are refused before anything is written, naming the line of pg-ha.env that takes the right step.
 * A new cluster (no deployed etcd of that name) never meets them.
 */
function checkTlsStep(deployed: Manifest | undefined, tls: EtcdTls | undefined, auth: boolean, deployedPatroniHasPassword: boolean): void {
  const env: Array<{ name: string; value?: string }> = deployed?.spec?.template?.spec?.containers?.[0]?.env ?? [];
  const peers = env.find((e) => e.name === 'ETCD_LISTEN_PEER_URLS')?.value;
  if (peers === undefined) return; // a new cluster
  const deployedTls = peers.includes('https://');
  if (!deployedTls && tls && !tls.migration) {
    throw new ConfigError('etcd.tls.migration', false,
      'true first: the deployed dist/ runs etcd on plain http (a cluster made from a dist/ older than release 0.1.0), and its members cannot switch to TLS in one step. '
      + `Add the line ETCD_TLS_MIGRATION=true to pg-ha.env, synth, commit and apply, wait for the etcd access and rollout Jobs, then take step 2 (${ETCD_TLS_MOVE_PAGE}); `
      + 'or keep plain etcd with the line ETCD_TLS=false');
  }
  if (deployedTls && !peers.includes('http://') && tls?.migration) {
    throw new ConfigError('etcd.tls.migration', true, 'false: the deployed dist/ runs etcd on TLS only already, and its members\' peer URLs are https on the peer port; '
      + 'the migration step (plain http beside https) is only for a cluster whose etcd runs on plain http, and going back to it would cut the members off from each other');
  }
  if (deployedTls && !tls) {
    throw new ConfigError('etcd.tls.enabled', false, 'true: the deployed dist/ runs etcd with TLS, and its members\' peer URLs are https (moving back to plain http is not supported)');
  }
  // Patroni 4.0 cannot start with a password while etcd's auth is off (patroni/patroni#3525) nor work
  // without one once it is on: auth cannot be turned on under running Spilo pods that have none.
  if (auth && !deployedPatroniHasPassword) {
    throw new ConfigError('etcd.auth', true, 'false: the deployed dist/ runs Patroni without an etcd password (a cluster moved from plain etcd, such as one made from release 0.1.0\'s dist/), '
      + 'and etcd\'s authentication cannot be turned on under running Spilo pods without a stop of the whole cluster. '
      + `Add the line ETCD_AUTH=false to pg-ha.env (step 2 of the move: ${ETCD_TLS_MOVE_PAGE})`);
  }
}

/** The env var names of a deployed StatefulSet's first container (`ETCD3_PASSWORD` in Spilo's: Patroni has an etcd password). */
function deployedEnvNames(deployed: Manifest | undefined): string[] {
  return (deployed?.spec?.template?.spec?.containers?.[0]?.env ?? []).map((e: { name: string }) => e.name);
}

/**
 * etcd's TLS flags (as ETCD_* env: the image has no shell): clients and peers on https, peers and
 * (`clientCertAuth`) clients must show a certificate of the CA, refused at the handshake otherwise.
 */
function tlsEnv(clientCertAuth: boolean): Record<string, string> {
  const file = (key: string) => `${TLS_DIR}/${key}`;
  return {
    ETCD_CERT_FILE: file(ETCD_TLS_KEYS.certificate),
    ETCD_KEY_FILE: file(ETCD_TLS_KEYS.key),
    // Clients show the clients' certificate (no common name, so the user is still the password's);
    // not in the migration step: plain http is served beside, and the old Spilo pods have none.
    ...(clientCertAuth ? { ETCD_CLIENT_CERT_AUTH: 'true', ETCD_TRUSTED_CA_FILE: file(ETCD_TLS_KEYS.ca) } : {}),
    // Peers need one signed by the CA.
    ETCD_PEER_CERT_FILE: file(ETCD_TLS_KEYS.certificate),
    ETCD_PEER_KEY_FILE: file(ETCD_TLS_KEYS.key),
    ETCD_PEER_TRUSTED_CA_FILE: file(ETCD_TLS_KEYS.ca),
    ETCD_PEER_CLIENT_CERT_AUTH: 'true',
  };
}

/**
 * A volume with `keys` of etcd's TLS Secret (mode 0440 with the key: readable by the pod's fsGroup
 * only; the CA alone is public, 0444). The keys are listed, so a Secret without one of them (a
 * `ca.crt` missing) keeps the pod from starting with an event naming the key.
 */
export function etcdTlsVolume(name: string, secretName: string, keys: string[], mode = 0o444): k8s.Volume {
  return { name, secret: { secretName, defaultMode: mode, items: keys.map((key) => ({ key, path: key })) } };
}
