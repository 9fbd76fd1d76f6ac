/*
 * Day 2 on the real Kubernetes bed: the changes a user makes to a running cluster, made the way a
 * user makes them. pg-ha.env's settings changed -> `npm run synth` over the deployed dist/ ->
 * the new dist/ synced in Argo CD's order (its hook Jobs run: the converge Job, the rollout Job),
 * or applied with one plain `kubectl apply -f`. A client writes through the write Service
 * throughout each change; every acknowledged write must still be there afterwards.
 *
 * What the tests look at comes from the cluster, never from the Jobs' own account alone:
 * restarts and their order from each member's pg_postmaster_start_time() and pg_is_in_recovery()
 * (polled), leader changes from Patroni's /history, settings from SHOW on every member and
 * Patroni's /config, revisions from the StatefulSet's status and the pods' labels, the day-2
 * Lease's holders from a watch on the API server, claims and volumes from their status.
 *
 * Its own bed: block offset 3.
 */
import * as path from 'path';
import { log } from './lib/log';
import { httpJson, waitFor } from './lib/poll';
import { bedBlock, distUnderTest } from './lib/kubernetes/bed-options';
import { KubernetesCluster } from './lib/kubernetes/cluster';
import { KUBERNETES_VERSION } from './lib/kubernetes/components';
import { Day2, Day2Result, day2LeaseName, jobOutcome, revisions, showEverywhere, watchLease } from './lib/kubernetes/day2';
import { DeployedPgHa, loadManifests } from './lib/kubernetes/deployed-pg-ha';
import { KubeObject, resourcePath } from './lib/kubernetes/kube-client';
import { SyncedBed, upAndSynced } from './lib/kubernetes/synced-bed';

const cluster = new KubernetesCluster({ block: bedBlock(3), nodes: 3 });
const deployed = new DeployedPgHa(cluster, distUnderTest());
let bed: SyncedBed;
const day2 = new Day2(deployed, distUnderTest(), () => bed.writeConn());

const members = async (): Promise<string[]> => (await deployed.pods(deployed.postgres)).map((p) => p.name);
const everyMember = async (value: string): Promise<Record<string, string>> => Object.fromEntries((await members()).map((m) => [m, value]));
const patroniConfig = async (): Promise<Record<string, any>> => { // eslint-disable-line @typescript-eslint/no-explicit-any
  const leader = await deployed.leader();
  return (await httpJson<Record<string, any>>(leader.ip, deployed.patroniPort, '/config', 3000))!; // eslint-disable-line @typescript-eslint/no-explicit-any
};
const jobNamed = (pattern: RegExp): KubeObject | undefined => deployed.all('Job').find((j) => pattern.test(j.metadata.name));
const CONVERGE = /-converge-[0-9a-f]{10}$/;
const ROLLOUT = /-rollout-[0-9a-f]{10}$/;

/** Every pod of the workload on its StatefulSet's updateRevision (the live status and the pods' labels). */
async function expectOnUpdateRevision(sts: KubeObject): Promise<void> {
  const r = await revisions(deployed, sts);
  log(`${sts.metadata.name}: updateRevision ${r.updateRevision}, pods ${JSON.stringify(r.pods)}`);
  expect(r.updateRevision).toBeTruthy();
  expect(r.pods).toEqual(Object.fromEntries(Object.keys(r.pods).map((p) => [p, r.updateRevision])));
  expect(Object.keys(r.pods)).toHaveLength(sts.spec.replicas);
}

