/**
 * What no workload of the chart may lack (test/support/workload-checks.ts), on every configuration
 * of test/support/synth.ts; the default one is what dist/ holds (see dist.test.ts). Component tests
 * say what each pod needs; these say what no pod may lack. Each check is also shown failing on the
 * mistake it is there to catch, so none passes by matching nothing.
 */
import { Manifest, Manifests } from '../support/manifests';
import { synth, synthesizedConfigurations } from '../support/synth';
import { WORKLOAD_CHECKS } from '../support/workload-checks';

describe.each(synthesizedConfigurations())('every workload: %s', (_, s) => {
  test.each(WORKLOAD_CHECKS.map((check) => [check.name, check] as const))('%s', (_name, check) => {
    expect(check.problems(s, s.chart.cluster.namespace)).toEqual([]);
  });
});

describe('each check catches the mistake it is for', () => {
  const { objects } = synth();
  test.each(WORKLOAD_CHECKS.map((check) => [check.mistake.what, check] as const))('%s', (_what, check) => {
    const copy: Manifest[] = JSON.parse(JSON.stringify(objects));
    check.mistake.make(copy);
    expect(check.problems(new Manifests(copy), 'pg-ha')).not.toEqual([]);
  });
});
