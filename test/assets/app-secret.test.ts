/**
 * The application's connection Secret (lib/assets/app_secret.py, run with the real python3): its
 * keys for each configuration, each string read back the way its client reads it (a URI as a URL
 * parser percent-decodes it, a JDBC URL as pgjdbc's URLDecoder does, a .pgpass line by libpq's
 * escaping rules) for credentials with any printable characters; and the init Job's update against
 * a fake API server: only what changed is patched, stale keys go, no value is printed. The e2e
 * scenario `credentials with any characters` reads them with the real libpq.
 */
import { spawn, spawnSync } from 'child_process';
import { join } from 'path';
import { HARD_CREDENTIALS } from '../support/credential-text';
import { dir, fakeApi, FakeApi } from '../support/fake-secrets-api';
import { container, envOf } from '../support/manifests';
import { ROOT, synth } from '../support/synth';
import { AppSecret } from '../../lib/components/jobs/app-secret';

const ASSETS = join(ROOT, 'lib', 'assets');
const script = join(ASSETS, 'app_secret.py');

/** The app-secret container's plain env in a synthesized configuration. */
function appEnv(settings = {}): Record<string, string> {
  const job = synth(settings).job('pg-ha-init-');
  return Object.fromEntries(Object.entries(envOf(container(job, 'app-secret'))).filter(([, e]) => 'value' in e).map(([k, e]) => [k, String(e.value)]));
}

