/**
 * PodDisruptionBudgets (added by the hardening work, lib/cluster-wide/disruption-budgets.ts).
 *
 * Why: without a PDB, `kubectl drain` on a node upgrade may evict several members of a quorum
 * (etcd) or the leader and its sync standby at once, or every router pod.
 */
import { join } from 'path';
import { objectsInDir } from './support/k8s-schema';
import { CONFIGURATIONS, synthObjects } from './support/configurations';
import { matches, workloads } from './support/workloads';

const SETS: Array<[string, any[]]> = [
  ...Object.entries(CONFIGURATIONS).map(([name, settings]): [string, any[]] => [`${name} configuration`, synthObjects(settings)]),
  ['committed dist/', objectsInDir(join(__dirname, '..', 'dist'))],
];

describe.each(SETS)('PodDisruptionBudgets: %s', (_, objects) => {
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');

  test('every workload with more than one replica has a PDB that selects exactly its pods', () => {
    const all = workloads(objects);
    const problems = all.filter((w) => w.replicas > 1).flatMap((w) => {
      const covering = pdbs.filter((p) => p.metadata.namespace === w.namespace && matches(p.spec.selector?.matchLabels ?? {}, w.podLabels));
      if (covering.length !== 1) return [`${w.kind}/${w.name} (${w.replicas} replicas): ${covering.length} PDBs`];
      // A PDB whose selector also matches another workload's pods would count them together.
      const others = all.filter((o) => o !== w && matches(covering[0].spec.selector.matchLabels, o.podLabels));
      return others.map((o) => `PDB ${covering[0].metadata.name} also selects ${o.kind}/${o.name}`);
    });
    expect(problems).toEqual([]);
  });

  test('no PDB blocks every eviction of a workload (a drain would hang forever)', () => {
    const all = workloads(objects);
    const problems = pdbs.flatMap((p) => all.filter((w) => matches(p.spec.selector?.matchLabels ?? {}, w.podLabels)).flatMap((w) => {
      const minAvailable = p.spec.minAvailable;
      const maxUnavailable = p.spec.maxUnavailable;
      const blocks = (typeof minAvailable === 'number' && minAvailable >= w.replicas) || maxUnavailable === 0 || maxUnavailable === '0%' || minAvailable === '100%';
      return blocks ? [`PDB ${p.metadata.name} on ${w.kind}/${w.name} (${w.replicas} replicas)`] : [];
    }));
    expect(problems).toEqual([]);
  });
});
