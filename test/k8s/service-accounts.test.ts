/** ServiceAccounts: one per component, API tokens only where a program calls the API server. */
import { container } from '../support/manifests';
import { synth } from '../support/synth';

describe('ServiceAccounts and API tokens', () => {
  const s = synth();

  test('each component runs under its own ServiceAccount, none of which mounts a token by default', () => {
    const accounts = s.workloads().map((w) => w.podSpec.serviceAccountName);
    expect(accounts.every((a) => typeof a === 'string' && a !== 'default')).toBe(true);
    expect(new Set(accounts).size).toBe(accounts.length);
    for (const name of accounts) {
      expect(s.get('ServiceAccount', name).automountServiceAccountToken).toBe(false);
    }
  });

  test('only the secrets, rollout and converge Jobs (one container each) automount a token; Spilo gets one in the postgres container only', () => {
    for (const { component, podSpec } of s.workloads()) {
      expect({ component, automount: podSpec.automountServiceAccountToken }).toEqual({ component, automount: ['secrets', 'rollout', 'converge'].includes(component) });
    }
    // The role callback (python3 /scripts/callback_role.py) PATCHes the pod's label; the exporter never calls the API.
    const spilo = s.workload('database');
    const mounts = (name: string) => container(spilo, name).volumeMounts ?? [];
    expect(mounts('postgres')).toContainEqual({ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });
    expect(mounts('exporter').some((m: any) => m.name === 'kube-api-access')).toBe(false);
    const volume = spilo.podSpec.volumes.find((v: any) => v.name === 'kube-api-access');
    expect(volume.projected.sources.map((s: any) => Object.keys(s)[0])).toEqual(['serviceAccountToken', 'configMap', 'downwardAPI']);
  });
});
