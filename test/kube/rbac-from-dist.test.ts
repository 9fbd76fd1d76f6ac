/**
 * RBAC decisions of the API stand-in, made from the Roles and RoleBindings of the committed dist/
 * exactly as the Kubernetes RBAC authorizer makes them. Each allowed case is what a component needs;
 * each forbidden case is something it must not be able to do.
 */
import { ObjectStore } from '../../e2e/lib/kube/object-store';
import { RbacAuthorizer, RequestAttributes, ruleAllows, serviceAccountUser } from '../../e2e/lib/kube/rbac';
import { distObjects, NS } from './cluster-fixture';

const store = new ObjectStore();
for (const o of distObjects()) store.put(o);
const rbac = new RbacAuthorizer(store);

const req = (verb: string, resource: string, name = '', extra: Partial<RequestAttributes> = {}): RequestAttributes =>
  ({ verb, apiGroup: '', resource, subresource: '', namespace: NS, name, ...extra });
const secretsJob = serviceAccountUser(NS, 'pg-ha-secrets');
const postgres = serviceAccountUser(NS, 'pg-ha-postgres');

describe('the secrets Job ServiceAccount (pg-ha-secrets)', () => {
  test('may create Secrets, read the credentials Secret and patch it (to add a key): what create-secret.py does', () => {
    expect(rbac.allowed(secretsJob, req('create', 'secrets'))).toBe(true);
    expect(rbac.allowed(secretsJob, req('get', 'secrets', 'pg-ha-credentials'))).toBe(true);
    expect(rbac.allowed(secretsJob, req('patch', 'secrets', 'pg-ha-credentials'))).toBe(true);
  });

  test('may not read or patch other Secrets, list Secrets, replace the credentials Secret or touch pods', () => {
    expect(rbac.allowed(secretsJob, req('get', 'secrets', 'another-secret'))).toBe(false);
    expect(rbac.allowed(secretsJob, req('patch', 'secrets', 'another-secret'))).toBe(false);
    expect(rbac.allowed(secretsJob, req('list', 'secrets'))).toBe(false);
    expect(rbac.allowed(secretsJob, req('update', 'secrets', 'pg-ha-credentials'))).toBe(false);
    expect(rbac.allowed(secretsJob, req('list', 'pods'))).toBe(false);
  });

  test('has nothing in another namespace (a RoleBinding grants only in its own namespace)', () => {
    expect(rbac.allowed(secretsJob, req('create', 'secrets', '', { namespace: 'default' }))).toBe(false);
  });
});

describe("Spilo's ServiceAccount (pg-ha-postgres)", () => {
  test("may get and patch each of its own pods (the spilo-role label callback)", () => {
    for (const pod of ['pg-ha-0', 'pg-ha-1', 'pg-ha-2']) {
      expect(rbac.allowed(postgres, req('get', 'pods', pod))).toBe(true);
      expect(rbac.allowed(postgres, req('patch', 'pods', pod))).toBe(true);
    }
  });

  test('may not patch pods that are not its own, list or delete pods, evict, or read Secrets', () => {
    expect(rbac.allowed(postgres, req('patch', 'pods', 'pg-ha-etcd-0'))).toBe(false);
    expect(rbac.allowed(postgres, req('patch', 'pods', 'pg-ha-3'))).toBe(false);
    expect(rbac.allowed(postgres, req('list', 'pods'))).toBe(false);
    expect(rbac.allowed(postgres, req('delete', 'pods', 'pg-ha-1'))).toBe(false);
    // a rule for `pods` does not cover the subresource `pods/eviction`
    expect(rbac.allowed(postgres, req('create', 'pods', 'pg-ha-1', { subresource: 'eviction' }))).toBe(false);
    expect(rbac.allowed(postgres, req('get', 'secrets', 'pg-ha-credentials'))).toBe(false);
  });
});

