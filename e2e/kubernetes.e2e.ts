/*
 * dist/ on a real Kubernetes: kube-apiserver, kube-controller-manager, kube-scheduler, three nodes
 * each with its own kubelet, containerd and kube-proxy (e2e/lib/kubernetes/), CoreDNS, and the
 * images dist/ names built here (e2e/images/). kubectl applies dist/ in Argo CD's order; then the
 * cluster is checked the way its users would, and its failures are made real: a pod deleted, a
 * whole node lost, a node drained.
 */
import { log } from './lib/log';
import { query } from './lib/pg';
import { waitFor } from './lib/poll';
import { KubernetesCluster } from './lib/kubernetes/cluster';
import { DeployedPgHa } from './lib/kubernetes/deployed-pg-ha';
import { deleteLeaderPod, ensureFaultTable, loseLeaderNode } from './lib/kubernetes/faults';
import { KUBERNETES_VERSION } from './lib/kubernetes/components';
import { resourcePath } from './lib/kubernetes/kube-client';
import { Access, describeAccess, serviceAccountMay } from './lib/kubernetes/access-review';
import { bedBlock, distUnderTest } from './lib/kubernetes/bed-options';

const cluster = new KubernetesCluster({ block: bedBlock(0), nodes: 3 });
const deployed = new DeployedPgHa(cluster, distUnderTest());
let app: { user: string; password: string; database: string };
let rw: { host: string; port: number };
let ro: { host: string; port: number };

const appConn = (svc: { host: string; port: number }) => ({ ...svc, ...app, sslmode: 'require' as const });

beforeAll(async () => {
  await cluster.up();
  const r = await deployed.sync();
  if (!r.ok) throw new Error(`dist/ did not sync: ${r.failure}`);
}, 900000);

afterAll(async () => {
  await cluster.down();
}, 120000);

/**
 * What each ServiceAccount of dist/ must be allowed, and a sample of what it must not: [account, access, allowed].
 * Names come from dist/ (scope, member counts, Secret names), so the table holds for any settings.
 */
function accessTable(): Array<[string, Access, boolean]> {
  const scope = deployed.postgres.metadata.name;
  const etcd = deployed.etcd.metadata.name;
  const spiloEnv = deployed.postgres.spec.template.spec.containers[0].env as Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string } } }>;
  const credentials = spiloEnv.find((e) => e.name === 'PGPASSWORD_SUPERUSER')!.valueFrom!.secretKeyRef!.name;
  const members = (sts: typeof etcd, n: number) => Array.from({ length: n }, (_, i) => `${sts}-${i}`);
  const postgresPods = members(scope, deployed.postgres.spec.replicas);
  const claims = [...postgresPods.map((p) => `pgdata-${p}`), ...members(etcd, deployed.etcd.spec.replicas).map((p) => `data-${p}`)];
  const lease: Access = { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', name: `${scope}-day2` };
  const secret = (verb: string, name?: string): Access => ({ verb, resource: 'secrets', name });
  const sa = (component: string) => `${scope}-${component}`;
  return [
    // the secrets Job creates the credentials Secret, reads it (and the etcd TLS and app Secrets) and adds keys with a merge patch
    [sa('secrets'), secret('create'), true],
    [sa('secrets'), secret('get', credentials), true],
    [sa('secrets'), secret('patch', credentials), true],
    [sa('secrets'), secret('get', 'another-secret'), false],
    [sa('secrets'), secret('patch', 'another-secret'), false],
    [sa('secrets'), secret('list'), false],
    [sa('secrets'), secret('update', credentials), false],
    [sa('secrets'), secret('delete', credentials), false],
    [sa('secrets'), { verb: 'list', resource: 'pods' }, false],
    [sa('secrets'), { ...secret('create'), namespace: 'default' }, false],
    // Spilo's role callback gets and patches its own pod, and nothing else
    ...postgresPods.flatMap((pod): Array<[string, Access, boolean]> => [[sa('postgres'), { verb: 'patch', resource: 'pods', name: pod }, true], [sa('postgres'), { verb: 'get', resource: 'pods', name: pod }, true]]),
    [sa('postgres'), { verb: 'patch', resource: 'pods', name: `${etcd}-0` }, false],
    [sa('postgres'), { verb: 'patch', resource: 'pods', name: `${scope}-${postgresPods.length}` }, false],
    [sa('postgres'), { verb: 'list', resource: 'pods' }, false],
    [sa('postgres'), { verb: 'delete', resource: 'pods', name: postgresPods[0] }, false],
    [sa('postgres'), { verb: 'create', resource: 'pods', subresource: 'eviction', name: postgresPods[0] }, false],
    [sa('postgres'), secret('get', credentials), false],
    // etcd and the router never call the API
    [sa('etcd'), secret('get', credentials), false],
    [sa('etcd'), { verb: 'get', resource: 'pods', name: `${etcd}-0` }, false],
    [sa('router'), secret('get', credentials), false],
    [sa('router'), { verb: 'list', resource: 'pods' }, false],
    // the init Job keeps the application's connection Secret up to date
    [sa('init'), secret('get', `${scope}-app`), true],
    [sa('init'), secret('patch', `${scope}-app`), true],
    [sa('init'), secret('get', credentials), false],
    [sa('init'), secret('create'), false],
    [sa('init'), secret('delete', `${scope}-app`), false],
    // the rollout Job reads the StatefulSets, lists and evicts pods (never deletes them), grows the claims, takes turns through the Lease
    [sa('rollout'), { verb: 'get', group: 'apps', resource: 'statefulsets', name: scope }, true],
    [sa('rollout'), { verb: 'get', group: 'apps', resource: 'statefulsets', name: etcd }, true],
    [sa('rollout'), { verb: 'list', resource: 'pods' }, true],
    [sa('rollout'), { verb: 'create', resource: 'pods', subresource: 'eviction', name: postgresPods[0] }, true],
    ...claims.map((claim): [string, Access, boolean] => [sa('rollout'), { verb: 'patch', resource: 'persistentvolumeclaims', name: claim }, true]),
    [sa('rollout'), lease, true],
    [sa('rollout'), { verb: 'delete', resource: 'pods', name: postgresPods[0] }, false],
    [sa('rollout'), { verb: 'patch', group: 'apps', resource: 'statefulsets', name: scope }, false],
    [sa('rollout'), secret('get', credentials), false],
    [sa('rollout'), { verb: 'create', group: 'coordination.k8s.io', resource: 'leases' }, false],
    [sa('rollout'), { ...lease, name: 'another-lease' }, false],
    // the converge Job talks to Patroni, and takes turns with the rollout Job through the Lease
    [sa('converge'), lease, true],
    [sa('converge'), { verb: 'list', resource: 'pods' }, false],
    [sa('converge'), secret('get', credentials), false],
    // the etcd access Job gets its passwords from env (the kubelet reads the Secret), not from the API
    [sa('etcd-access'), secret('get', credentials), false],
  ];
}

