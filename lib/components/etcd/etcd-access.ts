import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { ClusterSecrets } from '../jobs/cluster-secrets';
import { CREDENTIAL_KEYS } from '../../settings/credentials';
import { SPILO_POSTGRES_GID, SPILO_POSTGRES_UID } from '../jobs/converge-job';
import { componentServiceAccount } from '../../k8s/service-accounts';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../../k8s/security-context';
import { ComponentIdentity, imageVersion, selectorLabels, standardLabels } from '../../k8s/labels';
import { SchedulingSettings } from '../../settings/component-settings';
import { jobSchedulingSpec } from '../../k8s/scheduling';
import { ClusterContext } from '../../settings/cluster-names';
import { contentHash, failAtOnceOnRefusal, plainEnv } from '../../k8s/workload';
import { readAsset } from '../../assets/read-asset';
import { ETCD_PORTS, ETCD_TLS_KEYS, EtcdCluster } from './etcd-cluster';

/** Patroni's etcd user (ETCD3_USERNAME) and the role that limits it to its keys. */
export const ETCD_PATRONI_USER = 'patroni';
/**
 * Where Patroni keeps a cluster's keys: `/<namespace>/<scope>/`, Patroni's default namespace
 * `service` (Spilo sets none; the e2e bed lists the keys Patroni wrote to check it).
 */
export function patroniKeyPrefix(scope: string): string {
  return `/service/${scope}/`;
}
const SCRIPT = 'etcd-access.py';
const SCRIPT_DIR = '/scripts';
/** Where the clients' certificate, key and CA are mounted. */
const CLIENT_TLS_DIR = '/etc/etcd-client-tls';
const CONTAINER = 'etcd-access';

export interface EtcdAccessProps {
  readonly cluster: ClusterContext;
  /** The etcd cluster (with TLS and auth on). */
  readonly etcd: EtcdCluster;
  readonly secrets: ClusterSecrets;
  /** The Spilo image: its python3 runs the script (no extra image to pull or trust). */
  readonly image: string;
  /**
   * Node selection and priority of the Job's pod.
   * @default - any node
   */
  readonly scheduling?: SchedulingSettings;
}

/**
 * The etcd access Job (lib/assets/etcd-access.py, over https with etcd's CA and the clients' certificate; re-running changes
 * nothing): keeps the members' peer URLs on https (moving them while a cluster made with plain etcd
 * moves to TLS), and with `etcd.auth` creates etcd's `root` user and Patroni's user, whose role may
 * read and write only `patroniKeyPrefix(scope)`, with the passwords of the credentials Secret, then
 * turns etcd's authentication on.
 *
 * A Sync hook in etcd's wave: it waits for etcd itself, and auth is on before the Postgres members
 * start. Patroni 4.0 with a password cannot start while etcd's auth is off (it misreads etcd 3.6's
 * "authentication is not enabled" answer, patroni/patroni#3525, and logs "waiting on etcd"): under a
 * plain `kubectl apply` the members wait the seconds until this Job has turned it on.
 * Its name carries a hash of its content, so `kubectl apply -f dist/` runs a changed one again.
 */
export class EtcdAccess extends Construct {
  public readonly job: k8s.KubeJob;
  /** Labels selecting the Job's pod. */
  public readonly selector: Record<string, string>;

