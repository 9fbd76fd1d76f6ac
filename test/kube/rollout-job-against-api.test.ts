/**
 * The REAL rollout script (the Python the rollout Job runs) with the host's python3, against the
 * API stand-in serving a cluster made from the default configuration (test/kube/cluster-fixture.ts):
 * the Job's own ServiceAccount token, RBAC from its Role, PVC resizing as the API server allows it.
 * A second dist/ is synthesized from changed settings over it (as `npm run synth` does over the
 * committed dist/) and applied; the apply engine runs the new Job through this script.
 *
 * What is not proven here: anything Patroni answers (the pods are in-memory records, no Patroni
 * listens): the replacement order and the switchover run on the e2e test bed.
 */
import { spawn } from 'child_process';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { DeployedManifests, PgHaChart, PgHaSettings } from '../../lib';
import { ApiObject } from '../../e2e/lib/kube/object-store';
import { NS, ServedCluster, servedCluster, distObjects } from './cluster-fixture';

/* eslint-disable @typescript-eslint/no-explicit-any */
const SCRIPT = join(__dirname, '..', '..', 'lib', 'assets', 'rollout.py');
const ROLLOUT_ACCOUNT = 'pg-ha-rollout';

/** dist/ as `npm run synth` would write it for `settings`, over the default configuration's. */
function nextDist(settings: PgHaSettings): ApiObject[] {
  const chart = new PgHaChart(Testing.app(), 'pg-ha', settings, { deployed: new DeployedManifests(distObjects()) });
  return Testing.synth(chart) as ApiObject[];
}

const rolloutJob = (objects: ApiObject[]): ApiObject => objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('pg-ha-rollout-'))!;

