/*
 * PodDisruptionBudget arithmetic as the disruption controller computes a PDB's status, and the
 * Eviction API's decision from it (registry/core/pod/storage/eviction.go):
 * - expected pods: with an integer minAvailable, the number of matching pods; otherwise the
 *   replicas of the pods' controllers (StatefulSet, Deployment through its ReplicaSet);
 * - desiredHealthy: minAvailable, or expected - maxUnavailable (percentages round up);
 * - currentHealthy: matching pods that are Ready, not counting pods already evicted but not
 *   yet gone (the API server records them in status.disruptedPods);
 * - an eviction of a Ready pod is allowed while currentHealthy > desiredHealthy; of a pod that is
 *   not Ready, always under `unhealthyPodEvictionPolicy: AlwaysAllow`, else when
 *   currentHealthy >= desiredHealthy; a pod that is not Running (Pending, done) ignores the PDB.
 */
import { PodView } from './cluster-state';
import { selectorMatcher } from './label-selector';
import { ApiObject } from './object-store';

export interface BudgetStatus {
  expectedPods: number;
  desiredHealthy: number;
  currentHealthy: number;
  disruptionsAllowed: number;
}

/** `2`, `"2"` or `"50%"` of a total; percentages round up, as the controller does. */
export function scaledValue(v: number | string, total: number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (m) return Math.ceil((Number(m[1]) * total) / 100);
  if (/^\d+$/.test(v)) return Number(v);
  throw new Error(`PodDisruptionBudget: ${JSON.stringify(v)} is neither an integer nor a percentage`);
}

export function podsOfBudget(pdb: ApiObject, pods: PodView[]): PodView[] {
  const match = selectorMatcher(pdb.spec?.selector);
  return pods.filter((p) => p.namespace === (pdb.metadata.namespace ?? 'default') && match(p.labels));
}

/**
 * @param controllerReplicas replicas of the workload owning a pod (StatefulSet name, or the Deployment behind a ReplicaSet)
 * @param disrupted names of pods whose eviction was allowed and that still exist (same uid)
 */
export function budgetStatus(pdb: ApiObject, pods: PodView[], controllerReplicas: (pod: PodView) => number | undefined, disrupted: Set<string>): BudgetStatus {
  const matched = podsOfBudget(pdb, pods);
  const spec = pdb.spec ?? {};
  let expectedPods: number;
  let desiredHealthy: number;
  if (spec.minAvailable !== undefined && typeof spec.minAvailable === 'number') {
    expectedPods = matched.length;
    desiredHealthy = spec.minAvailable;
  } else {
    const owners = new Map<string, number>();
    for (const p of matched) owners.set(`${p.owner?.kind}/${p.owner?.name}`, controllerReplicas(p) ?? 0);
    expectedPods = [...owners.values()].reduce((a, b) => a + b, 0);
    desiredHealthy = spec.minAvailable !== undefined
      ? scaledValue(spec.minAvailable, expectedPods)
      : Math.max(0, expectedPods - scaledValue(spec.maxUnavailable ?? 0, expectedPods));
  }
  const currentHealthy = matched.filter((p) => p.phase === 'Running' && p.ready && !disrupted.has(p.uid)).length;
  return { expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed: Math.max(0, currentHealthy - desiredHealthy) };
}

export type EvictionDecision =
  | { allowed: true; why: string; budget?: string }
  | { allowed: false; code: 429 | 500; message: string; cause?: string };

export function decideEviction(pod: PodView, budgets: ApiObject[], status: (pdb: ApiObject) => BudgetStatus): EvictionDecision {
  if (pod.phase !== 'Running') return { allowed: true, why: `pod is ${pod.phase}: no budget applies` };
  const matching = budgets.filter((b) => podsOfBudget(b, [pod]).length === 1);
  if (matching.length === 0) return { allowed: true, why: 'no PodDisruptionBudget selects the pod' };
  if (matching.length > 1) {
    return { allowed: false, code: 500, message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.' };
  }
  const pdb = matching[0];
  const s = status(pdb);
  const name = pdb.metadata.name;
  if (!pod.ready) {
    if (pdb.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow') return { allowed: true, why: `pod is not Ready and ${name} has unhealthyPodEvictionPolicy AlwaysAllow`, budget: name };
    if (s.currentHealthy >= s.desiredHealthy) return { allowed: true, why: `pod is not Ready and ${name} is satisfied`, budget: name };
  } else if (s.disruptionsAllowed > 0) {
    return { allowed: true, why: `${name} allows ${s.disruptionsAllowed} disruption(s)`, budget: name };
  }
  return {
    allowed: false,
    code: 429,
    message: "Cannot evict pod as it would violate the pod's disruption budget.",
    cause: `The disruption budget ${name} needs ${s.desiredHealthy} healthy pods and has ${s.currentHealthy} currently`,
  };
}