  constructor(scope: Construct, id: string, props: EtcdAccessProps) {
    super(scope, id);
    const { cluster, etcd, secrets, image } = props;
    if (!etcd.tls) throw new Error('EtcdAccess needs etcd with TLS');
    const identity: ComponentIdentity = { instance: cluster.name, name: 'pg-ha-etcd-access', component: 'etcd-access', version: imageVersion(image) };
    const labels = standardLabels(identity);
    this.selector = selectorLabels(identity);
    const name = `${cluster.name}-etcd-access`;
    const script = readAsset(SCRIPT);
    new k8s.KubeConfigMap(this, 'Script', { metadata: { name, labels }, data: { [SCRIPT]: script } });
    const serviceAccountName = componentServiceAccount(this, name, labels);

    const template: k8s.PodTemplateSpec = {
      metadata: { labels },
      spec: {
        serviceAccountName,
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        // Never: a podFailurePolicy needs it; a retry is a new pod.
        restartPolicy: 'Never',
        ...jobSchedulingSpec('scheduling', props.scheduling),
        // fsGroup: the Secret's files (0440, the key among them) belong to the pod's group.
        securityContext: restrictedPodSecurityContext(SPILO_POSTGRES_UID, SPILO_POSTGRES_GID, { fsGroup: SPILO_POSTGRES_GID }),
        containers: [{
          name: CONTAINER,
          image,
          command: ['python3', `${SCRIPT_DIR}/${SCRIPT}`],
          env: [
            ...plainEnv({
              // Every member: the Job works as long as one of them answers.
              ETCD_ENDPOINTS: etcd.podFqdns.map((fqdn) => `https://${fqdn}:${etcd.clientPort}`).join(','),
              ETCD_CACERT: `${CLIENT_TLS_DIR}/${ETCD_TLS_KEYS.ca}`,
              // The clients' certificate: etcd asks for it (--client-cert-auth) once out of the migration step.
              ETCD_CERT: `${CLIENT_TLS_DIR}/${ETCD_TLS_KEYS.certificate}`,
              ETCD_KEY: `${CLIENT_TLS_DIR}/${ETCD_TLS_KEYS.key}`,
              ETCD_CLIENT_TLS_SECRET: etcd.tls.clientSecretName,
              ETCD_PATRONI_USER,
              ETCD_PATRONI_ROLE: ETCD_PATRONI_USER,
              ETCD_PATRONI_PREFIX: patroniKeyPrefix(cluster.name),
              // Off during the move from plain etcd and after it (ETCD_AUTH=false): the peer URLs only.
              ETCD_AUTH: String(etcd.authEnabled),
              ETCD_TLS_MIGRATION: String(etcd.migration),
              ETCD_PEER_PORT: ETCD_PORTS.peer,
              ETCD_MIGRATION_PEER_PORT: ETCD_PORTS.migrationPeer,
              ETCD_ROOT_CREDENTIAL_KEY: CREDENTIAL_KEYS.etcdRoot,
              ETCD_PATRONI_CREDENTIAL_KEY: CREDENTIAL_KEYS.etcdPatroni,
              ETCD_WAIT_SECONDS: 600,
            }),
            ...(etcd.authEnabled ? [secrets.env('ETCD_ROOT_PASSWORD', 'etcdRoot'), secrets.env('ETCD_PATRONI_PASSWORD', 'etcdPatroni')] : []),
          ],
          resources: {
            requests: { cpu: k8s.Quantity.fromString('10m'), memory: k8s.Quantity.fromString('32Mi') },
            limits: { memory: k8s.Quantity.fromString('128Mi') },
          },
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [
            { name: 'script', mountPath: SCRIPT_DIR, readOnly: true },
            { name: 'client-tls', mountPath: CLIENT_TLS_DIR, readOnly: true },
          ],
        }],
        volumes: [
          { name: 'script', configMap: { name } },
          // The clients' certificate and the CA: the Job never needs etcd's private key. The whole
          // Secret (no key list): a missing key is named in the Job's log rather than in an event.
          { name: 'client-tls', secret: { secretName: etcd.tls.clientSecretName, defaultMode: 0o440 } },
        ],
      },
    };
    this.job = new k8s.KubeJob(this, 'Job', {
      metadata: { name: `${name}-${contentHash(script, JSON.stringify(template))}`, labels },
      spec: {
        backoffLimit: 6,
        activeDeadlineSeconds: 900,
        ttlSecondsAfterFinished: 86400,
        // A refusal (a wrong configuration, e.g. authentication under Patroni pods without an etcd
        // password) fails the Job, and so the sync, at once with the script's message; only what may
        // pass (etcd not answering yet) is retried. Found on the real-Kubernetes bed: with retries
        // the refusal took about 10 minutes of back-off to fail the sync.
        podFailurePolicy: failAtOnceOnRefusal(CONTAINER),
        template,
      },
    });
  }
}
