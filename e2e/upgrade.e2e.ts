/*
 * Scenario "upgrade": a cluster made from a dist/ older than release 0.1.0 (BEFORE_0_1_0, plain etcd,
 * read with `git show`), upgraded as a fork following the releases is, through the apply engine while
 * a client writes through the write Service, as Argo CD syncing a new revision would: every apply
 * must lose no acknowledged write; the leader changes are counted and printed.
 * etcd moves from plain http to TLS in two applies (docs/security.md, CHANGELOG.md):
 *  - the current synth over the plain dist/ without ETCD_TLS_MIGRATION is refused, naming the line;
 *  - step 1 is release 0.1.0's dist/ as it landed (RELEASE_0_1_0: ETCD_TLS_MIGRATION=true): etcd
 *    serves http and https side by side, Spilo moves to https and shows the clients' certificate,
 *    the etcd access Job moves the members' peer URLs;
 *  - the dist/ of 0.2.0 as committed (a new cluster's: auth on), applied over step 1 as by a fork
 *    that merged it without the line the synth asks for: etcd moves to https only, but the etcd
 *    access Job refuses to turn authentication on under Patroni pods without an etcd password, and
 *    the sync stops there with the cluster working;
 *  - step 2 as the synth asks for it over 0.1.0's dist/ (ETCD_AUTH=false): applied, etcd asks every
 *    client for the clients' certificate, so the moved cluster refuses a client without one.
 * Then the day-2 rollouts of the current chart on the same bed: a rollout of every workload, a new
 * Postgres pod template (rolled by the rollout Job: replicas first, one switchover) and a larger
 * volume size (the StatefulSets keep their claim templates, the Job grows the claims), and both
 * day-2 Jobs started at once by a plain `kubectl apply` (they take turns through the Lease <scope>-day2).
 * Runs beside the other suites on its own address block (E2E_ADDRESS_BLOCK + 150).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { addressBlock } from './lib/address-plan';
import { applyUnderWrites, UnderWrites } from './lib/apply-under-writes';
import { showEverywhere } from './lib/converge';
import { statefulSetRevision } from './lib/kube/revision-hash';
import { log } from './lib/log';
import { loadDist } from './lib/manifests';
import { removeVariant, synthVariant } from './lib/synth-variant';
import { Testbed } from './lib/testbed';
import { etcdAsksClientCert, etcdCaFile, etcdCurl, EtcdMember } from './lib/programs/etcd';

/** A dist/ older than release 0.1.0: the one that closed the work session before it (restricted Spilo, the day-2 Jobs; plain etcd). */
const BEFORE_0_1_0 = '54163c0';
/** Release 0.1.0 (CHANGELOG.md): its committed dist/ was step 1 of the etcd TLS move. The last landed dist/ before 0.2.0. */
const RELEASE_0_1_0 = 'd27447f';
const repo = path.join(__dirname, '..');

/** The release's dist/ files, as git has them, in a temporary directory. */
function releaseDist(commit: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pgha-e2e-release-${commit}-`));
  let names: string[];
  try {
    names = execFileSync('git', ['ls-tree', '--name-only', commit, 'dist/'], { cwd: repo, encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.yaml'));
  } catch (e) {
    throw new Error(`the release ${commit} is not in this clone's history (a shallow CI checkout needs fetch-depth 0): ${(e as Error).message}`);
  }
  for (const f of names) fs.writeFileSync(path.join(dir, path.basename(f)), execFileSync('git', ['show', `${commit}:${f}`], { cwd: repo, maxBuffer: 64 << 20 }));
  return dir;
}

let bed: Testbed | undefined;
let oldDist: string | undefined;
let release010Dist: string | undefined;

beforeAll(async () => {
  oldDist = releaseDist(BEFORE_0_1_0);
  release010Dist = releaseDist(RELEASE_0_1_0);
  bed = new Testbed({ distDir: oldDist, addressBlock: addressBlock(150) });
  await bed.start();
  await bed.patroni.waitHealthy({ timeoutMs: 120000 });
}, 300000);

afterAll(async () => {
  await bed?.stop();
  for (const d of [oldDist, release010Dist]) if (d) fs.rmSync(d, { recursive: true, force: true });
}, 60000);

function expectAppliedAndRolled(b: Testbed, r: UnderWrites): void {
  expect(r.result.rejected).toEqual([]);
  expect(r.result.jobs.filter((j) => !j.succeeded)).toEqual([]);
  expect(r.result.ok).toBe(true);
  expect(r.acked).toBeGreaterThanOrEqual(40);
  expect(r.lost).toBe(0);
  for (const sts of b.store.list('StatefulSet')) {
    const revisions = b.controllers.statefulSets.podsOf(sts).map((p) => p.labels['controller-revision-hash']);
    expect({ sts: sts.metadata.name, revisions }).toEqual({ sts: sts.metadata.name, revisions: revisions.map(() => statefulSetRevision(sts)) });
  }
}

