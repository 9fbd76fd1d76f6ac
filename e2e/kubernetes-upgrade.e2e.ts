/*
 * Upgrades on the real Kubernetes bed (e2e/lib/kubernetes/): each new dist/ synced over the running
 * cluster with kubectl in Argo CD's order (prune included), while a client writes through the write
 * Service; every acknowledged write checked afterwards, leader changes counted from Patroni.
 *
 * 1. The move from plain etcd (docs/security.md#moving-a-cluster-made-with-plain-etcd, CHANGELOG.md):
 *    a cluster made from a dist/ older than 0.1.0 (BEFORE_0_1_0); the current synth over it is
 *    refused naming the line; release 0.1.0's dist/ (step 1) moves etcd's peers to https while its
 *    client port serves http and https; the committed dist/ (a new cluster's, as in 0.2.0) without
 *    the line the synth asks for stops at the etcd access Job; step 2 (the synth with
 *    ETCD_AUTH=false) ends on https only with client certificates, authentication off.
 *    The committed dist/ of that step is the working tree's, not 0.2.0's as landed: 0.2.0's etcd
 *    access Job retried its refusal (backoffLimit 6, about 10 minutes of back-off) before the sync
 *    failed; since then the refusal fails the Job at once (podFailurePolicy), which this step proves.
 * 2. The upgrade a user of the last landed release makes: its committed dist/ (LAST_RELEASE)
 *    deployed fresh, then the working tree's dist/ (what CI tests) synced over it.
 * Both run on one bed, one after the other: between them the namespace is deleted with its claims
 * (the local volumes go with them), which is quicker than a second bed.
 * Its own bed: block offset 4.
 */
import * as fs from 'fs';
import { log } from './lib/log';
import { PgConn } from './lib/pg';
import { waitFor } from './lib/poll';
import { removeVariant, synthVariant } from './lib/synth-variant';
import { REFUSED_EXIT_CODE } from '../lib/k8s/workload';
import { bedBlock, distUnderTest } from './lib/kubernetes/bed-options';
import { KubernetesCluster } from './lib/kubernetes/cluster';
import { DeployedPgHa, loadManifests } from './lib/kubernetes/deployed-pg-ha';
import { etcdClientTls, etcdGateway, liveRouterPlan } from './lib/kubernetes/observations';
import { etcdAuthEnabled, etcdMembers, jobLog, podsOffUpdateRevision, releaseDist, syncUnderWrites } from './lib/kubernetes/upgrade';

/** A dist/ older than release 0.1.0: the one that closed the work session before it (plain etcd). */
const BEFORE_0_1_0 = '54163c0';
/** Release 0.1.0 (CHANGELOG.md): its committed dist/ is step 1 of the etcd TLS move. */
const RELEASE_0_1_0 = 'd27447f';
/**
 * The last landed release (0.2.0 on main), whose users upgrade to the working tree's dist/.
 * MOVE IT AT EACH RELEASE: to the commit on main where the new release landed.
 */
const LAST_RELEASE = '76ceff7';

const cluster = new KubernetesCluster({ block: bedBlock(4), nodes: 3 });
const dists: Record<string, string> = {};
const dist = (commit: string): string => (dists[commit] ??= releaseDist(commit));
let deployed: DeployedPgHa;
let writeConn: PgConn;

/** A dist/ synced onto an empty namespace and healthy; the write Service's connection as the application's user. */
async function deployFresh(dir: string): Promise<void> {
  deployed = new DeployedPgHa(cluster, dir);
  const r = await deployed.sync();
  if (!r.ok) throw new Error(`${dir} did not sync: ${r.failure}`);
  await deployed.waitHealthy(240000);
  const app = await deployed.appCredentials();
  const plan = await liveRouterPlan(deployed);
  writeConn = { host: plan.write.host, port: plan.write.port, user: app.user, password: app.password, database: app.database, sslmode: 'require' };
}

const b64 = (x: string): string => Buffer.from(x).toString('base64');
/** every key: what a client that got past TLS (and authentication, when it is off) may read */
const EVERY_KEY = { key: b64('/'), range_end: b64('\0'), keys_only: true };
const peerSchemes = async () => (await etcdMembers(deployed)).map((m) => m.peerURLs.map((u) => `${new URL(u).protocol}${new URL(u).port}`).sort());

beforeAll(async () => {
  await cluster.up();
}, 300000);

afterAll(async () => {
  await cluster.down();
  for (const d of Object.values(dists)) fs.rmSync(d, { recursive: true, force: true });
}, 120000);

