/**
 * Spilo's role callback labels each pod spilo-role=<role> through the API server at the fixed name
 * kubernetes.default.svc.cluster.local, which does not resolve in a cluster with another DNS domain
 * (found on the real-Kubernetes bed with CLUSTER_DOMAIN=corp.internal: no pod ever got its label).
 * There, Patroni's callbacks run Spilo's callback through role_label_callback.py, which finds the API
 * server by KUBERNETES_SERVICE_HOST/PORT; with cluster.local, Spilo's own callbacks stay.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parse } from 'yaml';
import { container, envOf } from '../support/manifests';
import { ROOT, synth } from '../support/synth';

const SCRIPT = join(ROOT, 'lib', 'assets', 'role_label_callback.py');

function spiloConfiguration(clusterDomain?: string) {
  const s = synth({ clusterDomain });
  const sts = s.get('StatefulSet', 'pg-ha');
  const spilo = container(sts, 'postgres');
  return { s, sts, spilo, config: parse(envOf(spilo).SPILO_CONFIGURATION.value.replace('$(BOOTSTRAP_DYNAMIC_CONFIG)', '{}')) };
}

describe("the role-label callback and the cluster's DNS domain", () => {
  test('cluster.local: Spilo\'s own callbacks (SPILO_CONFIGURATION sets none), no callback ConfigMap', () => {
    const { s, config, spilo } = spiloConfiguration();
    expect(config.postgresql.callbacks).toBeUndefined();
    expect(s.objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('role-label-callback'))).toEqual([]);
    expect(spilo.volumeMounts.map((m: { name: string }) => m.name)).not.toContain('role-label-callback');
  });

  test('another domain: every callback runs the mounted role_label_callback.py, on_role_change through Spilo\'s on_role_change.sh', () => {
    const { s, sts, spilo, config } = spiloConfiguration('corp.internal');
    const command = 'python3 /etc/role-label-callback/role_label_callback.py';
    expect(config.postgresql.callbacks).toEqual({ on_start: command, on_stop: command, on_role_change: `/scripts/on_role_change.sh zalandos ${command}` });
    const cm = s.get('ConfigMap', 'pg-ha-role-label-callback');
    expect(Object.keys(cm.data)).toEqual(['role_label_callback.py']);
    expect(sts.spec.template.spec.volumes).toContainEqual({ name: 'role-label-callback', configMap: { name: 'pg-ha-role-label-callback' } });
    expect(spilo.volumeMounts).toContainEqual({ name: 'role-label-callback', mountPath: '/etc/role-label-callback', readOnly: true });
  });
});

describe('role_label_callback.py runs Spilo\'s callback_role with the API server of the pod\'s environment', () => {
  let scripts: string;
  beforeAll(() => {
    // A callback_role module with Spilo's interface (KUBE_API_URL, main() reading sys.argv) that prints what it would call.
    scripts = mkdtempSync(join(tmpdir(), 'pgha-callback-role-'));
    writeFileSync(join(scripts, 'callback_role.py'), [
      "import sys",
      "KUBE_API_URL = 'https://kubernetes.default.svc.cluster.local/api/v1/namespaces'",
      "def main():",
      "    print(KUBE_API_URL, *sys.argv[1:])",
      "    return 0",
    ].join('\n'));
  });
  afterAll(() => rmSync(scripts, { recursive: true, force: true }));

  const run = (env: Record<string, string>, moduleDir = scripts) => spawnSync('python3', [SCRIPT, 'on_role_change', 'primary', 'orders'], {
    env: { PATH: process.env.PATH!, PYTHONPATH: moduleDir, ...env }, encoding: 'utf8',
  });

  test.each([
    ['an IPv4 Service address', { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, 'https://10.96.0.1:443/api/v1/namespaces'],
    ['an IPv6 Service address (in brackets)', { KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '6443' }, 'https://[fd00:10:96::1]:6443/api/v1/namespaces'],
  ])('%s', (_what, env, url) => {
    const r = run(env);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`${url} on_role_change primary orders`);
    expect(r.status).toBe(0);
  });

  test('without KUBERNETES_SERVICE_HOST it exits non-zero naming the variable', () => {
    const r = run({});
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/KUBERNETES_SERVICE_HOST is not set/);
  });

  test("a callback_role without KUBE_API_URL (another Spilo) is named, not silently ignored", () => {
    const other = mkdtempSync(join(tmpdir(), 'pgha-callback-role-other-'));
    try {
      writeFileSync(join(other, 'callback_role.py'), 'def main():\n    return 0\n');
      const r = run({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }, other);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/callback_role\.py has no KUBE_API_URL/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
