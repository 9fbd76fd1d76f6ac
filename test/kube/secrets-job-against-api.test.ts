/**
 * The REAL secrets generator (the Python script the secrets Job runs) with the host's python3,
 * against the API stand-in serving the committed dist/: TLS verified against the stand-in's CA,
 * the bearer token of the Job's ServiceAccount, RBAC from dist/'s Role. What is not proven here:
 * the Job running in the bed (the e2e test bed does that).
 */
import { spawn } from 'child_process';
import { existsSync } from 'fs';
import { join } from 'path';
import { CREDENTIAL_KEYS } from '../../lib';
import { ApiObject } from '../../e2e/lib/kube/object-store';
import { NS, ServedCluster, servedCluster } from './cluster-fixture';

const script = ['assets', 'files'].map((d) => join(__dirname, '..', '..', 'lib', d, 'create-secret.py')).find((p) => existsSync(p))!;
const keys = Object.values(CREDENTIAL_KEYS);
const SECRET = 'pg-ha-credentials';

function runScript(c: ServedCluster, serviceAccount: string): Promise<{ code: number; out: string }> {
  const saDir = join(c.dir, 'sa', serviceAccount);
  c.api.writeServiceAccountDir(saDir, NS, serviceAccount);
  const url = new URL(c.api.url);
  return new Promise((resolve) => {
    const child = spawn('python3', [script], {
      env: {
        PATH: process.env.PATH, SERVICEACCOUNT_DIR: saDir, KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port,
        SECRET_NAME: SECRET, SECRET_KEYS: keys.join(','), SECRET_LABELS: '{"app.kubernetes.io/instance":"pg-ha"}', POD_NAMESPACE: NS,
      },
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

const scriptCalls = (c: ServedCluster): string[] =>
  c.api.requests.filter((r) => r.user === `system:serviceaccount:${NS}:pg-ha-secrets`).map((r) => `${r.method} ${r.path} ${r.code}`);

test('creates the Secret when it is absent, with the Job\'s own ServiceAccount token', async () => {
  const c = await servedCluster();
  try {
    const { code, out } = await runScript(c, 'pg-ha-secrets');
    expect({ code, out }).toEqual({ code: 0, out: expect.stringContaining(`Created Secret ${NS}/${SECRET}`) });
    expect(scriptCalls(c)).toEqual([`GET /api/v1/namespaces/${NS}/secrets/${SECRET} 404`, `POST /api/v1/namespaces/${NS}/secrets 201`]);
    const secret = c.store.get('Secret', NS, SECRET)!;
    expect(Object.keys(secret.data).sort()).toEqual([...keys].sort());
    for (const v of Object.values<string>(secret.data)) expect(out).not.toContain(Buffer.from(v, 'base64').toString());
  } finally {
    await c.close();
  }
});

test('leaves an existing Secret untouched (GET 200, no write)', async () => {
  const c = await servedCluster();
  try {
    const data = Object.fromEntries(keys.map((k) => [k, Buffer.from(`kept-${k}`).toString('base64')]));
    const before = c.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: SECRET, namespace: NS }, data } as ApiObject);
    const { code, out } = await runScript(c, 'pg-ha-secrets');
    expect(code).toBe(0);
    expect(out).toContain('already exists with every key');
    expect(scriptCalls(c)).toEqual([`GET /api/v1/namespaces/${NS}/secrets/${SECRET} 200`]);
    expect(c.store.get('Secret', NS, SECRET)!.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  } finally {
    await c.close();
  }
});

test('a Secret created between its GET and its POST: the stand-in answers 409 AlreadyExists and the script keeps it', async () => {
  let c: ServedCluster | undefined;
  const data = Object.fromEntries(keys.map((k) => [k, Buffer.from(`other-${k}`).toString('base64')]));
  // GIVEN another writer creates the Secret right after the script's GET answered 404
  c = await servedCluster((line) => {
    if (line.includes(`GET /api/v1/namespaces/${NS}/secrets/${SECRET} -> 404`)) c!.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: SECRET, namespace: NS }, data } as ApiObject);
  });
  try {
    const { code, out } = await runScript(c, 'pg-ha-secrets');
    expect(code).toBe(0);
    expect(out).toContain('was created concurrently; nothing to do');
    expect(scriptCalls(c)).toEqual([
      `GET /api/v1/namespaces/${NS}/secrets/${SECRET} 404`, `POST /api/v1/namespaces/${NS}/secrets 409`, `GET /api/v1/namespaces/${NS}/secrets/${SECRET} 200`]);
    expect(c.store.get('Secret', NS, SECRET)!.data).toEqual(data);
  } finally {
    await c.close();
  }
});

test('is refused (403) with a ServiceAccount whose Role does not allow it, and fails saying so', async () => {
  const c = await servedCluster();
  try {
    const { code, out } = await runScript(c, 'pg-ha-router');
    expect(code).not.toBe(0);
    expect(out).toContain(`GET secret ${NS}/${SECRET} answered HTTP 403`);
    expect(c.store.get('Secret', NS, SECRET)).toBeUndefined();
  } finally {
    await c.close();
  }
});
