/**
 * The HAProxy stats page: exposed through an Ingress or a Traefik IngressRoute (or not at all), with
 * optional basic auth in HAProxy itself.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { container, Manifests } from '../support/manifests';
import { synth } from '../support/synth';

describe('stats UI', () => {
  test('an Ingress for pg-haproxy.<DEFAULT_URL> with class traefik by default', () => {
    const ingress = synth({ domain: 'corp.example' }).get('Ingress', 'pg-ha-router-stats');
    expect(ingress.spec.ingressClassName).toBe('traefik');
    expect(ingress.spec.rules[0].host).toBe('pg-haproxy.corp.example');
    expect(ingress.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'pg-ha-router', port: { name: 'stats' } });
  });

  test('a Traefik IngressRoute instead, with basic auth through a Middleware', () => {
    const s = synth({ statsIngress: { kind: 'ingressroute', basicAuthSecret: 'stats-users' } });
    expect(s.all('Ingress')).toEqual([]);
    const route = s.get('IngressRoute', 'pg-ha-router-stats');
    expect(route.spec.routes[0].match).toBe('Host(`pg-haproxy.example.com`)');
    expect(route.spec.routes[0].middlewares).toEqual([{ name: 'pg-ha-stats-auth' }]);
    expect(s.get('Middleware', 'pg-ha-stats-auth').spec.basicAuth.secret).toBe('stats-users');
  });

  test('basic auth on the Ingress goes through the Middleware annotation', () => {
    const ingress = synth({ statsIngress: { basicAuthSecret: 'stats-users' } }).get('Ingress', 'pg-ha-router-stats');
    expect(ingress.metadata.annotations['traefik.ingress.kubernetes.io/router.middlewares']).toBe('pg-ha-pg-ha-stats-auth@kubernetescrd');
  });

  test('none: no stats exposure at all', () => {
    const s = synth({ statsIngress: { kind: 'none' } });
    expect(s.all('Ingress').concat(s.all('IngressRoute'))).toEqual([]);
  });
});

describe('HAProxy stats basic auth', () => {
  const haproxyConfig = (s: Manifests) => s.get('ConfigMap', 'pg-ha-router').data['haproxy.cfg'] as string;
  const haproxyEnv = (s: Manifests) => container(s.workload('router'), 'haproxy').env;

  test('off by default (the stats page is fenced by the NetworkPolicy; Traefik may add its own auth)', () => {
    const s = synth();
    expect(haproxyConfig(s)).not.toMatch(/stats auth/);
    expect(haproxyEnv(s)).toBeUndefined();
  });

  test('with a Secret, HAProxy reads the user and password from env vars, never from the ConfigMap', () => {
    const s = synth({ router: { statsAuthSecret: 'stats-auth' } });
    // HAProxy expands ${VAR} inside double quotes when it parses its configuration.
    expect(haproxyConfig(s)).toContain('    stats auth "${STATS_USER}:${STATS_PASSWORD}"');
    const env = haproxyEnv(s);
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
