/**
 * The secret generator (lib/assets/create-secret.py) run with the real python3 against a local HTTPS
 * server that answers like the Kubernetes API's Secret endpoints. This proves the script's logic
 * (create only when absent, never overwrite, verify TLS, print no password), not the cluster's RBAC.
 */
import { execFileSync, spawn } from 'child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { createServer, Server } from 'https';
import { AddressInfo } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { CREDENTIAL_KEYS } from '../../lib';
import { ROOT } from '../support/synth';

const script = join(ROOT, 'lib', 'assets', 'create-secret.py');
const keys = Object.values(CREDENTIAL_KEYS);

interface FakeApi { server: Server; port: number; secrets: Map<string, any>; requests: string[] }

const dir = mkdtempSync(join(tmpdir(), 'pg-ha-sa-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
  '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'ca.crt')], { stdio: 'ignore' });
writeFileSync(join(dir, 'token'), 'test-token\n');

async function fakeApi(existing?: any): Promise<FakeApi> {
  const secrets = new Map<string, any>(existing ? [[existing.metadata.name, existing]] : []);
  const requests: string[] = [];
  const server = createServer({ key: readFileSync(join(dir, 'tls.key')), cert: readFileSync(join(dir, 'ca.crt')) }, (req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      requests.push(`${req.method} ${req.url} auth=${req.headers.authorization}`);
      const m = /^\/api\/v1\/namespaces\/pg-ha\/secrets(?:\/([^/]+))?$/.exec(req.url ?? '');
      const reply = (status: number, obj: unknown) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj)); };
      if (!m) return reply(404, {});
      if (req.method === 'GET' && m[1]) return secrets.has(m[1]) ? reply(200, secrets.get(m[1])) : reply(404, { reason: 'NotFound' });
      if (req.method === 'POST' && !m[1]) {
        const secret = JSON.parse(body);
        if (secrets.has(secret.metadata.name)) return reply(409, { reason: 'AlreadyExists' });
        secrets.set(secret.metadata.name, secret);
        return reply(201, secret);
      }
      return reply(405, {});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, secrets, requests };
}

function run(api: FakeApi, caDir = dir): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('python3', [script], {
      env: {
        PATH: process.env.PATH, SERVICEACCOUNT_DIR: caDir, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port),
        SECRET_NAME: 'pg-ha-credentials', SECRET_KEYS: keys.join(','), SECRET_LABELS: '{"app.kubernetes.io/instance":"pg-ha"}', POD_NAMESPACE: 'pg-ha',
      },
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

const existingSecret = (dataKeys: string[]) => ({
  metadata: { name: 'pg-ha-credentials' },
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

test('fails, naming the missing keys, when an existing Secret lacks some', async () => {
  const api = await fakeApi(existingSecret(['superuser-password']));
  const { code, out } = await run(api);
  api.server.close();
  expect(code).not.toBe(0);
  expect(out).toContain('lacks the keys replication-password, app-password, monitor-password');
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
