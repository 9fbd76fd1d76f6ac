/**
 * Secret writes beyond create, as the secrets generator will need them to add keys a newer
 * version requires to an existing Secret: merge and JSON patches that add a key and keep the
 * others, an update with a stale resourceVersion refused with 409 Conflict, and RBAC read live from
 * the Roles in the store (a Role that grants patch takes effect without a restart).
 */
import { ApiObject } from '../../e2e/lib/kube/object-store';
import { call, NS, ServedCluster, servedCluster } from './cluster-fixture';

let c: ServedCluster;
beforeEach(async () => {
  c = await servedCluster();
  c.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pg-ha-credentials', namespace: NS }, data: { a: 'YQ==' } } as ApiObject);
});
afterEach(async () => { await c.close(); });

const path = `/api/v1/namespaces/${NS}/secrets/pg-ha-credentials`;
const jobToken = (): string => c.api.tokenFor(NS, 'pg-ha-secrets');

test("the secrets Job's Role in dist/ allows patching the credentials Secret only; a Role that drops it takes effect at once", async () => {
  const body = { data: { b: 'Yg==' } };
  const other = `/api/v1/namespaces/${NS}/secrets/another-secret`;
  c.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'another-secret', namespace: NS }, data: {} } as ApiObject);
  expect((await call(c.api, jobToken(), 'PATCH', other, body, 'application/merge-patch+json')).code).toBe(403);
  const r = await call(c.api, jobToken(), 'PATCH', path, body, 'application/merge-patch+json');
  expect(r.code).toBe(200);
  expect(c.store.get('Secret', NS, 'pg-ha-credentials')!.data).toEqual({ a: 'YQ==', b: 'Yg==' });
  const role = c.store.get('Role', NS, 'pg-ha-secrets')!;
  role.rules = role.rules.map((rule: any) => ({ ...rule, verbs: rule.verbs.filter((v: string) => v !== 'patch') }));
  c.store.put(role);
  expect((await call(c.api, jobToken(), 'PATCH', path, { data: { c: 'Yw==' } }, 'application/merge-patch+json')).code).toBe(403);
});

test('a JSON patch adds a key only if the Secret is still what the client read (test op), else 422', async () => {
  const rv = c.store.get('Secret', NS, 'pg-ha-credentials')!.metadata.resourceVersion;
  const ops = (version: string) => [{ op: 'test', path: '/metadata/resourceVersion', value: version }, { op: 'add', path: '/data/b', value: 'Yg==' }];
  expect((await call(c.api, c.api.adminToken, 'PATCH', path, ops('1'), 'application/json-patch+json')).code).toBe(422);
  expect(c.store.get('Secret', NS, 'pg-ha-credentials')!.data).toEqual({ a: 'YQ==' });
  expect((await call(c.api, c.api.adminToken, 'PATCH', path, ops(rv), 'application/json-patch+json')).code).toBe(200);
  expect(c.store.get('Secret', NS, 'pg-ha-credentials')!.data).toEqual({ a: 'YQ==', b: 'Yg==' });
});

test('an update (PUT) with a stale resourceVersion is a 409 Conflict; stringData is folded into data', async () => {
  const current = (await call(c.api, c.api.adminToken, 'GET', path)).body;
  const ok = await call(c.api, c.api.adminToken, 'PUT', path, { ...current, stringData: { c: 'see' } });
  expect(ok.code).toBe(200);
  expect(ok.body.data).toEqual({ a: 'YQ==', c: Buffer.from('see').toString('base64') });
  const stale = await call(c.api, c.api.adminToken, 'PUT', path, current);
  expect(stale.code).toBe(409);
  expect(stale.body).toMatchObject({ reason: 'Conflict', message: expect.stringContaining('the object has been modified') });
});

test('a second create of the same Secret is 409 AlreadyExists with the API server\'s message', async () => {
  const r = await call(c.api, c.api.adminToken, 'POST', `/api/v1/namespaces/${NS}/secrets`, { metadata: { name: 'pg-ha-credentials' }, data: {} });
  expect(r).toMatchObject({ code: 409, body: { kind: 'Status', reason: 'AlreadyExists', message: 'secrets "pg-ha-credentials" already exists' } });
});
