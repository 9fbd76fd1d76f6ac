import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { ClusterSecrets } from './cluster-secrets';
import { Day2Lease, DAY2_LEASE_SCRIPT } from './day2-lease';
import { componentServiceAccountWithRole } from '../../k8s/service-accounts';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../../k8s/security-context';
import { ComponentIdentity, imageVersion, selectorLabels, standardLabels } from '../../k8s/labels';
import { DYNAMIC_CONFIG_KEY, PostgresCluster } from '../postgres/postgres-cluster';
import { REST_API_USER, SUPERUSER } from '../../settings/credentials';
import { SchedulingSettings } from '../../settings/component-settings';
import { jobSchedulingSpec } from '../../k8s/scheduling';
import { ClusterContext } from '../../settings/cluster-names';
import { contentHash, failAtOnceOnRefusal, fieldEnv, plainEnv } from '../../k8s/workload';
import { KUBE_API_MODULE, readAsset } from '../../assets/read-asset';

/** The Spilo image's `postgres` user (uid 101, gid 103): `postgres -C` refuses to run as root. */
export const SPILO_POSTGRES_UID = 101;
export const SPILO_POSTGRES_GID = 103;
const SCRIPT_DIR = '/scripts';
const CA_DIR = '/etc/pg-ha-ca';
// A path the scripts never spell (not /config, a Patroni REST path): the e2e bed rewrites mount paths in mounted files.
const CONFIG_DIR = '/declared';
/** The Python files the Job runs; patroni_client.py and kube_lease.py are modules the rollout Job imports too. */
export const CONVERGE_SCRIPTS = ['patroni_client.py', KUBE_API_MODULE, DAY2_LEASE_SCRIPT, 'converge_patroni.py'] as const;

export interface ConvergeJobProps {
  readonly cluster: ClusterContext;
  readonly postgres: PostgresCluster;
  readonly secrets: ClusterSecrets;
  /** Held while the Job changes the cluster, so the rollout Job never restarts or switches over at the same time. */
  readonly lease: Day2Lease;
  /** The Spilo image (curl, python3, psql, postgres, patronictl): the same PostgreSQL that checks the values. */
  readonly image: string;
  /** PostgreSQL's major version (its bin directory in the image). */
  readonly pgVersion: number;
  /**
   * Node selection and priority of the Job's pod.
   * @default - any node
   */
  readonly scheduling?: SchedulingSettings;
}

/**
 * The converge Job: makes the running cluster's Patroni dynamic configuration (timings, synchronous
 * mode, failsafe, maximum lag, PostgreSQL parameters) equal to the ConfigMap Git declares, restarts
 * members that need it (replicas first, the primary last through a switchover; primary first when
 * a must-match parameter is only lowered) and checks every member runs the declared values
 * (lib/assets/converge_patroni.py).
 *
 * An Argo CD PostSync hook (after every sync, once everything is healthy) whose name carries a hash
 * of what it applies, so a plain `kubectl apply -f dist/` also runs it again when that changes.
 * It talks to Patroni's REST API and PostgreSQL, and to the Kubernetes API only to hold the day-2
 * Lease (its Role allows get/update of that one Lease, nothing else), so it never runs at the same
 * time as the rollout Job.
 */
export class ConvergeJob extends Construct {
  public readonly job: k8s.KubeJob;
  /** Labels selecting the Job's pod. */
  public readonly selector: Record<string, string>;

  constructor(scope: Construct, id: string, props: ConvergeJobProps) {
    super(scope, id);
    const { cluster, postgres, secrets, image, lease } = props;
    const identity: ComponentIdentity = { instance: cluster.name, name: 'pg-ha-converge', component: 'converge', version: imageVersion(image) };
    const labels = standardLabels(identity);
    this.selector = selectorLabels(identity);
    const name = `${cluster.name}-converge`;
    const scripts = Object.fromEntries(CONVERGE_SCRIPTS.map((file) => [file, readAsset(file)]));
    new k8s.KubeConfigMap(this, 'Scripts', { metadata: { name, labels }, data: scripts });
    const serviceAccountName = componentServiceAccountWithRole(this, name, labels, cluster.namespace, [lease.rule]);
    // With a configured certificate the members' server certificates are checked against its CA
    // (verify-ca: members are reached by address, which the certificate does not name).
    const tlsSecret = postgres.tlsSecretName;

    const template: k8s.PodTemplateSpec = {
      metadata: { labels },
      spec: {
        serviceAccountName,
        // The token holds the day-2 Lease (its Role allows nothing else).
        automountServiceAccountToken: true,
        enableServiceLinks: false,
        restartPolicy: 'Never',
        ...jobSchedulingSpec('scheduling', props.scheduling),
        securityContext: restrictedPodSecurityContext(SPILO_POSTGRES_UID, SPILO_POSTGRES_GID),
        containers: [{
          name: 'converge',
          image,
          command: ['python3', `${SCRIPT_DIR}/converge_patroni.py`],
          env: [
            ...plainEnv({
              DESIRED_CONFIG: `${CONFIG_DIR}/${DYNAMIC_CONFIG_KEY}`,
              PATRONI_URLS: postgres.restApiUrls.join(','),
              REST_API_USERNAME: REST_API_USER,
              PGBIN: `/usr/lib/postgresql/${props.pgVersion}/bin`,
              PGUSER: SUPERUSER,
              // Spilo rejects non-TLS connections from other pods.
              PGSSLMODE: tlsSecret ? 'verify-ca' : 'require',
              ...(tlsSecret ? { PGSSLROOTCERT: `${CA_DIR}/ca.crt` } : {}),
              HOME: '/tmp',
            }),
            secrets.env('REST_API_PASSWORD', 'restapi'),
            secrets.env('PGPASSWORD', 'superuser'),
            fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
            ...lease.env(),
          ],
          resources: {
            requests: { cpu: k8s.Quantity.fromString('10m'), memory: k8s.Quantity.fromString('64Mi') },
            limits: { memory: k8s.Quantity.fromString('256Mi') },
          },
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [
            { name: 'scripts', mountPath: SCRIPT_DIR, readOnly: true },
            { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
            // `postgres -C` reads a (blank) configuration from a directory of its own.
            { name: 'tmp', mountPath: '/tmp' },
            ...(tlsSecret ? [{ name: 'ca', mountPath: CA_DIR, readOnly: true }] : []),
          ],
        }],
        volumes: [
          { name: 'scripts', configMap: { name } },
          { name: 'config', configMap: { name: postgres.patroniConfigMap.name } },
          { name: 'tmp', emptyDir: {} },
          // Only the CA: the Job never needs the server's private key.
          ...(tlsSecret ? [{ name: 'ca', secret: { secretName: tlsSecret, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] : []),
        ],
      },
    };
    this.job = new k8s.KubeJob(this, 'Job', {
      metadata: { name: `${name}-${contentHash(JSON.stringify(scripts), JSON.stringify(postgres.dynamicConfig), JSON.stringify(template))}`, labels },
      spec: {
        // Each attempt is a new pod (its log stays); a fresh cluster may still be starting.
        backoffLimit: 4,
        // A value PostgreSQL refuses fails the Job, and so the sync, at once with PostgreSQL's message
        // (found on the real-Kubernetes bed: retried, it took about 4 minutes of back-off to fail).
        podFailurePolicy: failAtOnceOnRefusal('converge'),
        activeDeadlineSeconds: 1800,
        ttlSecondsAfterFinished: 86400,
        template,
      },
    });
  }
}