test('the etcd and router ServiceAccounts have no permission at all', () => {
  for (const sa of ['pg-ha-etcd', 'pg-ha-router']) {
    const user = serviceAccountUser(NS, sa);
    expect(rbac.rulesFor(user, NS)).toEqual([]);
    expect(rbac.allowed(user, req('get', 'secrets', 'pg-ha-credentials'))).toBe(false);
  }
});

test("the init Job's ServiceAccount may read and patch the application's connection Secret, and nothing else", () => {
  const init = serviceAccountUser(NS, 'pg-ha-init');
  expect(rbac.allowed(init, req('get', 'secrets', 'pg-ha-app'))).toBe(true);
  expect(rbac.allowed(init, req('patch', 'secrets', 'pg-ha-app'))).toBe(true);
  expect(rbac.allowed(init, req('get', 'secrets', 'pg-ha-credentials'))).toBe(false);
  expect(rbac.allowed(init, req('create', 'secrets'))).toBe(false);
  expect(rbac.allowed(init, req('delete', 'secrets', 'pg-ha-app'))).toBe(false);
  expect(rbac.allowed(init, req('list', 'secrets'))).toBe(false);
});

describe('rule matching as in the RBAC authorizer', () => {
  const eviction = req('create', 'pods', 'pg-ha-1', { subresource: 'eviction' });
  test('a subresource needs `resource/sub` or `*/sub`; `pods` and `pods/*` do not cover it', () => {
    expect(ruleAllows({ verbs: ['create'], apiGroups: [''], resources: ['pods/eviction'] }, eviction)).toBe(true);
    expect(ruleAllows({ verbs: ['create'], apiGroups: [''], resources: ['*/eviction'] }, eviction)).toBe(true);
    expect(ruleAllows({ verbs: ['create'], apiGroups: [''], resources: ['pods'] }, eviction)).toBe(false);
    expect(ruleAllows({ verbs: ['create'], apiGroups: [''], resources: ['pods/*'] }, eviction)).toBe(false);
  });

  test('resourceNames never allow a create or a list (they carry no name)', () => {
    const rule = { verbs: ['create', 'list'], apiGroups: [''], resources: ['secrets'], resourceNames: ['pg-ha-credentials'] };
    expect(ruleAllows(rule, req('create', 'secrets'))).toBe(false);
    expect(ruleAllows(rule, req('list', 'secrets'))).toBe(false);
  });

  test('the API group must match: statefulsets in "" is not statefulsets in "apps"', () => {
    const rule = { verbs: ['get'], apiGroups: [''], resources: ['statefulsets'] };
    expect(ruleAllows(rule, req('get', 'statefulsets', 'pg-ha', { apiGroup: 'apps' }))).toBe(false);
    expect(ruleAllows({ ...rule, apiGroups: ['apps'] }, req('get', 'statefulsets', 'pg-ha', { apiGroup: 'apps' }))).toBe(true);
    expect(ruleAllows({ ...rule, apiGroups: ['*'], verbs: ['*'] }, req('get', 'statefulsets', 'pg-ha', { apiGroup: 'apps' }))).toBe(true);
  });

  test('a RoleBinding to a Role that does not exist grants nothing', () => {
    const s = new ObjectStore();
    s.put({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'b', namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'missing' }, subjects: [{ kind: 'ServiceAccount', name: 'x' }] });
    expect(new RbacAuthorizer(s).rulesFor(serviceAccountUser(NS, 'x'), NS)).toEqual([]);
  });

  test('the 403 message is the API server\'s', () => {
    expect(RbacAuthorizer.forbiddenMessage(postgres, req('list', 'pods'))).toBe(
      'pods is forbidden: User "system:serviceaccount:pg-ha:pg-ha-postgres" cannot list resource "pods" in API group "" in the namespace "pg-ha"');
    expect(RbacAuthorizer.forbiddenMessage(postgres, req('create', 'pods', 'pg-ha-1', { subresource: 'eviction' }))).toBe(
      'pods "pg-ha-1" is forbidden: User "system:serviceaccount:pg-ha:pg-ha-postgres" cannot create resource "pods/eviction" in API group "" in the namespace "pg-ha"');
  });
});
