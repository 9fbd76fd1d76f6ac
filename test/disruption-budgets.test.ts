/**
 * PodDisruptionBudgets: a drain keeps etcd's quorum, one Postgres member down at most, a router up,
 * and is never blocked forever (each budget allows at least one eviction at full strength).
 */
import { PgHaSettings } from '../lib';
import { Manifest, ofKind, selects, synth, workloadPods } from './support/manifests';

/**
 * How many pods the eviction API lets a drain evict right now (status.disruptionsAllowed), with
 * `healthy` of `replicas` pods Ready, as the disruption controller computes it.
 */
function disruptionsAllowed(pdb: Manifest, replicas: number, healthy = replicas): number {
  const resolve = (v: number | string) => (typeof v === 'number' ? v : Math.ceil((parseInt(v, 10) / 100) * replicas));
  const desiredHealthy = pdb.spec.minAvailable !== undefined
    ? resolve(pdb.spec.minAvailable)
    : replicas - resolve(pdb.spec.maxUnavailable);
  return Math.max(0, healthy - desiredHealthy);
}

/** The budget that covers a workload's pods, and the workload's replica count. */
function budgetOf(manifests: Manifest[], component: string): { pdb: Manifest; replicas: number } {
  const pod = workloadPods(manifests).find((p) => p.template.metadata.labels['app.kubernetes.io/component'] === component)!;
  const budgets = ofKind(manifests, 'PodDisruptionBudget').filter((b) => selects(b.spec.selector, pod.template.metadata.labels));
  expect(budgets).toHaveLength(1); // two budgets over one pod make the eviction API refuse every eviction
  return { pdb: budgets[0], replicas: pod.replicas };
}

describe('PodDisruptionBudgets', () => {
  const cases: Array<[string, PgHaSettings]> = [
    ['defaults', {}],
    ['one of everything', { etcd: { replicas: 1 }, postgres: { replicas: 1 }, router: { replicas: 1 } }],
    ['five of everything', { etcd: { replicas: 5 }, postgres: { replicas: 5 }, router: { replicas: 5 } }],
  ];

  test.each(cases)('each budget allows at least one eviction at full strength (%s)', (_name, settings) => {
    const manifests = synth(settings);
    for (const component of ['dcs', 'database', 'router']) {
      const { pdb, replicas } = budgetOf(manifests, component);
      expect({ component, allowed: disruptionsAllowed(pdb, replicas) >= 1 }).toEqual({ component, allowed: true });
    }
  });

  test('etcd keeps its quorum: with one member already down, a drain may not take a second', () => {
    const { pdb, replicas } = budgetOf(synth(), 'dcs');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(disruptionsAllowed(pdb, replicas, replicas - 1)).toBe(0);
  });

  test('Postgres: at most one member down, over all members (never a budget pinned to the primary)', () => {
    const { pdb, replicas } = budgetOf(synth(), 'database');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(disruptionsAllowed(pdb, replicas, replicas - 1)).toBe(0);
    // No role label in the selector: the leader moves, and a leader-only budget blocks its node's drain.
    expect(Object.keys(pdb.spec.selector.matchLabels)).not.toContain('spilo-role');
  });

  test('router: at least one available; a single router may still be evicted', () => {
    expect(budgetOf(synth(), 'router').pdb.spec).toMatchObject({ minAvailable: 1 });
    expect(budgetOf(synth({ router: { replicas: 1 } }), 'router').pdb.spec).toMatchObject({ maxUnavailable: 1 });
    // Why: minAvailable 1 over a single router would allow no eviction at all, and the drain would hang.
    const pinned = { spec: { minAvailable: 1 } } as Manifest;
    expect(disruptionsAllowed(pinned, 1)).toBe(0);
  });

  test('pods that are not Ready anyway may always be evicted (a crash-looping pod never blocks a drain)', () => {
    for (const pdb of ofKind(synth(), 'PodDisruptionBudget')) expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
  });

  test('can be turned off (DISRUPTION_BUDGETS=false)', () => {
    expect(ofKind(synth({ disruptionBudgets: false }), 'PodDisruptionBudget')).toEqual([]);
  });
});
