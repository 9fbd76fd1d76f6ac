/**
 * The API stand-in over HTTPS, serving a cluster made from the committed dist/ on the in-memory
 * pod runtime: authentication, RBAC answers, pods (get, list by label, label patch as Spilo's
 * callback sends it, delete), eviction against dist/'s PodDisruptionBudgets, StatefulSet
 * revisions. The in-memory runtime proves the API semantics; the programs behind them are the
 * e2e test bed's to prove.
 */
import { statefulSetRevision } from '../../e2e/lib/kube/revision-hash';
import { ApiObject } from '../../e2e/lib/kube/object-store';
import { call, NS, ServedCluster, servedCluster } from './cluster-fixture';

let c: ServedCluster;
beforeEach(async () => { c = await servedCluster(); });
afterEach(async () => { await c.close(); });

const pods = `/api/v1/namespaces/${NS}/pods`;
const admin = (): string => c.api.adminToken;
const spilo = (): string => c.api.tokenFor(NS, 'pg-ha-postgres');

describe('authentication and authorization', () => {
  test('no token or an unknown one: 401 with a Status body', async () => {
    for (const token of [undefined, 'not-a-token']) {
      const r = await call(c.api, token, 'GET', `${pods}/pg-ha-0`);
      expect(r).toEqual({ code: 401, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 } });
    }
  });

  test('a token stops working when its ServiceAccount is deleted', async () => {
    const token = spilo();
    expect((await call(c.api, token, 'GET', `${pods}/pg-ha-0`)).code).toBe(200);
    c.store.delete('ServiceAccount', NS, 'pg-ha-postgres');
    expect((await call(c.api, token, 'GET', `${pods}/pg-ha-0`)).code).toBe(401);
  });

  test('a request the Role does not allow: 403 Forbidden with the API server\'s message', async () => {
    const r = await call(c.api, spilo(), 'GET', pods);
    expect(r.code).toBe(403);
    expect(r.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403, details: { kind: 'pods' },
      message: 'pods is forbidden: User "system:serviceaccount:pg-ha:pg-ha-postgres" cannot list resource "pods" in API group "" in the namespace "pg-ha"' });
  });
});

describe("Spilo's role-label callback (PATCH application/strategic-merge-patch+json on its own pod)", () => {
  const patch = (pod: string, role: string | null): Promise<{ code: number; body: any }> =>
    call(c.api, spilo(), 'PATCH', `${pods}/${pod}`, { metadata: { labels: { 'spilo-role': role } } }, 'application/strategic-merge-patch+json');

  test('sets the spilo-role label, which a list by labelSelector then finds; null (on_stop) removes it', async () => {
    expect((await patch('pg-ha-1', 'primary')).code).toBe(200);
    expect(c.pods.pods().find((p) => p.name === 'pg-ha-1')!.labels['spilo-role']).toBe('primary');
    const listed = await call(c.api, admin(), 'GET', `${pods}?labelSelector=${encodeURIComponent('app.kubernetes.io/name=postgresql,spilo-role=primary')}`);
    expect(listed.body.items.map((p: any) => p.metadata.name)).toEqual(['pg-ha-1']);
    expect(listed.body.kind).toBe('PodList');
    expect((await patch('pg-ha-1', null)).code).toBe(200);
    expect(c.pods.pods().find((p) => p.name === 'pg-ha-1')!.labels).not.toHaveProperty('spilo-role');
  });

  test('another pod (etcd) is forbidden to it', async () => {
    const r = await patch('pg-ha-etcd-0', 'primary');
    expect(r.code).toBe(403);
    expect(c.pods.pods().find((p) => p.name === 'pg-ha-etcd-0')!.labels).not.toHaveProperty('spilo-role');
  });

  test('a patch that would change more than labels and annotations is refused (422), not half applied', async () => {
    const r = await call(c.api, spilo(), 'PATCH', `${pods}/pg-ha-1`, { metadata: { labels: { a: 'b' } }, spec: { nodeName: 'x' } }, 'application/merge-patch+json');
    expect(r.code).toBe(422);
    expect(r.body.reason).toBe('Invalid');
    expect(c.pods.pods().find((p) => p.name === 'pg-ha-1')!.labels).not.toHaveProperty('a');
  });
});

