/**
 * PodDisruptionBudgets: a drain keeps etcd's quorum, one Postgres member down at most, a router up,
 * and is never blocked forever (each budget allows at least one eviction at full strength).
 * Without them, `kubectl drain` on a node upgrade may evict several members of a quorum, the leader
 * and its sync standby at once, or every router pod.
 */
import { selects } from '../support/label-selector';
import { LONG_RUNNING_KINDS, Manifest, Manifests } from '../support/manifests';
import { synth, synthesizedConfigurations } from '../support/synth';

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

/** The budgets whose selector selects a workload's pods. */
const budgetsOver = (s: Manifests, namespace: string, podLabels: Record<string, string>) =>
  s.all('PodDisruptionBudget').filter((b) => b.metadata.namespace === namespace && selects(b.spec.selector, podLabels));

/** The one budget that covers a component's pods, and the component's replica count. */
function budgetOf(s: Manifests, component: string): { pdb: Manifest; replicas: number } {
  const workload = s.workload(component);
  const [pdb, ...others] = budgetsOver(s, workload.namespace, workload.podLabels);
  expect(others).toEqual([]);
  return { pdb, replicas: workload.replicas };
}

const CASES = [
  ...synthesizedConfigurations(),
  ['one of everything', synth({ etcd: { replicas: 1 }, postgres: { replicas: 1 }, router: { replicas: 1 } })],
  ['five of everything', synth({ etcd: { replicas: 5 }, postgres: { replicas: 5 }, router: { replicas: 5 } })],
] as const;

describe.each(CASES)('budgets over every workload that runs until stopped: %s', (_, s) => {
  const longRunning = s.workloads().filter((w) => LONG_RUNNING_KINDS.includes(w.kind));

  test('exactly one budget per workload, selecting no other workload\'s pods', () => {
    // Two budgets over one pod make the eviction API refuse every eviction; one budget over two
    // workloads counts their pods together.
    const problems = longRunning.flatMap((w) => {
      const covering = budgetsOver(s, w.namespace, w.podLabels);
      if (covering.length !== 1) return [`${w.kind}/${w.name} (${w.replicas} replicas): ${covering.length} budgets`];
      return s.selectedBy(covering[0].spec.selector, w.namespace).filter((o) => o.name !== w.name)
        .map((o) => `PDB ${covering[0].metadata.name} also selects ${o.kind}/${o.name}`);
    });
    expect(longRunning.length).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  test('every budget allows at least one eviction at full strength (or a drain would hang forever)', () => {
    const blocking = s.all('PodDisruptionBudget').flatMap((pdb) => s.selectedBy(pdb.spec.selector, pdb.metadata.namespace)
      .filter((w) => disruptionsAllowed(pdb, w.replicas) < 1)
      .map((w) => `PDB ${pdb.metadata.name} on ${w.kind}/${w.name} (${w.replicas} replicas)`));
    expect(blocking).toEqual([]);
  });
});

describe('each component\'s budget', () => {
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
    for (const pdb of synth().all('PodDisruptionBudget')) expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
  });

  test('can be turned off (DISRUPTION_BUDGETS=false)', () => {
    expect(synth({ disruptionBudgets: false }).all('PodDisruptionBudget')).toEqual([]);
  });
});
