/**
 * The secret generator (lib/assets/create-secret.py) run with the real python3 against a local HTTPS
 * server that answers like the Kubernetes API's Secret endpoints. This proves the script's logic
 * (create only when absent, never overwrite, verify TLS, print no password), not the cluster's RBAC.
 */
import { execFileSync, spawn } from 'child_process';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { CREDENTIAL_KEYS } from '../../lib';
import { kubeletExpand, PRINTABLE_ASCII } from '../support/credential-text';
import { dir, fakeApi, FakeApi } from '../support/fake-secrets-api';
import { container, envOf } from '../support/manifests';
import { ROOT, synth } from '../support/synth';

const script = join(ROOT, 'lib', 'assets', 'create-secret.py');
const keys = Object.values(CREDENTIAL_KEYS);

function run(api: FakeApi, caDir = dir, source = 'generated', extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('python3', [script], {
      env: {
        PATH: process.env.PATH, SERVICEACCOUNT_DIR: caDir, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port),
        SECRET_NAME: 'pg-ha-credentials', SECRET_KEYS: keys.join(','), SECRET_LABELS: '{"app.kubernetes.io/instance":"pg-ha"}', POD_NAMESPACE: 'pg-ha',
        SECRET_SOURCE: source,
        ...extraEnv,
      },
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

const existingSecret = (dataKeys: string[]) => ({
  metadata: { name: 'pg-ha-credentials', resourceVersion: '7' },
  data: Object.fromEntries(dataKeys.map((k) => [k, Buffer.from('kept').toString('base64')])),
});

test('creates the Secret with a random password per key when it is absent, printing none of them', async () => {
  const api = await fakeApi();
  const { code, out } = await run(api);
  api.server.close();
  expect(code).toBe(0);
  const secret = api.secrets.get('pg-ha-credentials');
  expect(Object.keys(secret.data)).toEqual(keys);
  const passwords = Object.values<string>(secret.data).map((v) => Buffer.from(v, 'base64').toString());
  for (const p of passwords) expect(p).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, URL-safe base64
  expect(new Set(passwords).size).toBe(keys.length);
  for (const p of passwords) expect(out).not.toContain(p);
  expect(secret.metadata.labels).toEqual({ 'app.kubernetes.io/instance': 'pg-ha' });
  expect(api.requests).toEqual([
    `GET /api/v1/namespaces/pg-ha/secrets/pg-ha-credentials auth=Bearer test-token`,
    `POST /api/v1/namespaces/pg-ha/secrets auth=Bearer test-token`,
  ]);
});

test('leaves an existing complete Secret alone (re-running is harmless)', async () => {
  const api = await fakeApi(existingSecret(keys));
  const { code, out } = await run(api);
  api.server.close();
  expect(code).toBe(0);
  expect(out).toContain('already exists');
  expect(api.requests.filter((r) => r.startsWith('POST'))).toEqual([]);
  expect(Buffer.from(api.secrets.get('pg-ha-credentials').data['app-password'], 'base64').toString()).toBe('kept');
});

test('adds the keys a newer version needs to a generated Secret, leaving the keys already there as they were', async () => {
  const api = await fakeApi(existingSecret(['superuser-password']));
  const { code, out } = await run(api);
  api.server.close();
  expect(code).toBe(0);
  expect(out).toContain('Added the keys replication-password, app-password, monitor-password');
  const secret = api.secrets.get('pg-ha-credentials');
  expect(Object.keys(secret.data).sort()).toEqual([...keys].sort());
  expect(Buffer.from(secret.data['superuser-password'], 'base64').toString()).toBe('kept');
  for (const k of keys.filter((key) => key !== 'superuser-password')) {
    const value = Buffer.from(secret.data[k], 'base64').toString();
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(out).not.toContain(value);
  }
  expect(api.requests.map((r) => r.split(' ')[0])).toEqual(['GET', 'PATCH']);
});

test('a Secret changed between its read and its patch (409 on the resourceVersion) is read again, not overwritten', async () => {
  const api = await fakeApi(existingSecret(['superuser-password']));
  // GIVEN another writer adds app-password with its own value right after the script's first read
  const original = api.server.listeners('request')[0] as (...a: any[]) => void;
  let reads = 0;
  api.server.removeAllListeners('request');
  api.server.on('request', (req, res) => {
    if (req.method === 'GET' && ++reads === 1) {
      res.on('finish', () => {
        const s = api.secrets.get('pg-ha-credentials');
        api.secrets.set('pg-ha-credentials', { ...s, metadata: { ...s.metadata, resourceVersion: '8' }, data: { ...s.data, 'app-password': Buffer.from('theirs').toString('base64') } });
      });
    }
    original(req, res);
  });
  const { code, out } = await run(api);
  api.server.close();
  expect(code).toBe(0);
  expect(api.requests.map((r) => r.split(' ')[0])).toEqual(['GET', 'PATCH', 'GET', 'PATCH']);
  expect(out).toContain('Added the keys replication-password, monitor-password');
  expect(Buffer.from(api.secrets.get('pg-ha-credentials').data['app-password'], 'base64').toString()).toBe('theirs');
});

test('EXISTING_SECRET: a missing key stops the Job with a message naming it, and nothing is written', async () => {
  const api = await fakeApi(existingSecret(keys.filter((k) => k !== 'monitor-password')));
  const { code, out } = await run(api, dir, 'existing');
  api.server.close();
  expect(code).not.toBe(0);
  expect(out).toContain('EXISTING_SECRET: Secret pg-ha/pg-ha-credentials lacks the key monitor-password; add it');
  expect(api.requests.map((r) => r.split(' ')[0])).toEqual(['GET']);
});

test('EXISTING_SECRET: an absent Secret stops the Job naming it and the keys it needs; a complete one passes', async () => {
  const absent = await fakeApi();
  const missing = await run(absent, dir, 'existing');
  absent.server.close();
  expect(missing.code).not.toBe(0);
  expect(missing.out).toContain(`EXISTING_SECRET: Secret pg-ha/pg-ha-credentials does not exist; create it with the keys ${keys.join(', ')}`);
  expect(absent.secrets.size).toBe(0);
  const complete = await fakeApi(existingSecret(keys));
  const ok = await run(complete, dir, 'existing');
  complete.server.close();
  expect(ok.code).toBe(0);
  expect(complete.requests.map((r) => r.split(' ')[0])).toEqual(['GET']);
});

test('refuses an API server whose certificate the mounted CA did not sign', async () => {
  const api = await fakeApi();
  const otherCa = mkdtempSync(join(tmpdir(), 'pg-ha-sa-other-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=other',
    '-keyout', join(otherCa, 'tls.key'), '-out', join(otherCa, 'ca.crt')], { stdio: 'ignore' });
  writeFileSync(join(otherCa, 'token'), 'test-token\n');
  const { code, out } = await run(api, otherCa);
  api.server.close();
  expect(code).not.toBe(0);
  expect(out).toMatch(/CERTIFICATE_VERIFY_FAILED/);
  expect(api.secrets.size).toBe(0);
});

describe("etcd's certificate", () => {
  const GENERATED = {
    ETCD_TLS_SOURCE: 'generated', ETCD_TLS_SECRET: 'pg-ha-etcd-tls', ETCD_CA_SECRET: 'pg-ha-etcd-ca', ETCD_TLS_COMMON_NAME: 'pg-ha-etcd',
    ETCD_TLS_NAMES: '*.pg-ha-etcd-headless.pg-ha.svc.cluster.local,pg-ha-etcd,localhost,127.0.0.1', ETCD_CA_DAYS: '3650', ETCD_TLS_DAYS: '1825',
  };
  const decoded = (secret: any, key: string) => Buffer.from(secret.data[key], 'base64').toString();
  const openssl = (args: string[], input?: string) => execFileSync('openssl', args, { input, encoding: 'utf8' });

  test('generated once: a P-256 CA kept in its own Secret, and a certificate it signed for servers and clients with every name, no key printed', async () => {
    const api = await fakeApi(existingSecret(keys));
    const { code, out } = await run(api, dir, 'generated', GENERATED);
    expect(code).toBe(0);
    const tls = api.secrets.get('pg-ha-etcd-tls');
    const ca = api.secrets.get('pg-ha-etcd-ca');
    expect(Object.keys(tls.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(decoded(tls, 'ca.crt')).toBe(decoded(ca, 'tls.crt'));
    expect(out).not.toContain(decoded(tls, 'tls.key').split('\n')[1]);
    expect(out).not.toContain(decoded(ca, 'tls.key').split('\n')[1]);
    const caDir = mkdtempSync(join(tmpdir(), 'pg-ha-etcd-ca-'));
    writeFileSync(join(caDir, 'ca.crt'), decoded(tls, 'ca.crt'));
    expect(openssl(['verify', '-CAfile', join(caDir, 'ca.crt')], decoded(tls, 'tls.crt')).trim()).toBe('stdin: OK');
    const text = openssl(['x509', '-noout', '-text'], decoded(tls, 'tls.crt'));
    expect(text).toContain('TLS Web Server Authentication, TLS Web Client Authentication');
    expect(text).toMatch(/DNS:\*\.pg-ha-etcd-headless\.pg-ha\.svc\.cluster\.local, DNS:pg-ha-etcd, DNS:localhost, IP Address:127\.0\.0\.1/);
    expect(openssl(['x509', '-noout', '-text'], decoded(ca, 'tls.crt'))).toMatch(/ASN1 OID: prime256v1[\s\S]*CA:TRUE, pathlen:0/);
    // Run again: both Secrets exist and stay as they are.
    const again = await run(api, dir, 'generated', GENERATED);
    api.server.close();
    expect(again.code).toBe(0);
    expect(again.out).toContain('etcd TLS Secret pg-ha/pg-ha-etcd-tls already exists; left as it is.');
    expect(api.requests.filter((r) => r.startsWith('POST'))).toHaveLength(2);
  });

  test('renewal: with the serving Secret deleted and the CA kept, a new certificate is signed by the same CA', async () => {
    const api = await fakeApi(existingSecret(keys));
    await run(api, dir, 'generated', GENERATED);
    const firstCa = api.secrets.get('pg-ha-etcd-ca');
    const first = decoded(api.secrets.get('pg-ha-etcd-tls'), 'tls.crt');
    api.secrets.delete('pg-ha-etcd-tls');
    const { code, out } = await run(api, dir, 'generated', GENERATED);
    api.server.close();
    expect(code).toBe(0);
    expect(out).toContain('etcd CA Secret pg-ha/pg-ha-etcd-ca exists: signing with it.');
    const renewed = api.secrets.get('pg-ha-etcd-tls');
    expect(decoded(renewed, 'tls.crt')).not.toBe(first);
    expect(decoded(renewed, 'ca.crt')).toBe(decoded(firstCa, 'tls.crt'));
  });

  test('ETCD_TLS_SECRET without ca.crt stops the Job naming the setting and the key; nothing is written', async () => {
    const api = await fakeApi(existingSecret(keys));
    api.secrets.set('my-etcd-tls', { metadata: { name: 'my-etcd-tls', resourceVersion: '1' }, data: { 'tls.crt': 'eA==', 'tls.key': 'eA==' } });
    const { code, out } = await run(api, dir, 'generated', { ETCD_TLS_SOURCE: 'existing', ETCD_TLS_SECRET: 'my-etcd-tls' });
    api.server.close();
    expect(code).not.toBe(0);
    expect(out).toContain('ETCD_TLS_SECRET: Secret pg-ha/my-etcd-tls lacks ca.crt');
    expect(api.requests.filter((r) => !r.startsWith('GET'))).toEqual([]);
  });

  const CLIENT = { ...GENERATED, ETCD_CLIENT_TLS_SECRET: 'pg-ha-etcd-client-tls', ETCD_CLIENT_TLS_ORGANIZATION: 'pg-ha-etcd-client' };

  test("the clients' certificate: generated once, signed by the same CA, client auth only, O= and no common name (etcd's gateway refuses one with a CN)", async () => {
    const api = await fakeApi(existingSecret(keys));
    const { code, out } = await run(api, dir, 'generated', CLIENT);
    expect(code).toBe(0);
    expect(out).toContain("Created the etcd clients' certificate (O=pg-ha-etcd-client, client auth) in Secret pg-ha/pg-ha-etcd-client-tls.");
    const client = api.secrets.get('pg-ha-etcd-client-tls');
    const ca = api.secrets.get('pg-ha-etcd-ca');
    expect(Object.keys(client.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(decoded(client, 'ca.crt')).toBe(decoded(ca, 'tls.crt'));
    expect(out).not.toContain(decoded(client, 'tls.key').split('\n')[1]);
    const caDir = mkdtempSync(join(tmpdir(), 'pg-ha-etcd-ca-'));
    writeFileSync(join(caDir, 'ca.crt'), decoded(ca, 'tls.crt'));
    expect(openssl(['verify', '-CAfile', join(caDir, 'ca.crt'), '-purpose', 'sslclient'], decoded(client, 'tls.crt')).trim()).toBe('stdin: OK');
    expect(openssl(['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], decoded(client, 'tls.crt')).trim()).toBe('subject=O=pg-ha-etcd-client');
    const text = openssl(['x509', '-noout', '-text'], decoded(client, 'tls.crt'));
    expect(text).toMatch(/Extended Key Usage: *\n *TLS Web Client Authentication\n/);
    expect(text).toContain('ASN1 OID: prime256v1');
    // Run again: left as it is (never overwritten).
    const again = await run(api, dir, 'generated', CLIENT);
    api.server.close();
    expect(again.code).toBe(0);
    expect(again.out).toContain("etcd clients' TLS Secret pg-ha/pg-ha-etcd-client-tls holds tls.crt, tls.key, ca.crt; left as it is.");
    expect(decoded(api.secrets.get('pg-ha-etcd-client-tls'), 'tls.crt')).toBe(decoded(client, 'tls.crt'));
  });

  test("a cluster whose etcd certificate was generated before: the clients' certificate is signed with the kept CA, etcd's is left alone", async () => {
    const api = await fakeApi(existingSecret(keys));
    await run(api, dir, 'generated', GENERATED);
    const server = decoded(api.secrets.get('pg-ha-etcd-tls'), 'tls.crt');
    const { code } = await run(api, dir, 'generated', CLIENT);
    api.server.close();
    expect(code).toBe(0);
    expect(decoded(api.secrets.get('pg-ha-etcd-tls'), 'tls.crt')).toBe(server);
    expect(decoded(api.secrets.get('pg-ha-etcd-client-tls'), 'ca.crt')).toBe(decoded(api.secrets.get('pg-ha-etcd-ca'), 'tls.crt'));
  });

  test('ETCD_CLIENT_TLS_SECRET without tls.key (or absent) stops the Job naming the setting and the key; nothing is written', async () => {
    const api = await fakeApi(existingSecret(keys));
    api.secrets.set('my-etcd-tls', { metadata: { name: 'my-etcd-tls', resourceVersion: '1' }, data: { 'tls.crt': 'eA==', 'tls.key': 'eA==', 'ca.crt': 'eA==' } });
    api.secrets.set('my-client-tls', { metadata: { name: 'my-client-tls', resourceVersion: '1' }, data: { 'tls.crt': 'eA==', 'ca.crt': 'eA==' } });
    const existing = { ETCD_TLS_SOURCE: 'existing', ETCD_TLS_SECRET: 'my-etcd-tls', ETCD_CLIENT_TLS_SECRET: 'my-client-tls' };
    const lacking = await run(api, dir, 'generated', existing);
    expect(lacking.code).not.toBe(0);
    expect(lacking.out).toContain("ETCD_CLIENT_TLS_SECRET: Secret pg-ha/my-client-tls lacks tls.key; etcd's clients need tls.crt, tls.key");
    const absent = await run(api, dir, 'generated', { ...existing, ETCD_CLIENT_TLS_SECRET: 'nope' });
    api.server.close();
    expect(absent.code).not.toBe(0);
    expect(absent.out).toContain('ETCD_CLIENT_TLS_SECRET: Secret pg-ha/nope does not exist; create it with the keys tls.crt, tls.key, ca.crt');
    expect(api.requests.filter((r) => !r.startsWith('GET'))).toEqual([]);
  });
});

describe("the application's connection Secret (<scope>-app)", () => {
  const APP_ENV = {
    APP_SECRET_NAME: 'pg-ha-app', APP_SECRET_LABELS: '{"app.kubernetes.io/instance":"pg-ha"}', APP_SECRET_ANNOTATIONS: '{}',
    APP_USER: 'app', APP_DB: 'app', APP_SSLMODE: 'require', APP_CREDENTIAL_KEY: 'app-password',
    APP_ENDPOINTS: JSON.stringify([{ prefix: '', host: 'pg-ha-rw.pg-ha.svc.cluster.local', port: 5432 }]),
  };
  const decoded = (secret: any, key: string) => Buffer.from(secret.data[key], 'base64').toString();

  test('created from the credentials Secret when absent (basic-auth, the password not printed); an existing one is left to the init Job', async () => {
    const api = await fakeApi();
    const first = await run(api, dir, 'generated', APP_ENV);
    expect(first.code).toBe(0);
    const app = api.secrets.get('pg-ha-app');
    const password = decoded(api.secrets.get('pg-ha-credentials'), 'app-password');
    expect(app.type).toBe('kubernetes.io/basic-auth');
    expect([decoded(app, 'username'), decoded(app, 'password'), decoded(app, 'host')]).toEqual(['app', password, 'pg-ha-rw.pg-ha.svc.cluster.local']);
    expect(first.out).toContain('Created Secret pg-ha/pg-ha-app');
    expect(first.out).not.toContain(password);
    // A second run (the init Job keeps it current): no write.
    const second = await run(api, dir, 'generated', APP_ENV);
    api.server.close();
    expect(second.code).toBe(0);
    expect(second.out).toContain('Secret pg-ha/pg-ha-app (the application\'s connection) exists; the init Job keeps it current.');
    expect(api.requests.filter((r) => r.startsWith('POST')).length).toBe(2);
  });

  test('EXISTING_SECRET: any printable characters pass; a line break, a control character or a blank value stops the Job naming the key, never the value', async () => {
    const withValues = (values: Record<string, string>) => ({
      metadata: { name: 'pg-ha-credentials', resourceVersion: '7' },
      data: Object.fromEntries(keys.map((k) => [k, Buffer.from(values[k] ?? `${k} ${PRINTABLE_ASCII}`).toString('base64')])),
    });
    const good = await fakeApi(withValues({}));
    const ok = await run(good, dir, 'existing', APP_ENV);
    good.server.close();
    expect(ok.code).toBe(0);
    expect(decoded(good.secrets.get('pg-ha-app'), 'password')).toBe(`app-password ${PRINTABLE_ASCII}`);
    const bad = await fakeApi(withValues({
      'monitor-password': ['from-a-file', ''].join('\n'), 'patroni-api-password': ['tab', 'here'].join('\t'), 'app-password': '   ', 'etcd-root-password': 'x'.repeat(73), 'superuser-password': 'a$$b',
    }));
    const refused = await run(bad, dir, 'existing', { ...APP_ENV, SECRET_LIMITS: kubeletExpand(envOf(container(synth().job('pg-ha-secrets-'), 'create-secret')).SECRET_LIMITS.value, {}) });
    bad.server.close();
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain('the value of monitor-password ends with a line break (`kubectl create secret --from-file` keeps');
    expect(refused.out).toContain('the value of patroni-api-password holds control characters (0x09)');
    expect(refused.out).toContain('the value of app-password is empty or only spaces');
    expect(refused.out).toContain('the value of etcd-root-password is 73 bytes long; at most 72: etcd keeps its users\' passwords with bcrypt');
    expect(refused.out).toContain('the value of superuser-password holds $$: Patroni sets this role\'s password at bootstrap inside a `DO $$ ... $$` block');
    expect(refused.out).not.toContain('from-a-file');
    expect(bad.secrets.has('pg-ha-app')).toBe(false);
  });
});