/** Runs the Job's container command with its env (plain values), as its pod would. */
function runJob(c: ServedCluster, job: ApiObject, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const saDir = join(c.dir, 'sa', ROLLOUT_ACCOUNT);
  c.api.writeServiceAccountDir(saDir, NS, job.spec.template.spec.serviceAccountName);
  const url = new URL(c.api.url);
  const container = job.spec.template.spec.containers[0];
  const jobEnv = Object.fromEntries(container.env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
  return new Promise((resolve) => {
    const child = spawn('python3', [SCRIPT], {
      env: {
        PATH: process.env.PATH, SERVICEACCOUNT_DIR: saDir, KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port,
        POD_NAMESPACE: NS, POD_NAME: `${job.metadata.name}-test`, ...jobEnv,
        // No Patroni runs here: a closed port, so nothing on this machine answers for it.
        PATRONI_PORT: '1', ...env,
      },
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

/** The apply engine runs each new Job through the real script. */
function runJobsForReal(c: ServedCluster, env: Record<string, string> = {}): string[] {
  const logs: string[] = [];
  c.pods.jobOutcome = ((job: ApiObject) => runJob(c, job, env).then(({ code, out }) => {
    logs.push(out);
    // the last line of the script's own (the lease's release comes after it)
    return { succeeded: code === 0, message: out.trim().split('\n').filter((l) => !/ lease pg-ha-day2: /.test(l)).pop() ?? '' };
  })) as any;
  return logs;
}

const claimSize = (c: ServedCluster, name: string): string => c.store.get('PersistentVolumeClaim', NS, name)!.spec.resources.requests.storage;
const expandableStorageClass = (c: ServedCluster): void => { c.store.put({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', allowVolumeExpansion: true,
  metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'e2e' } as ApiObject); };
const callsOf = (c: ServedCluster): string[] =>
  c.api.requests.filter((r) => r.user === `system:serviceaccount:${NS}:${ROLLOUT_ACCOUNT}`).map((r) => `${r.method} ${r.path} ${r.code}`);

let c: ServedCluster;
beforeEach(async () => { c = await servedCluster(); });
afterEach(async () => { await c.close(); });

describe('growing volumes', () => {
  test('a larger POSTGRES_STORAGE_SIZE applies over the running cluster and the Job grows every Postgres claim (etcd\'s stay)', async () => {
    // GIVEN a StorageClass that allows expansion
    expandableStorageClass(c);
    const logs = runJobsForReal(c);
    // WHEN the dist/ of POSTGRES_STORAGE_SIZE=20Gi is applied
    const next = nextDist({ postgres: { storageSize: '20Gi' } });
    const r = await c.applier.apply(next);
    // THEN nothing is refused (the StatefulSet's claim templates are the deployed ones) and the claims grew
    expect(r.rejected).toEqual([]);
    expect(r.jobs).toEqual([{ name: rolloutJob(next).metadata.name, succeeded: true, message: expect.stringContaining('nothing to roll') }]);
    expect(['pgdata-pg-ha-0', 'pgdata-pg-ha-1', 'pgdata-pg-ha-2'].map((n) => claimSize(c, n))).toEqual(['20Gi', '20Gi', '20Gi']);
    expect(claimSize(c, 'data-pg-ha-etcd-0')).toBe('1Gi');
    expect(logs.join('')).toContain('pgdata-pg-ha-2: storage request 10Gi -> 20Gi');
    // Every call the Job made was allowed by its own Role.
    expect(callsOf(c).filter((call) => / 403$/.test(call))).toEqual([]);
  });

  test('the same change synthesized without the deployed dist/ is refused by the API server: that is why templates are carried over', async () => {
    const fresh = Testing.synth(new PgHaChart(Testing.app(), 'pg-ha', { postgres: { storageSize: '20Gi' } })) as ApiObject[];
    const r = await c.applier.apply(fresh);
    expect(r.rejected).toEqual([{ object: 'StatefulSet/pg-ha', message: expect.stringContaining('updates to statefulset spec for fields other than') }]);
  });

  test('without an expandable StorageClass the Job fails naming the claim and what the StorageClass needs', async () => {
    runJobsForReal(c);
    const r = await c.applier.apply(nextDist({ etcd: { storageSize: '2Gi' } }));
    expect(r.ok).toBe(false);
    expect(r.jobs[0].message).toMatch(/growing data-pg-ha-etcd-0 from 1Gi to 2Gi was refused \(HTTP 403\): .*only dynamically provisioned pvc can be resized.* must have allowVolumeExpansion: true/);
    expect(claimSize(c, 'data-pg-ha-etcd-0')).toBe('1Gi');
  });

  test('a declared size below a claim stops the Job before any change, naming the setting and the size to use', async () => {
    expandableStorageClass(c);
    const volumes = JSON.stringify([
      { statefulSet: 'pg-ha-etcd', claim: 'data', size: '2Gi', setting: 'ETCD_STORAGE_SIZE' },
      { statefulSet: 'pg-ha', claim: 'pgdata', size: '5Gi', setting: 'POSTGRES_STORAGE_SIZE' },
    ]);
    const { code, out } = await runJob(c, rolloutJob(distObjects()), { VOLUMES: volumes });
    expect(code).toBe(1);
    expect(out).toContain('POSTGRES_STORAGE_SIZE=5Gi is smaller than the volume pgdata-pg-ha-0 (10Gi): volumes cannot shrink; set POSTGRES_STORAGE_SIZE to 10Gi or more');
    // The etcd growth, though allowed, was not made either: no PATCH at all.
    expect(callsOf(c).filter((call) => call.startsWith('PATCH'))).toEqual([]);
    expect(claimSize(c, 'data-pg-ha-etcd-0')).toBe('1Gi');
  });
});

describe('rolling the Postgres pods', () => {
  test('every pod on the StatefulSet\'s revision: nothing to roll, nothing evicted', async () => {
    const { code, out } = await runJob(c, rolloutJob(distObjects()));
    expect({ code, out }).toEqual({ code: 0, out: expect.stringMatching(/every pod of pg-ha runs revision pg-ha-\w+; nothing to roll/) });
    expect(callsOf(c).filter((call) => call.includes('eviction'))).toEqual([]);
  });

  test('a new pod template leaves the pods running (OnDelete); the Job sees them outdated and, with no healthy Patroni, evicts none', async () => {
    // GIVEN a new Spilo image applied: OnDelete replaces no pod by itself
    const before = c.pods.pods().filter((p) => p.owner?.name === 'pg-ha').map((p) => p.uid).sort();
    const next = nextDist({ postgres: { image: 'ghcr.io/zalando/spilo-17:4.0-p2' } });
    const r = await c.applier.apply(next.filter((o) => o.kind !== 'Job'));
    expect(r.ok).toBe(true);
    expect(c.pods.pods().filter((p) => p.owner?.name === 'pg-ha').map((p) => p.uid).sort()).toEqual(before);
    // WHEN the rollout Job runs and Patroni cannot confirm the cluster's health
    const { code, out } = await runJob(c, rolloutJob(next), { STEP_TIMEOUT_SECONDS: '2' });
    // THEN it names the outdated pods, stops at the health gate with the reasons, and evicted nothing
    expect(code).toBe(1);
    expect(out).toMatch(/outdated pods pg-ha-0, pg-ha-1, pg-ha-2/);
    expect(out).toMatch(/gave up after 2 s waiting for a healthy cluster before the rollout: 0 leaders in Patroni's view \(one expected\); pg-ha-0 is not a Patroni member/);
    expect(callsOf(c).filter((call) => call.includes('eviction'))).toEqual([]);
    expect(c.pods.pods().filter((p) => p.owner?.name === 'pg-ha').map((p) => p.uid).sort()).toEqual(before);
  });

  test('the Job\'s account may read the StatefulSet, list pods and evict, but not delete pods nor read Secrets', async () => {
    const token = c.api.tokenFor(NS, ROLLOUT_ACCOUNT);
    const { call } = await import('./cluster-fixture');
    expect((await call(c.api, token, 'GET', `/apis/apps/v1/namespaces/${NS}/statefulsets/pg-ha`)).code).toBe(200);
    expect((await call(c.api, token, 'GET', `/api/v1/namespaces/${NS}/pods`)).code).toBe(200);
    expect((await call(c.api, token, 'DELETE', `/api/v1/namespaces/${NS}/pods/pg-ha-0`)).code).toBe(403);
    expect((await call(c.api, token, 'GET', `/api/v1/namespaces/${NS}/secrets/pg-ha-credentials`)).code).toBe(403);
    expect((await call(c.api, token, 'PATCH', `/api/v1/namespaces/${NS}/persistentvolumeclaims/other-claim`, {}, 'application/merge-patch+json')).code).toBe(403);
    // Evicting a pod with every other member Ready: the PodDisruptionBudget allows it.
    const evicted = await call(c.api, token, 'POST', `/api/v1/namespaces/${NS}/pods/pg-ha-1/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'pg-ha-1' } });
    expect(evicted.code).toBe(201);
  });
});

describe('the day-2 Lease (the converge Job holds it too)', () => {
  const LEASE = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/pg-ha-day2`;

  test('each day-2 account may get and update the Lease pg-ha-day2, but create no Lease and touch no other; a stale resourceVersion gets 409', async () => {
    const { call } = await import('./cluster-fixture');
    for (const account of [ROLLOUT_ACCOUNT, 'pg-ha-converge']) {
      const token = c.api.tokenFor(NS, account);
      const got = await call(c.api, token, 'GET', LEASE);
      expect(got.code).toBe(200);
      const lease = got.body as any;
      const put = (body: any) => call(c.api, token, 'PUT', LEASE, body);
      const taken = await put({ ...lease, spec: { ...lease.spec, holderIdentity: account, renewTime: '2026-12-01T10:00:00.000000Z' } });
      expect(taken.code).toBe(200);
      // the same version again: someone (this call) wrote in between
      expect((await put({ ...lease, spec: { ...lease.spec, holderIdentity: 'other' } })).code).toBe(409);
      expect((await put({ ...(taken.body as any), spec: { ...lease.spec, renewTime: 'yesterday' } })).code).toBe(400);
      expect((await call(c.api, token, 'POST', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`, { metadata: { name: 'pg-ha-day2' }, spec: {} })).code).toBe(403);
      expect((await call(c.api, token, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/other`)).code).toBe(403);
      expect((await call(c.api, token, 'DELETE', LEASE)).code).toBe(403);
    }
  });

  test('while another Job holds the Lease the rollout waits and logs who holds it; it starts once the Lease is released, and releases it', async () => {
    // GIVEN the converge Job's pod holds the Lease
    const held = c.store.get('Lease', NS, 'pg-ha-day2')!;
    c.store.put({ ...held, spec: { ...held.spec, holderIdentity: 'pg-ha-converge-abc-x1', renewTime: new Date().toISOString().replace('Z', '000Z') } });
    // WHEN the rollout Job runs, and the holder releases the Lease 4 s later (its record changes: not stale)
    const job = rolloutJob(distObjects());
    const run = runJob(c, job);
    await new Promise((r) => setTimeout(r, 4000));
    const callsWhileHeld = callsOf(c);
    const now = c.store.get('Lease', NS, 'pg-ha-day2')!;
    c.store.put({ ...now, spec: { ...now.spec, holderIdentity: undefined } });
    const { code, out } = await run;
    // THEN it changed nothing while it waited (only Lease reads), then ran, holding the Lease, and released it
    expect(callsWhileHeld.length).toBeGreaterThan(1);
    expect(callsWhileHeld.every((call) => call.startsWith(`GET ${LEASE} 200`))).toBe(true);
    expect(code).toBe(0);
    expect(out).toMatch(/lease pg-ha-day2: held by pg-ha-converge-abc-x1; waiting for it/);
    const lines = out.trim().split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/acquired by pg-ha-rollout-\w+-test/)).toBeLessThan(at(/nothing to roll/));
    expect(at(/nothing to roll/)).toBeLessThan(at(/released by pg-ha-rollout-\w+-test/));
    expect(c.api.leaseHistory.map((v) => v.holder)).toEqual([`${job.metadata.name}-test`, undefined]);
    expect(c.store.get('Lease', NS, 'pg-ha-day2')!.spec.holderIdentity).toBeUndefined();
  }, 30000);
  test('a holder that crashed (its record unchanged for its leaseDurationSeconds) is taken over, and the takeover is logged', async () => {
    // GIVEN a Lease left behind by a Job pod that died, with a 2 s duration (dist/ declares 30 s)
    const left = c.store.get('Lease', NS, 'pg-ha-day2')!;
    c.store.put({ ...left, spec: { ...left.spec, holderIdentity: 'pg-ha-converge-abc-x1', leaseDurationSeconds: 2, renewTime: '2026-12-01T10:00:00.000000Z' } });
    const t0 = Date.now();
    const job = rolloutJob(distObjects());
    const { code, out } = await runJob(c, job);
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000); // not before the record stayed unchanged for 2 s
    expect(out).toMatch(/held by pg-ha-converge-abc-x1; waiting for it/);
    expect(out).toMatch(/pg-ha-converge-abc-x1 did not renew it for 2 s \(a crashed Job\): taking it over/);
    expect(c.api.leaseHistory.map((v) => v.holder)).toEqual([`${job.metadata.name}-test`, undefined]);
  }, 30000);
});
