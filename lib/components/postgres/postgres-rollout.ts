import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { EtcdCluster } from '../etcd/etcd-cluster';
import { ClusterSecrets } from '../jobs/cluster-secrets';
import { Day2Lease, DAY2_LEASE_SCRIPT } from '../jobs/day2-lease';
import { POSTGRES_PORTS, PostgresCluster } from './postgres-cluster';
import { REST_API_USER } from '../../settings/credentials';
import { ROLLOUT_PRIMARY_MODES, RolloutPrimaryMode, SchedulingSettings } from '../../settings/component-settings';
import { DEFAULTS } from '../../settings/defaults';
import { componentServiceAccountWithRole } from '../../k8s/service-accounts';
import { ComponentIdentity, imageVersion, selectorLabels, standardLabels } from '../../k8s/labels';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../../k8s/security-context';
import { jobSchedulingSpec } from '../../k8s/scheduling';
import { ClusterContext } from '../../settings/cluster-names';
import { contentHash, fieldEnv, plainEnv } from '../../k8s/workload';
import { checkOneOf } from '../../validation';
import { KUBE_API_MODULE, readAsset } from '../../assets/read-asset';

/** The unprivileged user the Job runs as (the Spilo image's `nobody`). */
const NOBODY_UID = 65534;
/** The Python files the Job runs (patroni_client.py and kube_lease.py are shared with the converge Job). */
export const ROLLOUT_SCRIPTS = ['patroni_client.py', KUBE_API_MODULE, DAY2_LEASE_SCRIPT, 'rollout.py'] as const;
/** How long one step (a pod back and streaming, the switchover) may take before the Job stops. */
const STEP_TIMEOUT_SECONDS = 600;

export interface PostgresRolloutProps {
  /** Where the cluster lives. */
  readonly cluster: ClusterContext;
  /** The members the Job replaces, and whose volumes it grows. */
  readonly postgres: PostgresCluster;
  /** etcd's volumes are grown too (its pods roll by themselves: RollingUpdate gated on quorum). */
  readonly etcd: EtcdCluster;
  /** The REST API password Patroni wants for the switchover. */
  readonly secrets: ClusterSecrets;
  /** Held for the whole run, so the converge Job never restarts or switches over at the same time. */
  readonly lease: Day2Lease;
  /** Image whose python3 runs the script (the Spilo image, like the secrets generator). */
  readonly image: string;
  /** @default DEFAULTS.postgres.rolloutPrimary */
  readonly primary?: RolloutPrimaryMode;
  /** Whether Patroni keeps a synchronous standby (then the switchover goes to one). */
  readonly synchronousMode: boolean;
  /** Replicas further behind (bytes) hold the rollout back (Patroni's maximum_lag_on_failover). */
  readonly maximumLagBytes: number;
  /**
   * Node selection and priority of the Job's pod.
   * @default - any node
   */
  readonly scheduling?: SchedulingSettings;
}

/**
 * The rollout Job: after every apply whose Postgres pod template or declared volume sizes changed,
 * it grows the volumes, then replaces the outdated Postgres pods (the StatefulSet is `OnDelete`):
 * health gate, replicas one at a time through the Eviction API, one switchover to an updated
 * synchronous standby, the old primary last (lib/assets/rollout.py says how). It holds the day-2
 * Lease while it works, so it never runs at the same time as the converge Job.
 *
 * Its name carries a hash of the pod template, the sizes and the Job itself: a change creates a new
 * Job, which `kubectl apply` runs; Argo CD runs it as a PostSync hook (after every object is
 * healthy) and deletes the previous one first (BeforeHookCreation).
 */
export class PostgresRollout extends Construct {
  public readonly job: k8s.KubeJob;
  /** Labels selecting the Job's pod. */
  public readonly selector: Record<string, string>;

