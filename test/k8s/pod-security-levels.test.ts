/**
 * Every pod the chart makes meets Pod Security "restricted" (the level its Namespace enforces), for the
 * default and every optional feature (poolers, monitoring, backups, TLS from a Secret or cert-manager,
 * an existing Secret). Why: an API server that enforces restricted rejects any pod below it, so one
 * regression would stop the cluster from starting. The drift test makes the default configuration
 * stand for the committed dist/.
 */
import { violations } from '../support/pod-security';
import { FULL_SETTINGS, synth, synthesizedConfigurations } from '../support/synth';

const SETS = [
  ...synthesizedConfigurations(),
  ['TLS from cert-manager (and every other optional feature)', synth({ ...FULL_SETTINGS, postgres: { tls: { issuerName: 'internal-ca', issuerKind: 'ClusterIssuer' } } })],
] as const;

describe.each(SETS)('Pod Security restricted: %s', (_, synthesized) => {
  test('every pod meets restricted', () => {
    const workloads = synthesized.workloads();
    expect(workloads.length).toBeGreaterThanOrEqual(4);
    const broken = workloads
      .map((w) => ({ name: `${w.component}`, violations: violations(w.podSpec, 'restricted', w.template.metadata.annotations ?? {}) }))
      .filter((p) => p.violations.length > 0);
    expect(broken).toEqual([]);
  });
});