describe(`dist/ on Kubernetes ${KUBERNETES_VERSION} (3 nodes, containerd, kube-proxy, CoreDNS)`, () => {
  test("kubectl applies every object of dist/ in Argo CD's order; every wave becomes healthy and every hook Job completes", () => {
    const r = deployed.lastSync!;
    expect(r.failure).toBeUndefined();
    expect(r.applied).toHaveLength(deployed.objects.length);
    const hooks = deployed.objects.filter((o) => o.kind === 'Job').map((o) => o.metadata.name).sort();
    expect(r.jobs.map((j) => j.name).sort()).toEqual(hooks);
    expect(r.jobs.every((j) => j.succeeded)).toBe(true);
  });

  test('dist/ applied again changes nothing: `kubectl diff` is clean and no object gets a new generation (Argo CD stays Synced)', async () => {
    const generations = async () => (await cluster.api.run(['get', 'statefulsets,deployments,poddisruptionbudgets,networkpolicies,services,configmaps', '-n', deployed.namespace,
      '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.generation}{"\\n"}{end}'])).trim();
    const before = await generations();
    const diff = await cluster.api.kubectl(['diff', '-f', distUnderTest()]);
    expect(diff.stdout).toBe('');
    expect(diff.code).toBe(0);
    const apply = await cluster.api.kubectl(['apply', '-f', distUnderTest()]);
    expect(apply.code).toBe(0);
    expect(await generations()).toBe(before);
  });

  test('the namespace enforces Pod Security "restricted": the admission plugin admitted every pod of dist/ and refuses a pod that asks for more', async () => {
    const ns = await cluster.api.get(`/api/v1/namespaces/${deployed.namespace}`);
    expect(ns?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const probe = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pod-security-probe', namespace: deployed.namespace }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } };
    const refused = await cluster.api.request('POST', `${resourcePath('pods', deployed.namespace)}?dryRun=All`, probe);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/violates PodSecurity "restricted:/);
  });

  test("every ServiceAccount may do what its component needs and nothing else, as the real RBAC authorizer decides (SubjectAccessReview, what `kubectl auth can-i --as` asks)", async () => {
    const expected = accessTable();
    // a denial for an account dist/ does not have would prove nothing: every account of the table is one of dist/'s
    const accounts = new Set(deployed.all('ServiceAccount').map((a) => a.metadata.name));
    expect([...new Set(expected.map(([account]) => account))].filter((a) => !accounts.has(a))).toEqual([]);
    const decided = await Promise.all(expected.map(async ([account, access]) => `${account}: ${describeAccess(access)} -> ${await serviceAccountMay(cluster.api, { namespace: deployed.namespace, name: account }, access) ? 'allowed' : 'denied'}`));
    expect(decided).toEqual(expected.map(([account, access, allowed]) => `${account}: ${describeAccess(access)} -> ${allowed ? 'allowed' : 'denied'}`));
  });

  test('one member per node: the scheduler spreads etcd and PostgreSQL members over the three nodes', async () => {
    for (const w of [deployed.etcd, deployed.postgres]) {
      const pods = await deployed.pods(w);
      const nodes = new Set(pods.map((p) => p.node));
      log(`${w.metadata.name}: ${pods.map((p) => `${p.name} on ${p.node} (${p.ip})`).join(', ')}`);
      expect(nodes.size).toBe(Math.min(pods.length, cluster.nodes.length));
    }
  });

  test('Patroni: one leader, every other member streaming; Spilo\'s callback labelled the leader "primary" through the API server', async () => {
    const members = await deployed.waitHealthy();
    expect(members.filter((m) => m.role === 'leader')).toHaveLength(1);
    const leader = members.find((m) => m.role === 'leader')!.name;
    await waitFor('spilo-role labels', async () => {
      const pods = await deployed.pods(deployed.postgres);
      return pods.every((p) => p.labels['spilo-role'] === (p.name === leader ? 'primary' : 'replica'));
    }, { timeoutMs: 60000, intervalMs: 1000 });
  });

  test('the application logs in through the write Service\'s cluster IP (kube-proxy -> HAProxy -> leader) over TLS; the read Service answers from a replica', async () => {
    app = await deployed.appCredentials();
    const w = deployed.routerService('write');
    const r = deployed.routerService('read');
    rw = { host: await deployed.serviceAddress(w.name), port: w.port };
    ro = { host: await deployed.serviceAddress(r.name), port: r.port };
    const leader = await deployed.leader();
    const row = (await query<{ u: string; d: string; ssl: boolean; server: string; ro: boolean }>(appConn(rw),
      'SELECT current_user AS u, current_database() AS d, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl, host(inet_server_addr()) AS server, pg_is_in_recovery() AS ro'))[0];
    expect(row).toEqual({ u: app.user, d: app.database, ssl: true, server: leader.ip, ro: false });
    const read = (await query<{ ro: boolean }>(appConn(ro), 'SELECT pg_is_in_recovery() AS ro'))[0];
    expect(read.ro).toBe(true);
  });

  test("the leader's pod deleted: Patroni hands over on SIGTERM, the StatefulSet recreates the pod, no acknowledged write lost", async () => {
    await ensureFaultTable(appConn(rw));
    const r = await deleteLeaderPod(cluster, deployed, appConn(rw));
    expect(r.newLeader).not.toBe(r.oldLeader);
    expect(r.acknowledged).toBeGreaterThan(0);
    expect(r.lost).toBe(0);
  }, 600000);

  test("the leader's whole node lost (kubelet, containerd, its containers killed at once): a replica takes over, no acknowledged write lost; the pod waits for its node, whose return brings the member back", async () => {
    const r = await loseLeaderNode(cluster, deployed, appConn(rw));
    expect(r.newLeader).not.toBe(r.oldLeader);
    expect(r.lost).toBe(0);
    // a local volume pins the member to its node: Kubernetes neither deletes nor moves the pod
    expect(r.strandedPod).toMatchObject({ name: r.oldLeader, ready: false });
    // the member is back once its pod is Ready again (its readiness probe: Patroni running), a moment after Patroni lists it
    const back = await waitFor(`${r.oldLeader} Ready again`, async () => (await deployed.pods(deployed.postgres)).find((p) => p.name === r.oldLeader && p.ready), { timeoutMs: 180000, intervalMs: 1000 });
    expect(back.ready).toBe(true);
  }, 900000);

  test('kubectl drain of a node without the leader: its members are evicted through the PodDisruptionBudgets, the node empties, writes go on; uncordoned, every member is back', async () => {
    const ours = async () => (await Promise.all([deployed.etcd, deployed.postgres, deployed.router].map((w) => deployed.pods(w)))).flat();
    // a drain evicts through the PodDisruptionBudgets: start from every member Ready, as an operator would check first
    await waitFor('every pod Ready before the drain', async () => (await ours()).every((p) => p.ready), { timeoutMs: 180000, intervalMs: 1000 });
    const leader = await deployed.leader();
    const target = cluster.nodes.find((n) => n.name !== leader.node)!;
    const before = (await ours()).filter((p) => p.node === target.name).map((p) => p.name);
    expect(before.length).toBeGreaterThan(0);
    const r = await cluster.api.kubectl(['drain', target.name, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=240s', '--pod-selector', 'app.kubernetes.io/instance'], undefined, 300000);
    log(`kubectl drain ${target.name} (${before.join(', ')}): exit ${r.code}\n${(r.stdout + r.stderr).split('\n').filter((l) => /evict|error|cannot|budget/i.test(l)).slice(0, 20).join('\n')}`);
    expect(r.code).toBe(0);
    // evicted, not deleted: each went through the eviction API, which a PodDisruptionBudget can refuse
    for (const name of before) expect(r.stdout).toContain(`pod/${name} evicted`);
    expect((await ours()).filter((p) => p.node === target.name && !p.deleting && p.phase === 'Running')).toEqual([]);
    const row = (await query<{ ro: boolean }>(appConn(rw), 'SELECT pg_is_in_recovery() AS ro'))[0];
    expect(row.ro).toBe(false);
    await cluster.api.run(['uncordon', target.name]);
    const members = await deployed.waitHealthy(240000);
    expect(members).toHaveLength(deployed.postgres.spec.replicas);
  }, 600000);
});