  constructor(scope: Construct, id: string, props: PostgresRolloutProps) {
    super(scope, id);
    const { cluster, postgres, etcd, secrets, image, lease } = props;
    const primary = checkOneOf('postgres.rolloutPrimary', props.primary ?? DEFAULTS.postgres.rolloutPrimary, ROLLOUT_PRIMARY_MODES);
    const name = `${cluster.name}-rollout`;
    const identity: ComponentIdentity = { instance: cluster.name, name: 'pg-ha-rollout', component: 'rollout', version: imageVersion(image) };
    const labels = standardLabels(identity);
    this.selector = selectorLabels(identity);

    const postgresSet = postgres.statefulSet.name;
    const etcdSet = etcd.statefulSet.name;
    const volumes = [
      { statefulSet: postgresSet, claim: postgres.claimTemplateName, size: postgres.storageSize, setting: 'POSTGRES_STORAGE_SIZE', replicas: postgres.replicas },
      { statefulSet: etcdSet, claim: etcd.claimTemplateName, size: etcd.storageSize, setting: 'ETCD_STORAGE_SIZE', replicas: etcd.replicas },
    ];
    const claimNames = volumes.flatMap((v) => Array.from({ length: v.replicas }, (_, i) => `${v.claim}-${v.statefulSet}-${i}`));

    componentServiceAccountWithRole(this, name, labels, cluster.namespace, [
      // The revision the pods should run (status.updateRevision) and the number of members.
      { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: [postgresSet, etcdSet], verbs: ['get'] },
      // Which pod runs which revision, and its address (list cannot be limited by name).
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      // Replacing a pod: the Eviction API honours the PodDisruptionBudget, a plain delete would not.
      { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
      // Growing each member's volume to the declared size.
      { apiGroups: [''], resources: ['persistentvolumeclaims'], resourceNames: claimNames, verbs: ['get', 'patch'] },
      // Holding the day-2 Lease (get/update of that one Lease; it is in dist/, so no create).
      lease.rule,
    ]);
    // The script and the Patroni client it shares with the converge Job.
    const scripts = Object.fromEntries(ROLLOUT_SCRIPTS.map((file) => [file, readAsset(file)]));
    new k8s.KubeConfigMap(this, 'Script', { metadata: { name, labels }, data: scripts });

    const env: k8s.EnvVar[] = [
      ...plainEnv({
        STATEFULSET: postgresSet,
        PATRONI_PORT: POSTGRES_PORTS.patroni,
        ROLLOUT_PRIMARY: primary,
        SYNCHRONOUS_MODE: String(props.synchronousMode),
        MAXIMUM_LAG_BYTES: props.maximumLagBytes,
        STEP_TIMEOUT_SECONDS,
        VOLUMES: JSON.stringify(volumes.map(({ replicas: _replicas, ...v }) => v)),
        REST_API_USERNAME: REST_API_USER,
      }),
      secrets.env('REST_API_PASSWORD', 'restapi'),
      fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
      ...lease.env(),
    ];
    const spec: k8s.JobSpec = {
      // A failed run is safe to repeat: it carries on from the pods' revisions.
      backoffLimit: 2,
      // Every member replaced (each up to one step) plus the switchover, with room to spare.
      activeDeadlineSeconds: (postgres.replicas + 2) * STEP_TIMEOUT_SECONDS,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: true,
          enableServiceLinks: false,
          // Each attempt in a pod of its own, so the log of a failed one stays readable.
          restartPolicy: 'Never',
          ...jobSchedulingSpec('scheduling', props.scheduling),
          securityContext: restrictedPodSecurityContext(NOBODY_UID, NOBODY_UID),
          containers: [{
            name: 'rollout',
            image,
            command: ['python3', '/scripts/rollout.py'],
            env,
            volumeMounts: [{ name: 'script', mountPath: '/scripts', readOnly: true }],
            resources: {
              requests: { cpu: k8s.Quantity.fromString('10m'), memory: k8s.Quantity.fromString('32Mi') },
              limits: { memory: k8s.Quantity.fromString('128Mi') },
            },
            securityContext: restrictedContainerSecurityContext(),
          }],
          volumes: [{ name: 'script', configMap: { name } }],
        },
      },
    };
    // The pod template decides the StatefulSet's revision: a new one means a new Job (and a run).
    const podTemplate = JSON.stringify(postgres.statefulSet.toJson().spec.template);
    this.job = new k8s.KubeJob(this, 'Job', {
      metadata: { name: `${name}-${contentHash(podTemplate, JSON.stringify(scripts), JSON.stringify(spec))}`, labels },
      spec,
    });
  }
}