/** A change that only Patroni's dynamic configuration carries: the Patroni ConfigMap and the converge Job, no pod template. */
function expectConvergeOnly(r: Day2Result): void {
  expect(r.changed.filter((k) => !/^Job\//.test(k))).toEqual([expect.stringMatching(/^ConfigMap\/.*-patroni$/)]);
  expect(r.changed).toContainEqual(expect.stringMatching(CONVERGE));
  expect(r.changed.filter((k) => k.startsWith('StatefulSet/'))).toEqual([]);
}

beforeAll(async () => {
  bed = await upAndSynced(cluster, deployed);
}, 900000);

afterAll(async () => {
  day2.cleanUp();
  await cluster.down();
}, 120000);

describe(`day 2 on Kubernetes ${KUBERNETES_VERSION} (3 nodes; pg-ha.env changed, synthesized, synced like Argo CD)`, () => {
  let maxConnections = 0;

  describe('converging declared parameters (the converge Job, a PostSync hook)', () => {
    test('a reload-only parameter (work_mem): 0 restarts, 0 leader changes, the value visible on every member, 0 acknowledged writes lost', async () => {
      maxConnections = Number(Object.values(await showEverywhere(deployed, 'max_connections'))[0]);
      const r = await day2.sync(day2.synth({ POSTGRES_PARAMETERS: 'work_mem=24MB' }), 'reload-only parameter');
      expect(r.ok).toBe(true);
      expectConvergeOnly(r);
      expect(r.starts).toEqual([]);
      expect(r.promotions).toEqual([]);
      expect(r.lost).toBe(0);
      expect(await showEverywhere(deployed, 'work_mem')).toEqual(await everyMember('24MB'));
    }, 900000);

    test('a restart-needing parameter raised (max_connections): every member restarts once, the replicas before the primary, at most 1 leader change, 0 lost', async () => {
      const raised = maxConnections + 20;
      const r = await day2.sync(day2.synth({ POSTGRES_PARAMETERS: `work_mem=24MB,max_connections=${raised}` }), 'restart-needing parameter raised');
      expect(r.ok).toBe(true);
      expectConvergeOnly(r);
      expect([...new Set(r.starts.map((s) => s.member))].sort()).toEqual((await members()).sort());
      // PostgreSQL's own start times: every replica restarted (in recovery) before the old primary's postmaster did
      const oldPrimaryFirst = r.starts.findIndex((s) => s.member === r.leaderBefore);
      const replicasFirst = r.starts.slice(0, oldPrimaryFirst);
      expect(replicasFirst.map((s) => s.member).sort()).toEqual((await members()).filter((m) => m !== r.leaderBefore).sort());
      expect(replicasFirst.every((s) => s.inRecovery)).toBe(true);
      expect(r.promotions.length).toBeLessThanOrEqual(1);
      expect(r.lost).toBe(0);
      expect(await showEverywhere(deployed, 'max_connections')).toEqual(await everyMember(String(raised)));
    }, 900000);

    test('the same parameter lowered: the primary restarts first, in place (no leader change), then every replica, 0 lost', async () => {
      const r = await day2.sync(day2.synth({ POSTGRES_PARAMETERS: `work_mem=24MB,max_connections=${maxConnections}` }), 'restart-needing parameter lowered');
      expect(r.ok).toBe(true);
      expectConvergeOnly(r);
      expect(r.starts).toHaveLength((await members()).length);
      expect(r.starts[0]).toMatchObject({ member: r.leaderBefore, inRecovery: false });
      expect(r.starts.slice(1).every((s) => s.inRecovery && s.member !== r.leaderBefore)).toBe(true);
      expect(r.promotions).toEqual([]);
      expect(r.leaderAfter).toBe(r.leaderBefore);
      expect(r.lost).toBe(0);
      expect(await showEverywhere(deployed, 'max_connections')).toEqual(await everyMember(String(maxConnections)));
    }, 900000);

    test("a value only PostgreSQL knows is invalid (log_timezone=Mars/Olympus_Mons): the converge Job fails with PostgreSQL's message, the sync stops there as Argo CD shows it, nothing changes, the cluster keeps serving", async () => {
      // The synth refuses what the parameter fixture can tell (types, units, ranges, enums); a time zone
      // name is a string to it, and only PostgreSQL's own check knows this one does not exist.
      const configBefore = await patroniConfig();
      const r = await day2.sync(day2.synth({ POSTGRES_PARAMETERS: 'log_timezone=Mars/Olympus_Mons' }), 'invalid value');
      expect(r.ok).toBe(false);
      const converge = jobNamed(CONVERGE)!;
      // Argo CD: the sync failed at the PostSync hook (the converge Job), whose status is Failed; the rollout Job (a later wave) never ran
      expect(r.failure).toMatch(new RegExp(`^Job ${converge.metadata.name} failed`));
      const outcome = await jobOutcome(deployed, converge.metadata.name);
      log(`converge Job as Argo CD shows it: ${outcome.health}, ${JSON.stringify(outcome.condition)}`);
      expect(outcome.health).toBe('Degraded');
      // at once, by the Job's podFailurePolicy on the script's refusal status (not after backoffLimit retries)
      expect(outcome.condition).toMatchObject({ type: 'Failed', reason: 'PodFailurePolicy' });
      expect(outcome.log).toContain('invalid value for parameter "log_timezone": "Mars/Olympus_Mons"');
      expect(outcome.log).toContain('nothing further was changed');
      expect(await patroniConfig()).toEqual(configBefore);
      expect(r.starts).toEqual([]);
      expect(r.promotions).toEqual([]);
      expect(r.lost).toBe(0);
      expect(Object.values(await showEverywhere(deployed, 'log_timezone'))).not.toContain('Mars/Olympus_Mons');
    }, 1200000);

    test("timings changed (ttl, loop_wait, retry_timeout): Patroni's /config shows them, 0 restarts; a parameter removed from Git (work_mem) leaves the DCS; then the bed's timings back", async () => {
      const initial = await patroniConfig();
      const kept = `max_connections=${maxConnections}`;
      const r = await day2.sync(day2.synth({ POSTGRES_PARAMETERS: kept, PATRONI_TTL: '24', PATRONI_LOOP_WAIT: '4', PATRONI_RETRY_TIMEOUT: '8' }), 'timings changed');
      expect(r.ok).toBe(true);
      expectConvergeOnly(r);
      expect(r.starts).toEqual([]);
      expect(r.promotions).toEqual([]);
      expect(r.lost).toBe(0);
      const config = await patroniConfig();
      expect([config.ttl, config.loop_wait, config.retry_timeout]).toEqual([24, 4, 8]);
      expect(initial.postgresql?.parameters?.work_mem).toBe('24MB');
      expect(config.postgresql?.parameters?.work_mem).toBeUndefined(); // removed from Git: PATCHed to null
      expect(String(config.postgresql?.parameters?.max_connections)).toBe(String(maxConnections));
      const back = await day2.sync(day2.synth({ PATRONI_TTL: undefined, PATRONI_LOOP_WAIT: undefined, PATRONI_RETRY_TIMEOUT: undefined }), 'timings back');
      expect(back.ok).toBe(true);
      const restored = await patroniConfig();
      expect([restored.ttl, restored.loop_wait, restored.retry_timeout]).toEqual([initial.ttl, initial.loop_wait, initial.retry_timeout]);
    }, 900000);

    test('mixed: max_connections raised and max_locks_per_transaction lowered in one change: first the raise (replicas, then one switchover), then the decrease (the new primary in place, then the replicas); both values on every member, 0 lost', async () => {
      const locks = Number(Object.values(await showEverywhere(deployed, 'max_locks_per_transaction'))[0]);
      const lowered = locks / 2; // Patroni's default 64 runs (the DCS has none): 32, Patroni's minimum
      const raised = maxConnections + 10;
      const r = await day2.sync(day2.synth({ POSTGRES_PARAMETERS: `max_connections=${raised},max_locks_per_transaction=${lowered}` }), 'mixed raise and lower');
      expect(r.ok).toBe(true);
      expectConvergeOnly(r);
      expect(r.promotions).toHaveLength(1);
      expect(r.promotions[0][4]).toBe(r.leaderAfter);
      // the switchover as the members showed it: the new leader left recovery without a restart, between two polls
      expect(r.promotionsSeen.map((p) => p.member)).toEqual([r.leaderAfter]);
      const switchover = r.promotionsSeen[0];
      const all = await members();
      const others = (leader: string) => all.filter((m) => m !== leader).sort();
      // step 1, the raise: every replica restarted (in recovery) before the switchover; the old primary only
      // restarts around it (its demotion) or after it
      const step1 = r.starts.filter((s) => s.at < switchover.after && s.member !== r.leaderBefore);
      expect(step1.map((s) => s.member).sort()).toEqual(others(r.leaderBefore));
      expect(step1.every((s) => s.inRecovery)).toBe(true);
      expect(r.starts.filter((s) => s.at < switchover.after && s.member === r.leaderBefore).every((s) => s.inRecovery)).toBe(true);
      // step 2, the decrease: the new primary first, in place (not in recovery), then every other member (the old primary among them)
      const step2 = r.starts.filter((s) => s.at > switchover.by);
      const inPlace = step2.find((s) => s.member === r.leaderAfter);
      expect(inPlace).toMatchObject({ member: r.leaderAfter, inRecovery: false });
      const lastRestartOf = (m: string) => Math.max(...step2.filter((s) => s.member === m).map((s) => s.at));
      for (const m of others(r.leaderAfter)) expect([m, lastRestartOf(m) > inPlace!.at]).toEqual([m, true]);
      expect(r.lost).toBe(0);
      expect(await showEverywhere(deployed, 'max_connections')).toEqual(await everyMember(String(raised)));
      expect(await showEverywhere(deployed, 'max_locks_per_transaction')).toEqual(await everyMember(String(lowered)));
      maxConnections = raised;
    }, 900000);
  });

  describe('rollouts (the rollout Job, a PostSync hook; the Postgres StatefulSet is OnDelete)', () => {
    test('a new Postgres pod template (POSTGRES_CPU_REQUEST) rolled by the rollout Job under writes: exactly 1 leader change, every pod replaced and on the StatefulSet\'s updateRevision, 0 acknowledged writes lost', async () => {
      const podsBefore = await deployed.pods(deployed.postgres);
      const r = await day2.sync(day2.synth({ POSTGRES_CPU_REQUEST: '501m' }), 'new Postgres pod template');
      expect(r.ok).toBe(true);
      expect(r.changed).toContain(`StatefulSet/${deployed.postgres.metadata.name}`);
      expect(r.changed).toContainEqual(expect.stringMatching(ROLLOUT));
      expect(r.promotions).toHaveLength(1);
      expect(r.lost).toBe(0);
      const podsAfter = await deployed.pods(deployed.postgres);
      expect(podsAfter.filter((p) => podsBefore.some((b) => b.uid === p.uid))).toEqual([]);
      // the replicas' pods were replaced before the switchover (seen: the new leader left recovery), the old primary's after it
      expect(r.promotionsSeen.map((p) => p.member)).toEqual([r.leaderAfter]);
      const newPods = r.starts.filter((s) => !podsBefore.some((b) => b.uid === s.podUid));
      expect(newPods.filter((s) => s.at < r.promotionsSeen[0].after).map((s) => s.member).sort()).toEqual(podsAfter.map((p) => p.name).filter((m) => m !== r.leaderBefore).sort());
      expect(newPods.filter((s) => s.at > r.promotionsSeen[0].by).map((s) => s.member)).toEqual([r.leaderBefore]);
      await expectOnUpdateRevision(deployed.postgres);
      const live = await cluster.api.list(`${resourcePath('pods', deployed.namespace)}?labelSelector=${encodeURIComponent(Object.entries(deployed.postgres.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(','))}`);
      expect(live.map((p) => p.spec.containers[0].resources.requests.cpu)).toEqual(live.map(() => '501m'));
    }, 1200000);

    test('a rollout of every workload (`kubectl rollout restart` of each StatefulSet and Deployment, then a sync) under writes: every pod replaced, each on its updateRevision, 0 acknowledged writes lost', async () => {
      const workloads = [...deployed.all('StatefulSet'), ...deployed.all('Deployment')];
      const before = new Map<string, string[]>();
      for (const w of workloads) before.set(w.metadata.name, (await deployed.pods(w)).map((p) => p.uid));
      const r = await day2.underWrites(day2.deployedDir, 'rollout restart of every workload', async () => {
        for (const w of workloads) await cluster.api.run(['rollout', 'restart', '-n', w.metadata.namespace!, `${w.kind.toLowerCase()}/${w.metadata.name}`]);
        return deployed.sync(); // the same dist/: the hooks run again (Argo CD runs hooks on every sync), the rollout Job among them
      });
      expect(r.ok).toBe(true);
      expect(r.lost).toBe(0);
      expect(r.promotions.length).toBeLessThanOrEqual(1);
      for (const w of workloads) {
        const now = (await deployed.pods(w)).filter((p) => !p.deleting);
        expect({ workload: w.metadata.name, kept: now.filter((p) => before.get(w.metadata.name)!.includes(p.uid)).map((p) => p.name) }).toEqual({ workload: w.metadata.name, kept: [] });
        if (w.kind === 'StatefulSet') await expectOnUpdateRevision(w);
      }
    }, 1200000);

    test('larger POSTGRES_STORAGE_SIZE and ETCD_STORAGE_SIZE: the apply succeeds (the claim templates are kept), the rollout Job grows every claim, and each claim\'s status and volume report the grown size', async () => {
      const claimsOf = (sts: KubeObject) => (sts.spec.volumeClaimTemplates as KubeObject[]).map((t) => t.metadata.name);
      const templatesBefore = [deployed.postgres, deployed.etcd].map((s) => JSON.stringify(s.spec.volumeClaimTemplates));
      const sizeOf = (sts: KubeObject) => sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage as string;
      const grown = (size: string) => size.replace(/^(\d+)/, (n) => String(Number(n) * 2));
      const pgSize = grown(sizeOf(deployed.postgres));
      const etcdSize = grown(sizeOf(deployed.etcd));
      const r = await day2.sync(day2.synth({ POSTGRES_STORAGE_SIZE: pgSize, ETCD_STORAGE_SIZE: etcdSize }), 'larger volumes');
      expect(r.ok).toBe(true);
      expect(r.lost).toBe(0);
      // the StatefulSets keep their claim templates (immutable): the size lives in the annotation and the rollout Job
      expect([deployed.postgres, deployed.etcd].map((s) => JSON.stringify(s.spec.volumeClaimTemplates))).toEqual(templatesBefore);
      expect(r.promotions).toEqual([]); // no pod template changed: nothing was replaced
      const claims = await cluster.api.list(resourcePath('persistentvolumeclaims', deployed.namespace));
      const volumes = await cluster.api.list(resourcePath('persistentvolumes'));
      for (const [sts, size] of [[deployed.postgres, pgSize], [deployed.etcd, etcdSize]] as const) {
        const mine = claims.filter((c) => claimsOf(sts).some((t) => c.metadata.name.startsWith(`${t}-${sts.metadata.name}-`)));
        expect(mine).toHaveLength(sts.spec.replicas);
        // the resizer's work shows in the claim's status (kubectl get pvc: CAPACITY) and the volume's capacity
        const grownClaims = await waitFor(`${sts.metadata.name}'s claims at ${size}`, async () => {
          const now = (await cluster.api.list(resourcePath('persistentvolumeclaims', deployed.namespace))).filter((c) => mine.some((m) => m.metadata.name === c.metadata.name));
          return now.every((c) => c.status?.capacity?.storage === size) ? now : undefined;
        }, { timeoutMs: 60000, intervalMs: 1000 });
        for (const c of grownClaims) {
          expect([c.metadata.name, c.spec.resources.requests.storage, c.status.capacity.storage, c.status.conditions ?? []]).toEqual([c.metadata.name, size, size, []]);
          const pv = volumes.find((v) => v.metadata.name === c.spec.volumeName) ?? await cluster.api.get(`${resourcePath('persistentvolumes')}/${c.spec.volumeName}`);
          expect([c.metadata.name, pv?.spec.capacity.storage]).toEqual([c.metadata.name, size]);
        }
      }
    }, 1200000);

    test('a restart-needing parameter and a new pod template in one plain `kubectl apply -f` (both day-2 Jobs start at once) under writes: both succeed, never both holding the Lease, at most 2 leader changes, 0 acknowledged writes lost', async () => {
      const raised = maxConnections + 20;
      const params = day2.settings.POSTGRES_PARAMETERS.replace(/max_connections=\d+/, `max_connections=${raised}`);
      const dir = day2.synth({ POSTGRES_CPU_REQUEST: '502m', POSTGRES_PARAMETERS: params });
      const next = loadManifests(dir);
      const converge = next.find((j) => j.kind === 'Job' && CONVERGE.test(j.metadata.name))!;
      const rollout = next.find((j) => j.kind === 'Job' && ROLLOUT.test(j.metadata.name))!;
      const lease = await watchLease(deployed, day2LeaseName(deployed));
      const ran: Record<string, { from: number; to: number }> = {};
      let r: Day2Result;
      try {
        r = await day2.underWrites(dir, 'parameter and pod template, one kubectl apply', async () => {
          const out = await cluster.api.kubectl(['apply', '-f', path.resolve(dir)]);
          if (out.code !== 0) return { ok: false, failure: out.stderr };
          const done = await waitFor('both day-2 Jobs finished', async () => {
            const h = await Promise.all([converge, rollout].map(async (j) => jobOutcome(deployed, j.metadata.name)));
            return h.every((x) => x.condition) ? h : undefined;
          }, { timeoutMs: 1500000, intervalMs: 2000 });
          for (const j of [converge, rollout]) {
            const live = await cluster.api.get(`${resourcePath('jobs', deployed.namespace, 'batch/v1')}/${j.metadata.name}`);
            ran[j.metadata.name] = { from: Date.parse(live?.status?.startTime), to: Date.parse(live?.status?.completionTime) };
          }
          const failed = done.filter((x) => x.condition?.type !== 'Complete');
          return failed.length ? { ok: false, failure: failed.map((f) => f.log).join('\n') } : { ok: true };
        });
      } finally {
        lease.stop();
      }
      log(`day-2 Lease holders (API server watch): ${JSON.stringify(lease.holders)}; Jobs ran ${JSON.stringify(ran)}`);
      expect(r.ok).toBe(true);
      // both Jobs ran at once (no sync order between them): by the Job controller's record, each started before the other completed
      const [c, o] = [ran[converge.metadata.name], ran[rollout.metadata.name]];
      expect([c.from < o.to, o.from < c.to]).toEqual([true, true]);
      // the API server's record: the holder went from one Job's pod to nobody and only then to the other's
      expect(lease.errors).toEqual([]);
      const held = lease.holders.filter((h) => h);
      expect(held).toHaveLength(2);
      expect(lease.holders.slice(lease.holders.indexOf(held[0]))).toEqual([held[0], '', held[1], '']);
      expect(held.map((h) => h.replace(/-[a-z0-9]{5}$/, '')).sort()).toEqual([converge.metadata.name, rollout.metadata.name].sort());
      expect(r.promotions.length).toBeLessThanOrEqual(2);
      expect(r.lost).toBe(0);
      expect(await showEverywhere(deployed, 'max_connections')).toEqual(await everyMember(String(raised)));
      await expectOnUpdateRevision(deployed.postgres);
    }, 1800000);
  });
});