/** The line the synth asks a cluster moved from plain etcd to add to pg-ha.env (its Spilo pods have no etcd password: docs/security.md). */
const MOVED = { ETCD_AUTH: 'false' };
/** The dist/ of step 2, kept for the tests after it. */
let movedDist: string | undefined;
afterAll(() => {
  if (movedDist) removeVariant(movedDist);
});

const peerPorts = (members: EtcdMember[]) => members.map((m) => m.peerURLs.map((u) => `${new URL(u).protocol}${new URL(u).port}`));
/** The Postgres StatefulSet (the OnDelete one) of a dist/ directory. */
const postgresTemplate = (dir: string) => loadDist(dir).objects.find((o) => o.kind === 'StatefulSet' && o.spec.updateStrategy?.type === 'OnDelete')!.spec.template;

test(`a cluster made from a dist/ older than 0.1.0 (${BEFORE_0_1_0}, plain etcd): the current synth over it is refused, naming the line to add and the page`, () => {
  expect(() => synthVariant(oldDist!, {})).toThrow(/Add the line ETCD_TLS_MIGRATION=true to pg-ha\.env.*docs\/security\.md#moving-a-cluster-made-with-plain-etcd/);
});

test(`upgrade, step 1: release 0.1.0's dist/ (${RELEASE_0_1_0}, ETCD_TLS_MIGRATION=true) applied over the plain-etcd cluster under writes: applied, 0 acknowledged writes lost, every pod on its new revision, etcd's peers on https, auth off`, async () => {
  const r = await applyUnderWrites(bed!, release010Dist!, `${BEFORE_0_1_0} -> 0.1.0 (${RELEASE_0_1_0})`);
  expectAppliedAndRolled(bed!, r);
  const members = await bed!.etcdMembers();
  expect(peerPorts(members)).toEqual(members.map(() => ['https:2382', 'https:2380']));
  expect(r.result.jobs.find((j) => /-etcd-access-/.test(j.name))?.message).toMatch(/authentication left off \(ETCD_AUTH=false: the migration's first step\)/);
  // The new Spilo pods show the clients' certificate already; etcd does not ask for it yet (http is still served).
  expect(bed!.etcdClientCert()).toBeDefined();
  expect(bed!.etcdPods.map((p) => etcdAsksClientCert(p))).toEqual(bed!.etcdPods.map(() => false));
}, 900000);

test('the committed dist/ of 0.2.0 (a new cluster\'s: auth on) applied over step 1 without the line the synth asks for: etcd moves to https only, the etcd access Job refuses to turn auth on (its log names ETCD_AUTH=false), the sync stops, 0 acknowledged writes lost, no leader change', async () => {
  const r = await applyUnderWrites(bed!, path.join(repo, 'dist'), '0.1.0 -> 0.2.0 as committed');
  expect(r.result.rejected).toEqual([]);
  const failed = r.result.jobs.filter((j) => !j.succeeded);
  expect(failed.map((j) => j.name)).toEqual([expect.stringMatching(/-etcd-access-[0-9a-f]{10}$/)]);
  expect(failed[0].message).toMatch(/authentication left off: Patroni already keeps \d+ keys under '\/service\/pg-ha\/' without an etcd password/);
  expect(failed[0].message).toContain('Add the line ETCD_AUTH=false to pg-ha.env');
  // The sync stopped at etcd's wave: the Postgres pods were not touched and kept writing through etcd.
  expect(r.result.configured.filter((x) => x.startsWith('StatefulSet/'))).toEqual(['StatefulSet/pg-ha-etcd']);
  expect(r.leaderChanges).toBe(0);
  expect(r.acked).toBeGreaterThanOrEqual(40);
  expect(r.lost).toBe(0);
  expect(peerPorts(await bed!.etcdMembers())).toEqual(bed!.etcdPods.map(() => ['https:2380']));
}, 900000);

test('upgrade, step 2: the synth over 0.1.0\'s dist/ asks for ETCD_AUTH=false; with it, applied under writes: etcd on https only and asking for the clients\' certificate, the etcd access Job leaves auth off, 0 acknowledged writes lost', async () => {
  expect(() => synthVariant(release010Dist!, {})).toThrow(/Add the line ETCD_AUTH=false to pg-ha\.env \(step 2 of the move: docs\/security\.md#moving-a-cluster-made-with-plain-etcd\)/);
  movedDist = synthVariant(release010Dist!, MOVED);
  const r = await applyUnderWrites(bed!, movedDist, '0.1.0 -> 0.2.0 with ETCD_AUTH=false');
  expectAppliedAndRolled(bed!, r);
  const members = await bed!.etcdMembers();
  expect(peerPorts(members)).toEqual(members.map(() => ['https:2380']));
  expect(members.every((m) => m.clientURLs.length > 0 && m.clientURLs.every((u) => u.startsWith('https://')))).toBe(true);
  expect(r.result.jobs.find((j) => /-etcd-access-/.test(j.name))?.message).toMatch(/authentication left off \(ETCD_AUTH=false\)/);
  // The Spilo pods are replaced only if the current chart changed their template since 0.1.0 (then one switchover).
  const spiloChanged = JSON.stringify(postgresTemplate(release010Dist!)) !== JSON.stringify(postgresTemplate(movedDist));
  log(`step 2: the Postgres pod template ${spiloChanged ? 'changed' : 'is the same'} since 0.1.0`);
  expect(r.leaderChanges).toBeLessThanOrEqual(spiloChanged ? 1 : 0);
  // The point of the clients' certificate: the moved cluster (no etcd users) refuses, at the TLS
  // handshake, a client with the CA but without the certificate; Patroni's pods (certificate since step 1) go on.
  const member = bed!.etcdPods[0];
  expect(bed!.etcdPods.map((p) => etcdAsksClientCert(p))).toEqual(bed!.etcdPods.map(() => true));
  const leaderKey = { key: Buffer.from('/service/pg-ha/leader').toString('base64') };
  const without = etcdCurl(member, '/v3/kv/range', leaderKey, { ca: etcdCaFile(member) });
  expect([35, 55, 56]).toContain(without.code);
  expect(without.out).not.toContain('kvs');
  const withCert = etcdCurl(member, '/v3/kv/range', leaderKey, { ca: etcdCaFile(member), cert: bed!.etcdClientCert() });
  const kvs = JSON.parse(withCert.out).kvs as Array<{ value: string }>;
  expect(bed!.pgPods.map((p) => p.name)).toContain(Buffer.from(kvs[0].value, 'base64').toString());
}, 900000);

test('a rollout of every workload (pod templates annotated, as `kubectl rollout restart` does) under writes: 0 acknowledged writes lost', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-e2e-restart-'));
  try {
    const { objects } = loadDist(movedDist!);
    for (const o of objects) {
      // The Postgres StatefulSet is OnDelete: its pods are replaced by the rollout Job, which runs when
      // its name is new (a synth names it after the template). A restart outside Git runs it again
      // the documented way (docs/day-2.md): the finished Job is deleted and applied again.
      if (o.kind === 'Job' && /-rollout-[0-9a-f]{10}$/.test(o.metadata.name)) o.metadata.name = `${o.metadata.name}-restart`;
      if (o.kind !== 'StatefulSet' && o.kind !== 'Deployment') continue;
      o.spec.template.metadata = { ...o.spec.template.metadata, annotations: { ...(o.spec.template.metadata?.annotations ?? {}), 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } };
    }
    fs.writeFileSync(path.join(dir, 'pg-ha.k8s.yaml'), objects.map((o) => stringify(o)).join('---\n'));
    const r = await applyUnderWrites(bed!, dir, 'rollout restart');
    expect(r.result.configured.filter((x) => /^(StatefulSet|Deployment)\//.test(x)).length).toBeGreaterThan(0);
    expectAppliedAndRolled(bed!, r);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 600000);

describe('day-2 rollouts of the current chart', () => {
  const postgresSet = () => bed!.store.list('StatefulSet').find((o) => o.spec.updateStrategy?.type === 'OnDelete')!;

  test('a new Postgres pod template (POSTGRES_CPU_REQUEST) rolled by the rollout Job under writes: exactly 1 leader change, every pod on the new revision, 0 acknowledged writes lost', async () => {
    const dir = synthVariant(movedDist!, { ...MOVED, POSTGRES_CPU_REQUEST: '501m' });
    try {
      const r = await applyUnderWrites(bed!, dir, 'Postgres pod template');
      expect(r.result.configured).toContain(`StatefulSet/${postgresSet().metadata.name}`);
      expect(r.result.jobs.map((j) => j.name)).toEqual([expect.stringMatching(/-rollout-[0-9a-f]{10}$/)]);
      expectAppliedAndRolled(bed!, r);
      expect(r.leaderChanges).toBe(1);
    } finally {
      removeVariant(dir);
    }
  }, 900000);

  test('a larger POSTGRES_STORAGE_SIZE and ETCD_STORAGE_SIZE: the apply succeeds (claim templates kept) and the rollout Job grows every claim', async () => {
    // GIVEN a StorageClass that allows expansion, as the cluster's default
    bed!.store.put({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', allowVolumeExpansion: true, provisioner: 'e2e',
      metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } } as never);
    const before = synthVariant(movedDist!, { ...MOVED, POSTGRES_CPU_REQUEST: '501m' });
    const dir = synthVariant(before, { ...MOVED, POSTGRES_CPU_REQUEST: '501m', POSTGRES_STORAGE_SIZE: '20Gi', ETCD_STORAGE_SIZE: '2Gi' });
    try {
      const r = await applyUnderWrites(bed!, dir, 'larger volumes');
      expect(r.result.rejected).toEqual([]);
      expect(r.result.jobs.filter((j) => !j.succeeded)).toEqual([]);
      const claims = bed!.store.list('PersistentVolumeClaim').map((c) => [c.metadata.name, c.spec.resources.requests.storage]);
      log(`claims after the apply: ${JSON.stringify(claims)}`);
      expect(claims.filter(([n]) => /^pgdata-/.test(n)).map(([, size]) => size)).toEqual(bed!.pgPods.map(() => '20Gi'));
      expect(claims.filter(([n]) => /^data-/.test(n)).every(([, size]) => size === '2Gi')).toBe(true);
      // No pod was replaced for it: the template did not change.
      expect(r.leaderChanges).toBe(0);
      expect(r.lost).toBe(0);
    } finally {
      removeVariant(before);
      removeVariant(dir);
    }
  }, 600000);

  test('a restart-needing parameter and a new pod template in one plain `kubectl apply` (both day-2 Jobs start at once) under writes: both succeed, never both holding the Lease, at most 2 leader changes, 0 acknowledged writes lost', async () => {
    const maxConnections = Number((await showEverywhere(bed!, 'max_connections'))[bed!.pgPods[0].name]) + 20;
    // The sizes of the previous test stay declared (a smaller one would stop the rollout Job).
    const dir = synthVariant(movedDist!, {
      ...MOVED, POSTGRES_CPU_REQUEST: '502m', POSTGRES_STORAGE_SIZE: '20Gi', ETCD_STORAGE_SIZE: '2Gi', POSTGRES_PARAMETERS: `max_connections=${maxConnections}`,
    });
    const historyFrom = bed!.api.leaseHistory.length;
    try {
      const r = await applyUnderWrites(bed!, dir, 'parameter and pod template, kubectl apply', { order: 'kubectl' });
      expect(r.result.configured).toContain(`StatefulSet/${postgresSet().metadata.name}`);
      expect(r.result.jobs.map((j) => j.name).sort()).toEqual([expect.stringMatching(/-converge-[0-9a-f]{10}$/), expect.stringMatching(/-rollout-[0-9a-f]{10}$/)]);
      expectAppliedAndRolled(bed!, r);
      expect(r.leaderChanges).toBeLessThanOrEqual(2);
      expect(Object.values(await showEverywhere(bed!, 'max_connections'))).toEqual(bed!.pgPods.map(() => String(maxConnections)));

      // Each Job's log: when it acquired and released the Lease (its pod's name as the holder).
      const held = r.result.jobs.map((j) => {
        const out = j.output ?? '';
        const acquired = /lease \S+: acquired by (\S+) at (\S+)/.exec(out);
        const released = /lease \S+: released by (\S+) at (\S+)/.exec(out);
        return { job: j.name, pod: acquired?.[1], from: Date.parse(acquired?.[2] ?? ''), to: Date.parse(released?.[2] ?? ''), out };
      }).sort((a, b) => a.from - b.from);
      log(`day-2 Lease: ${held.map((h) => `${h.pod} ${new Date(h.from).toISOString()} .. ${new Date(h.to).toISOString()}`).join(', ')}`);
      for (const h of held) expect({ job: h.job, from: h.from, to: h.to }).toEqual({ job: h.job, from: expect.any(Number), to: expect.any(Number) });
      const [first, second] = held;
      // the later Job waited, naming the holder, and acquired only after the first released it
      expect(second.out).toContain(`held by ${first.pod}; waiting for it`);
      expect(second.from).toBeGreaterThanOrEqual(first.to);
      // the API server's own record: the holder never passed from one Job to the other without a release in between
      const holders = bed!.api.leaseHistory.slice(historyFrom).map((v) => v.holder ?? null).filter((h, i, all) => i === 0 || h !== all[i - 1]);
      expect(holders).toEqual([first.pod, null, second.pod, null]);
    } finally {
      removeVariant(dir);
    }
  }, 900000);
});
