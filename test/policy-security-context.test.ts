/**
 * Security contexts (set by the hardening work, lib/k8s/security-context.ts).
 *
 * Why: an explicit securityContext on every container documents what each image needs (Spilo starts
 * as root and keeps privilege escalation for its cron backups; the others run as a fixed non-root uid)
 * instead of relying on image or cluster defaults, and Pod Security admission checks exactly these fields.
 */
import { join } from 'path';
import { objectsInDir } from './support/k8s-schema';
import { CONFIGURATIONS, synthObjects } from './support/configurations';
import { workloads } from './support/workloads';

const SETS: Array<[string, any[]]> = [
  ...Object.entries(CONFIGURATIONS).map(([name, settings]): [string, any[]] => [`${name} configuration`, synthObjects(settings)]),
  ['committed dist/', objectsInDir(join(__dirname, '..', 'dist'))],
];

describe.each(SETS)('security contexts: %s', (_, objects) => {
  test('every container has an explicit securityContext that decides allowPrivilegeEscalation and is not privileged', () => {
    // true is allowed (Spilo's cron backups need it); what is not allowed is leaving it to defaults.
    const missing = workloads(objects).flatMap((w) => w.containers
      .filter((c) => typeof c.securityContext?.allowPrivilegeEscalation !== 'boolean' || c.securityContext?.privileged === true)
      .map((c) => `${w.kind}/${w.name} ${c.name}`));
    expect(missing).toEqual([]);
  });

  test('every container that may not escalate drops all capabilities', () => {
    const missing = workloads(objects).flatMap((w) => w.containers
      .filter((c) => c.securityContext?.allowPrivilegeEscalation === false && !(c.securityContext?.capabilities?.drop ?? []).includes('ALL'))
      .map((c) => `${w.kind}/${w.name} ${c.name}`));
    expect(missing).toEqual([]);
  });

  test('every pod or container chooses a seccomp profile', () => {
    const missing = workloads(objects).flatMap((w) => w.containers
      .filter((c) => !c.securityContext?.seccompProfile && !w.podSpec.securityContext?.seccompProfile)
      .map((c) => `${w.kind}/${w.name} ${c.name}`));
    expect(missing).toEqual([]);
  });
});
