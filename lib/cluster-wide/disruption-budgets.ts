/**
 * PodDisruptionBudgets: a node drain (upgrade, autoscaler) evicts at most one member of etcd and of
 * Postgres at a time and keeps a router up, but never blocks forever.
 *
 * Every budget selects all pods of a component, never "the primary" (postgres-operator pins one to
 * the leader, which blocks every drain of the leader's node until someone switches over by hand).
 * `unhealthyPodEvictionPolicy: AlwaysAllow` lets a drain evict a pod that is not Ready anyway
 * (crash-looping, stuck): evicting it costs no availability, and with the default policy such a pod
 * blocks the drain of its node as long as the budget has no room left.
 */
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { ClusterContext } from '../settings/cluster-names';

/** A component a budget protects. */
export interface BudgetTarget {
  /** Labels selecting the component's pods. */
  readonly selector: Record<string, string>;
  /** Pods of the component at full strength. */
  readonly replicas: number;
}

export interface DisruptionBudgetsProps {
  readonly cluster: ClusterContext;
  readonly etcd: BudgetTarget;
  readonly postgres: BudgetTarget;
  readonly router: BudgetTarget;
  /** The PgBouncer poolers, if any (each budgeted like the router). */
  readonly poolers?: ReadonlyArray<BudgetTarget & { readonly role: 'write' | 'read' }>;
  /** Labels every budget carries. */
  readonly labels?: Record<string, string>;
}

/** The budget fields of one component (exported for tests and the README). */
export function budgetFor(component: 'etcd' | 'postgres' | 'router' | 'pooler', replicas: number): Pick<k8s.PodDisruptionBudgetSpec, 'minAvailable' | 'maxUnavailable'> {
  switch (component) {
    case 'router':
    case 'pooler':
      // At least one router (pooler) serves clients; a single router may still be evicted (else no drain of its node).
      return replicas >= 2 ? { minAvailable: k8s.IntOrString.fromNumber(1) } : { maxUnavailable: k8s.IntOrString.fromNumber(1) };
    default:
      // etcd: 3 members keep quorum with one down. Postgres: one member restarts at a time, so a
      // synchronous standby is left whenever the leader's node is drained.
      return { maxUnavailable: k8s.IntOrString.fromNumber(1) };
  }
}

/** One PodDisruptionBudget per component (`<scope>-etcd`, `<scope>-postgres`, `<scope>-router`). */
export class DisruptionBudgets extends Construct {
  public readonly etcd: k8s.KubePodDisruptionBudget;
  public readonly postgres: k8s.KubePodDisruptionBudget;
  public readonly router: k8s.KubePodDisruptionBudget;
  public readonly poolers: k8s.KubePodDisruptionBudget[];

  constructor(scope: Construct, id: string, props: DisruptionBudgetsProps) {
    super(scope, id);
    const { cluster } = props;
    const budget = (component: 'etcd' | 'postgres' | 'router' | 'pooler', target: BudgetTarget, name: string = component) => new k8s.KubePodDisruptionBudget(this, name, {
      metadata: { name: `${cluster.name}-${name}`, labels: { ...target.selector, ...props.labels } },
      spec: {
        selector: { matchLabels: target.selector },
        ...budgetFor(component, target.replicas),
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    });
    this.etcd = budget('etcd', props.etcd);
    this.postgres = budget('postgres', props.postgres);
    this.router = budget('router', props.router);
    this.poolers = (props.poolers ?? []).map((pooler) => budget('pooler', pooler, pooler.role === 'write' ? 'pooler' : 'pooler-ro'));
  }
}
