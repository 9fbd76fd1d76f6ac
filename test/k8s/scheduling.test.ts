/** Scheduling: every pod avoids sharing a node with its siblings; node selectors, tolerations and priority reach every pod. */
import { PgHaSettings } from '../../lib';
import { synth } from '../support/synth';

const SPREAD_COMPONENTS = ['dcs', 'database', 'router'];

describe('scheduling', () => {
  test('by default each component prefers one pod per node, so a small cluster still schedules', () => {
    const s = synth();
    for (const component of SPREAD_COMPONENTS) {
      const pod = s.workload(component);
      const [term] = pod.podSpec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
      expect(term.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
      // The term must select the component's own pods and no other, or it spreads nothing.
      expect(s.selectedBy(term.podAffinityTerm.labelSelector).map((w) => w.component)).toEqual([component]);
      expect(pod.podSpec.topologySpreadConstraints).toBeUndefined(); // no zone label needed
    }
  });

  test('required anti-affinity and zone spread, node selector, tolerations and priority apply to every component', () => {
    const s = synth({
      scheduling: {
        antiAffinity: 'required',
        zoneSpread: 'preferred',
        nodeSelector: { 'node-role.kubernetes.io/db': 'true' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'postgres', effect: 'NoSchedule' }],
        priorityClassName: 'db-critical',
      },
    });
    for (const component of SPREAD_COMPONENTS) {
      const spec = s.workload(component).podSpec;
      expect(spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).toBe('kubernetes.io/hostname');
      expect(spec.topologySpreadConstraints[0]).toMatchObject({ topologyKey: 'topology.kubernetes.io/zone', maxSkew: 1, whenUnsatisfiable: 'ScheduleAnyway' });
    }
    // Jobs land on the same dedicated nodes, without anti-affinity (one pod each).
    for (const pod of s.workloads()) {
      expect(pod.podSpec).toMatchObject({ nodeSelector: { 'node-role.kubernetes.io/db': 'true' }, priorityClassName: 'db-critical' });
      expect(pod.podSpec.tolerations).toEqual([{ key: 'dedicated', operator: 'Equal', value: 'postgres', effect: 'NoSchedule' }]);
    }
    const jobs = s.workloads().filter((w) => w.object.kind === 'Job');
    expect(jobs.map((w) => w.component).sort()).toEqual(['converge', 'etcd-access', 'init', 'rollout', 'secrets']);
    for (const job of jobs) expect([job.component, job.podSpec.affinity, job.podSpec.topologySpreadConstraints]).toEqual([job.component, undefined, undefined]);
  });

  test('required anti-affinity: routers roll one at a time (a surge pod would find no free node)', () => {
    const strategy = (settings: PgHaSettings) => synth(settings).workload('router').object.spec.strategy.rollingUpdate;
    expect(strategy({})).toEqual({ maxUnavailable: 0, maxSurge: 1 });
    expect(strategy({ scheduling: { antiAffinity: 'required' } })).toEqual({ maxUnavailable: 1, maxSurge: 0 });
  });

  test('a component setting wins over the chart-wide one', () => {
    const s = synth({ scheduling: { antiAffinity: 'required' }, router: { scheduling: { antiAffinity: 'none' } } });
    expect(s.workload('router').podSpec.affinity).toBeUndefined();
    expect(s.workload('dcs').podSpec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
  });

  test('invalid scheduling settings name the setting, the value and what is valid', () => {
    expect(() => synth({ scheduling: { antiAffinity: 'always' as any } })).toThrow(/^scheduling.antiAffinity must be one of "preferred", "required", "none" \(got "always"\)/);
    expect(() => synth({ postgres: { scheduling: { zoneSpread: 'zones' as any } } })).toThrow(/postgres.scheduling.zoneSpread must be one of "none", "preferred", "required"/);
    expect(() => synth({ scheduling: { priorityClassName: 'High_Priority' } })).toThrow(/scheduling.priorityClassName must be a DNS-1123 subdomain/);
    expect(() => synth({ scheduling: { nodeSelector: { 'bad key': 'x' } } })).toThrow(/scheduling.nodeSelector must be a label key/);
    expect(() => synth({ scheduling: { nodeSelector: { disk: 'fast ssd' } } })).toThrow(/scheduling.nodeSelector\["disk"\] must be a label value/);
    expect(() => synth({ scheduling: { tolerations: [{ key: 'dedicated', effect: 'Sometimes' }] } })).toThrow(/tolerations\[0\].effect must be one of "NoSchedule", "PreferNoSchedule", "NoExecute"/);
    expect(() => synth({ scheduling: { tolerations: [{ key: 'dedicated', operator: 'Exists', value: 'x' }] } })).toThrow(/tolerations\[0\].value must be empty when operator is "Exists"/);
    expect(() => synth({ scheduling: { tolerations: [{ key: 'a', operator: 'Like' }] } })).toThrow(/tolerations\[0\].operator must be one of "Equal", "Exists"/);
  });
});
