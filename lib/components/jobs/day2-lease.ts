import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { ComponentIdentity, standardLabels } from '../../k8s/labels';
import { ClusterContext } from '../../settings/cluster-names';
import { fieldEnv, plainEnv } from '../../k8s/workload';

/**
 * How long a holder's record may stay unchanged before another Job takes the Lease over (a crashed
 * Job). The holder renews every third of it; a waiting Job polls every 2 s.
 */
export const DAY2_LEASE_DURATION_SECONDS = 30;
/** The Python module both day-2 Jobs import (the Kubernetes API client and the Lease). */
export const DAY2_LEASE_SCRIPT = 'kube_lease.py';

export interface Day2LeaseProps {
  readonly cluster: ClusterContext;
}

/**
 * The Lease `<scope>-day2` (coordination.k8s.io/v1) that keeps the day-2 Jobs apart: the converge
 * Job and the rollout Job both restart members and switch over, and under `kubectl apply -f dist/`
 * (no Argo CD hook waves) both start at once. Each holds the Lease while it acts on the cluster
 * (lib/assets/kube_lease.py says how: renewal, takeover of a stale holder, release).
 *
 * The Lease is part of dist/, without a holder: RBAC cannot limit `create` by resourceName (a create
 * request carries no name when it is authorized), so instead of granting the Jobs `create` on every
 * Lease of the namespace, the Lease exists before they run and they may only get and update it,
 * by name. `kubectl apply` and Argo CD only manage the fields dist/ sets (leaseDurationSeconds), so
 * an apply never clears a holder.
 */
export class Day2Lease extends Construct {
  public readonly name: string;
  public readonly lease: k8s.KubeLease;

  constructor(scope: Construct, id: string, props: Day2LeaseProps) {
    super(scope, id);
    const identity: ComponentIdentity = { instance: props.cluster.name, name: 'pg-ha-day2', component: 'day2-lock' };
    this.name = `${props.cluster.name}-day2`;
    this.lease = new k8s.KubeLease(this, 'Lease', {
      metadata: { name: this.name, labels: standardLabels(identity) },
      spec: { leaseDurationSeconds: DAY2_LEASE_DURATION_SECONDS },
    });
  }

  /** The one RBAC rule a Job needs to hold the Lease: get and update it, by name (no create, no other Lease). */
  get rule(): k8s.PolicyRule {
    return { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [this.name], verbs: ['get', 'update'] };
  }

  /** What kube_lease.Day2Lease.from_env() reads; the pod's name is the holder identity. */
  env(): k8s.EnvVar[] {
    return [
      ...plainEnv({ LEASE_NAME: this.name, LEASE_DURATION_SECONDS: DAY2_LEASE_DURATION_SECONDS }),
      fieldEnv('POD_NAME', 'metadata.name'),
    ];
  }
}