describe(`the move from plain etcd: a cluster made from ${BEFORE_0_1_0}, then 0.1.0 (step 1), the committed dist/ without the line, step 2`, () => {
  /** The dist/ of step 2, the synth with ETCD_AUTH=false over 0.1.0's. */
  let movedDist: string | undefined;

  beforeAll(async () => {
    await deployFresh(dist(BEFORE_0_1_0));
  }, 600000);

  afterAll(() => {
    if (movedDist) removeVariant(movedDist);
  });

  test(`the current synth over a dist/ older than 0.1.0 (${BEFORE_0_1_0}, plain etcd) is refused, naming the line to add and the page`, () => {
    expect(() => synthVariant(dist(BEFORE_0_1_0), {})).toThrow(/Add the line ETCD_TLS_MIGRATION=true to pg-ha\.env.*docs\/security\.md#moving-a-cluster-made-with-plain-etcd/);
  });

  test(`step 1: release 0.1.0's dist/ (${RELEASE_0_1_0}) synced under writes: 0 acknowledged writes lost, every pod on its StatefulSet's update revision, etcd's peers on https, its client port serving http and https (no client certificate asked), authentication off`, async () => {
    const r = await syncUnderWrites(deployed, loadManifests(dist(RELEASE_0_1_0)), writeConn, `${BEFORE_0_1_0} -> 0.1.0`);
    expect(r.sync.failure).toBeUndefined();
    expect(r.sync.jobs.filter((j) => !j.succeeded)).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.acked).toBeGreaterThanOrEqual(40);
    expect(await podsOffUpdateRevision(deployed)).toEqual([]);
    expect(await peerSchemes()).toEqual(Array(deployed.etcd.spec.replicas ?? 1).fill(['https:2380', 'https:2382']));
    expect(await etcdAuthEnabled(deployed)).toBe(false);
    expect(await jobLog(deployed, /-etcd-access-/)).toMatch(/authentication left off \(ETCD_AUTH=false: the migration's first step\)/);
    // the client port: plain http answers (the Spilo pods of the plain cluster used it until replaced), and so does https without a client certificate
    const member = `${deployed.etcd.metadata.name}-0`;
    const plain = await etcdGateway(deployed, member, '/v3/kv/range', EVERY_KEY, { scheme: 'http' });
    expect(plain.ok && plain.status).toBe(200);
    expect(plain.ok && plain.body).toContain('"kvs"');
    const tls = await etcdGateway(deployed, member, '/v3/kv/range', EVERY_KEY, { ca: (await etcdClientTls(deployed)).ca });
    expect(tls.ok ? tls.status : tls.error).toBe(200);
    expect(tls.ok && tls.body).toContain('"kvs"');
  }, 900000);

  test("the committed dist/ (a new cluster's: authentication on) synced over step 1 without the line the synth asks for: etcd on https only, the etcd access Job refuses at once to turn authentication on naming ETCD_AUTH=false, the sync stops there, 0 acknowledged writes lost, no leader change", async () => {
    const postgresPods = (await deployed.pods(deployed.postgres)).map((p) => p.uid);
    const r = await syncUnderWrites(deployed, loadManifests(distUnderTest()), writeConn, '0.1.0 -> the committed dist/ without ETCD_AUTH=false');
    expect(r.sync.ok).toBe(false);
    const failed = r.sync.jobs.filter((j) => !j.succeeded);
    expect(failed.map((j) => j.name)).toEqual([expect.stringMatching(/-etcd-access-[0-9a-f]{10}$/)]);
    expect(failed[0].output).toMatch(/authentication left off: Patroni already keeps \d+ keys under '\/service\/[^']+\/' without an etcd password/);
    expect(failed[0].output).toContain('Add the line ETCD_AUTH=false to pg-ha.env');
    // at once: one pod, not retried (the Job's podFailurePolicy on the refusal's exit status)
    const accessPods = await cluster.api.list(`/api/v1/namespaces/${deployed.namespace}/pods?labelSelector=${encodeURIComponent(`job-name=${failed[0].name}`)}`);
    expect(accessPods.map((p) => p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode)).toEqual([REFUSED_EXIT_CODE]);
    // the sync stopped at etcd's wave: the Postgres StatefulSet was not applied, its pods not replaced
    expect(r.sync.applied).not.toContain(`StatefulSet ${deployed.namespace}/${deployed.postgres.metadata.name}`);
    expect((await deployed.pods(deployed.postgres)).map((p) => p.uid)).toEqual(postgresPods);
    expect(r.leaderChanges).toBe(0);
    expect(r.lost).toBe(0);
    expect(r.acked).toBeGreaterThanOrEqual(40);
    expect(await peerSchemes()).toEqual(Array(deployed.etcd.spec.replicas ?? 1).fill(['https:2380']));
    expect(await etcdAuthEnabled(deployed)).toBe(false);
  }, 900000);

  test("step 2: the synth over 0.1.0's dist/ asks for ETCD_AUTH=false; with it, synced under writes: etcd on https only, asking every client for the clients' certificate, authentication left off, every pod on its update revision, 0 acknowledged writes lost", async () => {
    expect(() => synthVariant(dist(RELEASE_0_1_0), {})).toThrow(/Add the line ETCD_AUTH=false to pg-ha\.env \(step 2 of the move: docs\/security\.md#moving-a-cluster-made-with-plain-etcd\)/);
    movedDist = synthVariant(dist(RELEASE_0_1_0), { ETCD_AUTH: 'false' });
    const r = await syncUnderWrites(deployed, loadManifests(movedDist), writeConn, '0.1.0 -> current synth with ETCD_AUTH=false');
    expect(r.sync.failure).toBeUndefined();
    expect(r.sync.jobs.filter((j) => !j.succeeded)).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.acked).toBeGreaterThanOrEqual(40);
    expect(await podsOffUpdateRevision(deployed)).toEqual([]);
    // the Postgres pods are replaced only if the chart changed their template since 0.1.0 (then one switchover)
    const template = (dir: string) => JSON.stringify(new DeployedPgHa(cluster, dir).postgres.spec.template);
    const spiloChanged = template(dist(RELEASE_0_1_0)) !== template(movedDist);
    log(`step 2: the Postgres pod template ${spiloChanged ? 'changed' : 'is the same'} since 0.1.0; ${r.leaderChanges} leader changes`);
    expect(r.leaderChanges).toBeLessThanOrEqual(spiloChanged ? 1 : 0);
    const members = await etcdMembers(deployed);
    expect(await peerSchemes()).toEqual(members.map(() => ['https:2380']));
    expect(members.flatMap((m) => m.clientURLs).every((u) => u.startsWith('https://'))).toBe(true);
    expect(await etcdAuthEnabled(deployed)).toBe(false);
    expect(await jobLog(deployed, /-etcd-access-/)).toMatch(/authentication left off \(ETCD_AUTH=false\)/);
    // on the client port: plain http and https without the clients' certificate refused; with it, no credentials needed (auth off): the leader key names Patroni's leader
    const member = `${deployed.etcd.metadata.name}-0`;
    const tls = await etcdClientTls(deployed);
    const plain = await etcdGateway(deployed, member, '/v3/kv/range', EVERY_KEY, { scheme: 'http' });
    expect(plain.ok && plain.status === 200 && plain.body.includes('"kvs"')).toBe(false);
    const noCert = await etcdGateway(deployed, member, '/v3/kv/range', EVERY_KEY, { ca: tls.ca });
    expect(noCert.ok ? `answered ${noCert.status}` : noCert.error).toMatch(/certificate required|CERTIFICATE_REQUIRED|bad certificate/i);
    const withCert = await etcdGateway(deployed, member, '/v3/kv/range', EVERY_KEY, { ca: tls.ca, cert: tls });
    expect(withCert.ok ? withCert.status : withCert.error).toBe(200);
    const keys = ((withCert.ok ? JSON.parse(withCert.body).kvs : []) as Array<{ key: string }>).map((k) => Buffer.from(k.key, 'base64').toString());
    const leaderKey = keys.find((k) => /^\/service\/[^/]+\/leader$/.test(k));
    expect(leaderKey).toBeDefined();
    const leader = await etcdGateway(deployed, member, '/v3/kv/range', { key: b64(leaderKey!) }, { ca: tls.ca, cert: tls });
    const value = leader.ok ? Buffer.from(JSON.parse(leader.body).kvs[0].value, 'base64').toString() : leader.error;
    expect(value).toBe((await deployed.leader()).name);
  }, 900000);
});

describe(`the upgrade from the last landed release: its committed dist/ (${LAST_RELEASE}) deployed fresh, then the working tree's dist/ synced over it`, () => {
  beforeAll(async () => {
    // GIVEN an empty namespace: the previous cluster, its claims and their local volumes deleted
    const namespace = deployed?.namespace ?? new DeployedPgHa(cluster, dist(LAST_RELEASE)).namespace;
    await cluster.api.kubectl(['delete', 'pods', '--all', '-n', namespace, '--grace-period=0', '--force']);
    await cluster.api.run(['delete', 'namespace', namespace, '--ignore-not-found', '--wait=false']);
    await waitFor(`namespace ${namespace} gone`, async () => !(await cluster.api.get(`/api/v1/namespaces/${namespace}`)), { timeoutMs: 600000, intervalMs: 1000 });
    await waitFor('the deleted claims\' volumes gone', async () => (await cluster.api.list('/api/v1/persistentvolumes')).length === 0, { timeoutMs: 300000, intervalMs: 1000 });
    await deployFresh(dist(LAST_RELEASE));
  }, 1500000);

  test("synced under writes: no apply refused (no immutable field changed), 0 acknowledged writes lost, every pod on its StatefulSet's update revision, at most one leader change", async () => {
    const r = await syncUnderWrites(deployed, loadManifests(distUnderTest()), writeConn, `${LAST_RELEASE} -> the working tree's dist/`);
    expect(r.sync.failure).toBeUndefined();
    expect(r.sync.ok).toBe(true);
    expect(r.sync.jobs.filter((j) => !j.succeeded)).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.acked).toBeGreaterThanOrEqual(40);
    expect(await podsOffUpdateRevision(deployed)).toEqual([]);
    expect(r.leaderChanges).toBeLessThanOrEqual(1);
    await deployed.waitHealthy(240000);
  }, 900000);
});
