/**
 * TLS for PostgreSQL (a user Secret or a cert-manager Certificate instead of Spilo's self-signed
 * certificate) and basic auth on HAProxy's stats page.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { containersOf, Manifest, ofKind, podOf, synth, workloadPods } from './support/manifests';

const envOf = (manifests: Manifest[], component: string, container: string) =>
  podOf(manifests, component).template.spec.containers.find((c: any) => c.name === container).env as any[];
const envNamed = (env: any[], name: string) => env.find((e) => e.name === name);

describe('PostgreSQL serving certificate', () => {
  test('by default Spilo generates its own certificate and the init Job only requires TLS', () => {
    const manifests = synth();
    expect(envNamed(envOf(manifests, 'database', 'postgres'), 'SSL_CERTIFICATE')).toBeUndefined();
    expect(envNamed(envOf(manifests, 'init', 'init'), 'PGSSLMODE').value).toBe('require');
    expect(ofKind(manifests, 'Certificate')).toEqual([]);
  });

  test('from a Secret: Spilo reads the certificate, key and CA, and the init Job verifies the server', () => {
    const manifests = synth({ postgres: { tls: { secretName: 'pg-tls' } } });
    const spilo = envOf(manifests, 'database', 'postgres');
    // Spilo writes these to /run/certs, owned by postgres with mode 0600 (a mounted Secret would be root-owned).
    expect(envNamed(spilo, 'SSL_CERTIFICATE').valueFrom.secretKeyRef).toEqual({ name: 'pg-tls', key: 'tls.crt' });
    expect(envNamed(spilo, 'SSL_PRIVATE_KEY').valueFrom.secretKeyRef).toEqual({ name: 'pg-tls', key: 'tls.key' });
    expect(envNamed(spilo, 'SSL_CA').valueFrom.secretKeyRef).toEqual({ name: 'pg-tls', key: 'ca.crt', optional: true });

    const init = podOf(manifests, 'init').template.spec;
    const initEnv = init.containers[0].env;
    expect(envNamed(initEnv, 'PGSSLMODE').value).toBe('verify-full');
    expect(envNamed(initEnv, 'PGSSLROOTCERT').value).toBe('/etc/pg-ha-ca/ca.crt');
    // The Job mounts the CA only, never the server's private key.
    const ca = init.volumes.find((v: any) => v.name === 'ca');
    expect(ca.secret).toEqual({ secretName: 'pg-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
    expect(ofKind(manifests, 'Certificate')).toEqual([]);
  });

  test('from cert-manager: a Certificate covers every name a client uses, including the init Job\'s PGHOST', () => {
    const manifests = synth({ postgres: { tls: { issuerName: 'internal-ca', issuerKind: 'ClusterIssuer' } } });
    const [certificate] = ofKind(manifests, 'Certificate');
    expect(certificate.apiVersion).toBe('cert-manager.io/v1');
    expect(certificate.spec).toMatchObject({ secretName: 'pg-ha-tls', issuerRef: { name: 'internal-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' } });
    const pghost = envNamed(envOf(manifests, 'init', 'init'), 'PGHOST').value;
    expect(certificate.spec.dnsNames).toEqual(expect.arrayContaining([
      pghost, 'pg-ha-rw.pg-ha.svc.cluster.local', 'pg-ha-ro', 'pg-ha-ro.pg-ha.svc', '*.pg-ha-headless.pg-ha.svc.cluster.local',
    ]));
    expect(envNamed(envOf(manifests, 'database', 'postgres'), 'SSL_CERTIFICATE').valueFrom.secretKeyRef.name).toBe('pg-ha-tls');
  });

  test('invalid TLS settings name the setting', () => {
    expect(() => synth({ postgres: { tls: { issuerName: 'ca', issuerKind: 'CA' as any } } })).toThrow(/postgres.tls.issuerKind must be one of "Issuer", "ClusterIssuer" \(got "CA"\)/);
    expect(() => synth({ postgres: { tls: { secretName: 'PG_TLS' } } })).toThrow(/postgres.tls.secretName must be a DNS-1123 subdomain/);
    expect(() => synth({ postgres: { tls: { issuerName: 'My Issuer' } } })).toThrow(/postgres.tls.issuerName must be a DNS-1123 subdomain/);
  });
});

describe('HAProxy stats basic auth', () => {
  const haproxyConfig = (manifests: Manifest[]) => ofKind(manifests, 'ConfigMap').find((c) => c.data?.['haproxy.cfg'])!.data['haproxy.cfg'] as string;

  test('off by default (the stats page is fenced by the NetworkPolicy; Traefik may add its own auth)', () => {
    const manifests = synth();
    expect(haproxyConfig(manifests)).not.toMatch(/stats auth/);
    expect(envOf(manifests, 'router', 'haproxy')).toBeUndefined();
  });

  test('with a Secret, HAProxy reads the user and password from env vars, never from the ConfigMap', () => {
    const manifests = synth({ router: { statsAuthSecret: 'stats-auth' } });
    // HAProxy expands ${VAR} inside double quotes when it parses its configuration.
    expect(haproxyConfig(manifests)).toContain('    stats auth "${STATS_USER}:${STATS_PASSWORD}"');
    const env = envOf(manifests, 'router', 'haproxy');
    expect(env).toEqual([
      { name: 'STATS_USER', valueFrom: { secretKeyRef: { name: 'stats-auth', key: 'username' } } },
      { name: 'STATS_PASSWORD', valueFrom: { secretKeyRef: { name: 'stats-auth', key: 'password' } } },
    ]);
    expect(() => synth({ router: { statsAuthSecret: 'Stats Auth' } })).toThrow(/router.statsAuthSecret must be a DNS-1123 subdomain/);
  });

  // HAProxy: the host's, else the e2e test bed's Debian 13 root (scripts/e2e-install.sh; chroot needs root).
  // -V: HAProxy 3 prints "Configuration file is valid" only in verbose mode
  const e2eRoot = process.env.PG_HA_E2E_ROOT ?? '/var/cache/pg-ha-e2e/trixie';
  const haproxy = existsSync('/usr/sbin/haproxy')
    ? { dir: tmpdir(), argv: (file: string) => ['/usr/sbin/haproxy', '-V', '-c', '-f', file] }
    : existsSync(join(e2eRoot, 'usr/sbin/haproxy')) && process.getuid?.() === 0
      ? { dir: join(e2eRoot, 'tmp'), argv: (file: string) => ['/usr/sbin/chroot', e2eRoot, '/usr/sbin/haproxy', '-V', '-c', '-f', file.slice(e2eRoot.length)] }
      : undefined;
  (haproxy ? test : test.skip)('the rendered configuration passes `haproxy -c` (HAProxy of the host, else of the e2e root)', () => {
    const dir = mkdtempSync(join(haproxy!.dir, 'pg-ha-haproxy-'));
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, haproxyConfig(synth({ router: { statsAuthSecret: 'stats-auth' } })));
    const [cmd, ...args] = haproxy!.argv(file);
    const output = execFileSync(cmd, args, { env: { ...process.env, STATS_USER: 'ops', STATS_PASSWORD: randomBytes(12).toString('hex') }, encoding: 'utf8', stdio: 'pipe' });
    rmSync(dir, { recursive: true, force: true });
    expect(output).toMatch(/Configuration file is valid/);
  });
});

test('no container gets a password as a literal value: every *PASS* variable comes from a Secret', () => {
  const settings = [{}, { router: { statsAuthSecret: 'stats-auth' } }, { postgres: { tls: { secretName: 'pg-tls' } } }];
  for (const s of settings) {
    for (const pod of workloadPods(synth(s))) {
      for (const c of containersOf(pod.template.spec)) {
        for (const e of (c.env ?? []).filter((v: any) => /PASS|PRIVATE_KEY/.test(v.name))) {
          expect({ container: c.name, name: e.name, literal: e.value }).toEqual({ container: c.name, name: e.name, literal: undefined });
        }
      }
    }
  }
});