describe('eviction against the PodDisruptionBudgets of dist/', () => {
  const evict = (pod: string): Promise<{ code: number; body: any }> =>
    call(c.api, admin(), 'POST', `${pods}/${pod}/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: NS } });

  test('pg-ha-postgres (maxUnavailable 1): one eviction is allowed, a second while the first pod is not back is 429', async () => {
    // GIVEN 3 Ready Postgres pods; pods restarted after an eviction stay not Ready until the test says so
    c.pods.readyOnStart = false;
    expect((await evict('pg-ha-2')).code).toBe(201);
    await c.controllers.settled();
    expect(c.pods.events.slice(-2)).toEqual(['stop pg-ha-2', expect.stringMatching(/^start pg-ha-2 /)]);
    // WHEN another member is evicted while pg-ha-2 is not Ready
    const refused = await evict('pg-ha-1');
    // THEN the budget forbids it, in the API server's words
    expect(refused.code).toBe(429);
    expect(refused.body).toMatchObject({ reason: 'TooManyRequests', message: "Cannot evict pod as it would violate the pod's disruption budget.",
      details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget pg-ha-postgres needs 2 healthy pods and has 2 currently' }] } });
    expect(c.pods.pods().map((p) => p.name)).toContain('pg-ha-1');
    // AND once pg-ha-2 is Ready again, the next eviction is allowed
    c.pods.setReady('pg-ha-2', true);
    expect((await evict('pg-ha-1')).code).toBe(201);
  });

  test('a second eviction while the first evicted pod is still shutting down is refused (it counts as disrupted)', async () => {
    c.pods.stopDelayMs = 300;
    const [a, b] = await Promise.all([evict('pg-ha-etcd-0'), evict('pg-ha-etcd-1')]);
    expect([a.code, b.code].sort()).toEqual([201, 429]);
  });

  test('a pod that is not Ready may be evicted (unhealthyPodEvictionPolicy: AlwaysAllow)', async () => {
    c.pods.setReady('pg-ha-0', false);
    c.pods.setReady('pg-ha-1', false);
    expect((await evict('pg-ha-1')).code).toBe(201);
  });

  test('pg-ha-router (minAvailable 1, 2 routers): the first eviction is allowed, the second refused', async () => {
    c.pods.readyOnStart = false;
    const routers = c.pods.pods().filter((p) => p.labels['app.kubernetes.io/name'] === 'haproxy').map((p) => p.name);
    expect(routers).toHaveLength(2);
    expect((await evict(routers[0])).code).toBe(201);
    expect((await evict(routers[1])).code).toBe(429);
  });

  test('the budget status reads as the disruption controller writes it', async () => {
    const r = await call(c.api, admin(), 'GET', `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/pg-ha-postgres`);
    expect(r.body.status).toMatchObject({ expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1 });
  });

  test("Spilo's ServiceAccount may not evict (its Role has no pods/eviction)", async () => {
    const r = await call(c.api, spilo(), 'POST', `${pods}/pg-ha-1/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'pg-ha-1' } });
    expect(r.code).toBe(403);
    expect(r.body.message).toContain('cannot create resource "pods/eviction"');
  });
});

describe('StatefulSet revisions', () => {
  test('status.updateRevision is <name>-<template hash> and every pod carries it as controller-revision-hash', async () => {
    const r = await call(c.api, admin(), 'GET', `/apis/apps/v1/namespaces/${NS}/statefulsets/pg-ha`);
    expect(r.code).toBe(200);
    const sts = r.body as ApiObject;
    expect(sts.status).toMatchObject({ replicas: 3, readyReplicas: 3, updatedReplicas: 3, currentReplicas: 3 });
    expect(sts.status.updateRevision).toBe(statefulSetRevision(sts));
    expect(sts.status.updateRevision).toMatch(/^pg-ha-[a-z0-9]{10}$/);
    expect(sts.status.currentRevision).toBe(sts.status.updateRevision);
    const listed = await call(c.api, admin(), 'GET', `${pods}?labelSelector=app.kubernetes.io/name%3Dpostgresql`);
    expect(listed.body.items.map((p: any) => p.metadata.labels['controller-revision-hash'])).toEqual(Array(3).fill(sts.status.updateRevision));
  });

  test('an unknown object is a 404 NotFound Status naming it', async () => {
    const r = await call(c.api, admin(), 'GET', `/apis/apps/v1/namespaces/${NS}/statefulsets/nope`);
    expect(r).toMatchObject({ code: 404, body: { reason: 'NotFound', message: 'statefulsets.apps "nope" not found' } });
  });
});