/** app_secret.render() for each password, with the connection the env describes. */
function render(env: Record<string, string>, passwords: readonly string[]): Array<Record<string, string>> {
  const program = `import json, sys; sys.path.insert(0, ${JSON.stringify(ASSETS)}); import app_secret
c = app_secret.from_env(json.loads(sys.argv[1]))
print(json.dumps([app_secret.render(c, p) for p in json.load(sys.stdin)]))`;
  const r = spawnSync('python3', ['-c', program, JSON.stringify(env)], { input: JSON.stringify(passwords), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

/** A JDBC URL's parts as pgjdbc's Driver.parseURL reads them: java.net.URLDecoder (`+` is a space). */
function jdbcParse(url: string): { host: string; port: string; database: string; params: Record<string, string> } {
  const urlDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
  const m = /^jdbc:postgresql:\/\/([^:/]+):(\d+)\/([^?]*)\?(.*)$/.exec(url);
  if (!m) throw new Error(`not a JDBC URL: ${url}`);
  const params = Object.fromEntries(m[4].split('&').map((p) => [p.slice(0, p.indexOf('=')), urlDecode(p.slice(p.indexOf('=') + 1))]));
  return { host: m[1], port: m[2], database: urlDecode(m[3]), params };
}

/** One .pgpass line's fields as libpq reads them: `\` escapes the next character, `:` separates. */
function pgpassFields(line: string): string[] {
  const fields = [''];
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\' && i + 1 < line.length) fields[fields.length - 1] += line[++i];
    else if (line[i] === ':' && fields.length < 5) fields.push('');
    else fields[fields.length - 1] += line[i];
  }
  return fields;
}

describe('what the Secret holds', () => {
  test("CloudNativePG's keys for the write Service, ro- for the read Service, pooler- and pooler-ro- for the poolers", () => {
    const keysOf = (settings = {}) => Object.keys(render(appEnv(settings), ['x'])[0]).sort();
    expect(keysOf()).toEqual(['dbname', 'fqdn-jdbc-uri', 'fqdn-uri', 'host', 'jdbc-uri', 'password', 'pgpass', 'port',
      'ro-host', 'ro-jdbc-uri', 'ro-port', 'ro-uri', 'uri', 'user', 'username']);
    const pooled = keysOf({ pooler: { enabled: true, read: true } });
    expect(pooled).toEqual(expect.arrayContaining(['pooler-host', 'pooler-port', 'pooler-uri', 'pooler-jdbc-uri', 'pooler-ro-host', 'pooler-ro-uri']));
    // The TypeScript side lists the same keys (docs, tests).
    const cluster = { name: 'pg-ha', namespace: 'pg-ha', clusterDomain: 'cluster.local' };
    const services = [{ name: 'pg-ha-rw', port: 5432 }, { name: 'pg-ha-ro', port: 5433 }, { name: 'pg-ha-pooler', port: 5432 }, { name: 'pg-ha-pooler-ro', port: 5432 }];
    expect(new AppSecret({ cluster, user: 'app', database: 'app', services }).keys()).toEqual(pooled);
  });

  test('the hosts are the Services\' FQDNs, with their ports, in another namespace and cluster domain too', () => {
    const data = render(appEnv({ namespace: 'db', clusterDomain: 'corp.internal', router: { writePort: 6432, readPort: 6433 }, pooler: { enabled: true } }), ['x'])[0];
    expect([data.host, data.port, data['ro-host'], data['ro-port'], data['pooler-host'], data['pooler-port']])
      .toEqual(['pg-ha-rw.db.svc.corp.internal', '6432', 'pg-ha-ro.db.svc.corp.internal', '6433', 'pg-ha-pooler.db.svc.corp.internal', '5432']);
  });
});

describe('every string reads back as the credential, whatever printable characters it holds', () => {
  const env = appEnv({ pooler: { enabled: true } });
  const rendered = render(env, HARD_CREDENTIALS);

  test('uri: postgresql://, user and password percent-encoded, sslmode=require', () => {
    rendered.forEach((data, i) => {
      for (const key of ['uri', 'ro-uri', 'pooler-uri', 'fqdn-uri']) {
        const url = new URL(data[key]);
        expect(url.protocol).toBe('postgresql:');
        expect([decodeURIComponent(url.username), decodeURIComponent(url.password)]).toEqual(['app', HARD_CREDENTIALS[i]]);
        expect([url.hostname, url.port, url.pathname, url.searchParams.get('sslmode')]).toEqual([data[key.replace('uri', 'host').replace('fqdn-', '')], data[key.replace('uri', 'port').replace('fqdn-', '')], '/app', 'require']);
      }
      expect(data.password).toBe(HARD_CREDENTIALS[i]);
    });
  });

  test('jdbc-uri: as pgjdbc decodes it (URLDecoder: a + would be a space, so a space is %20 and + is %2B)', () => {
    rendered.forEach((data, i) => {
      const jdbc = jdbcParse(data['jdbc-uri']);
      expect(jdbc).toEqual({ host: data.host, port: data.port, database: 'app', params: { user: 'app', password: HARD_CREDENTIALS[i], sslmode: 'require' } });
      expect(jdbcParse(data['pooler-jdbc-uri']).params.password).toBe(HARD_CREDENTIALS[i]);
    });
  });

  test('pgpass: one line per Service, fields as libpq reads them (\\ and : escaped)', () => {
    rendered.forEach((data, i) => {
      const lines = data.pgpass.split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.map(pgpassFields)).toEqual([
        [data.host, data.port, 'app', 'app', HARD_CREDENTIALS[i]],
        [data['ro-host'], data['ro-port'], 'app', 'app', HARD_CREDENTIALS[i]],
        [data['pooler-host'], data['pooler-port'], 'app', 'app', HARD_CREDENTIALS[i]],
      ]);
    });
  });
});

describe("the init Job's update", () => {
  const env = appEnv();
  const secretOf = (data: Record<string, string>) => ({
    metadata: { name: 'pg-ha-app', resourceVersion: '3' }, type: 'kubernetes.io/basic-auth',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
  const decoded = (api: FakeApi) => Object.fromEntries(Object.entries<string>(api.secrets.get('pg-ha-app').data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));

  function run(api: FakeApi, password: string, extra: Record<string, string> = {}): Promise<{ code: number; out: string }> {
    return new Promise((resolve) => {
      const child = spawn('python3', [script], {
        env: { PATH: process.env.PATH, SERVICEACCOUNT_DIR: dir, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port), POD_NAMESPACE: 'pg-ha', ...env, APP_PASSWORD: password, ...extra },
      });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      child.on('close', (code) => resolve({ code: code ?? -1, out }));
    });
  }

  test('a new password: the keys that hold it are patched (with the resourceVersion read), a key no Service has any more removed, no value printed', async () => {
    const [before] = render(env, ['old password']);
    const api = await fakeApi(secretOf({ ...before, 'pooler-host': 'pg-ha-pooler.pg-ha.svc.cluster.local' }));
    const { code, out } = await run(api, 'new "password" \\ :');
    api.server.close();
    expect(code).toBe(0);
    expect(decoded(api)).toEqual(render(env, ['new "password" \\ :'])[0]);
    expect(out).toContain('Secret pg-ha/pg-ha-app updated: changed fqdn-jdbc-uri, fqdn-uri, jdbc-uri, password, pgpass, ro-jdbc-uri, ro-uri, uri; removed pooler-host.');
    expect(out).not.toContain('new "password"');
    expect(api.requests.map((r) => r.split(' ')[0])).toEqual(['GET', 'PATCH']);
  });

  test('up to date: read, nothing written', async () => {
    const [now] = render(env, ['same']);
    const api = await fakeApi(secretOf(now));
    const { code, out } = await run(api, 'same');
    api.server.close();
    expect([code, out.trim()]).toEqual([0, 'Secret pg-ha/pg-ha-app is up to date.']);
    expect(api.requests.map((r) => r.split(' ')[0])).toEqual(['GET']);
  });

  test('absent (the secrets Job creates it): waits, then stops naming the Job to run again', async () => {
    const api = await fakeApi();
    const { code, out } = await run(api, 'x', { APP_SECRET_WAIT_SECONDS: '1' });
    api.server.close();
    expect(code).not.toBe(0);
    expect(out).toContain('Secret pg-ha/pg-ha-app does not exist after 1 s: the secrets Job creates it. Run that Job again');
    expect(api.secrets.size).toBe(0);
  });
});
