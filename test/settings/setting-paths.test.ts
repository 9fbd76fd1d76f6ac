/** Setting paths are checked by the compiler: a misspelled path or a value of the wrong type does not compile. */
import { getSetting, KindFor, PgHaSettings, SETTINGS, SettingPath, SettingValue, setSetting, settingsFromVariables } from '../../lib';

describe('setting paths are checked by the compiler', () => {
  test('a path reads and writes the type found there', () => {
    const settings: PgHaSettings = {};
    setSetting(settings, 'etcd.replicas', 5);
    setSetting(settings, 'networkPolicies.clientNamespaces', ['shop']);
    expect(settings).toEqual({ etcd: { replicas: 5 }, networkPolicies: { clientNamespaces: ['shop'] } });
    const replicas: number | undefined = getSetting(settings, 'etcd.replicas');
    expect(replicas).toBe(5);
  });

  test('a misspelled path, a wrong value type or a variable kind that does not fit do not compile', () => {
    // These lines are checked by `tsc --noEmit` (npm test): each must be a compile error.
    // @ts-expect-error: no setting `etcd.replicaz`
    const misspelled: SettingPath = 'etcd.replicaz';
    // @ts-expect-error: etcd.replicas is a number
    setSetting({}, 'etcd.replicas', '3');
    // @ts-expect-error: a number is not parsed from a boolean variable
    const wrongKind: KindFor<SettingValue<'etcd.replicas'>> = 'bool';
    expect([misspelled, wrongKind]).toEqual(['etcd.replicaz', 'bool']);
  });

  test('every variable fills a path that exists in PgHaSettings', () => {
    for (const spec of SETTINGS) {
      const settings = settingsFromVariables({ [spec.env]: sample(spec.kind) }, () => 'SELECT 1;');
      expect([spec.env, getSetting(settings, spec.path)]).not.toEqual([spec.env, undefined]);
    }
  });
});

/** A valid text for a variable of `kind`. */
function sample(kind: string): string {
  return ({ int: '3', bool: 'true', quantity: '1Gi', labels: 'a=b', annotations: 'a=b', parameters: 'work_mem=8MB', tolerations: 'dedicated:NoSchedule', ports: '443', list: 'a,b', file: 'x.sql' } as Record<string, string>)[kind] ?? 'text';
}
