/*
 * Day-2 changes on the real Kubernetes bed, made as a user makes them (pg-ha.env changed ->
 * `npm run synth` over the deployed dist/ -> the new dist/ synced in Argo CD's order, or one plain
 * `kubectl apply -f`), and what the cluster itself shows while they run:
 *   - every postmaster start of every member (pg_postmaster_start_time() and pg_is_in_recovery(),
 *     polled on each pod's IP), so restarts and their order come from PostgreSQL, not a Job's log;
 *   - Patroni's /history (one entry per promotion: the leader changes);
 *   - the pods' uids and controller-revision-hash labels, the StatefulSet's updateRevision;
 *   - the day-2 Lease's holders, from a watch on the API server (every change it stored).
 */
import * as fs from 'fs';
import * as path from 'path';
import { log } from '../log';
import { PgConn, tryQuery, WriteLoad } from '../pg';
import { httpJson, sleep, waitFor } from '../poll';
import { removeVariant, synthVariant } from '../synth-variant';
import { writeUnavailability } from '../write-availability';
import { healthOf } from './argocd-sync';
import { DeployedPgHa, LivePod, loadManifests } from './deployed-pg-ha';
import { KubeObject, resourcePath } from './kube-client';
import { lostWrites, startWrites, stopWrites } from './faults';

/** One postmaster start seen on a member: when PostgreSQL says it started, and whether it was a replica then. */
export interface PostmasterStart {
  member: string;
  /** pg_postmaster_start_time(), epoch ms */
  at: number;
  inRecovery: boolean;
  podUid: string;
}

/** A member seen to leave recovery without a restart (a promotion), between two polls. */
export interface PromotionSeen {
  member: string;
  /** the last poll that saw it a replica, epoch ms */
  after: number;
  /** the first poll that saw it a primary, epoch ms */
  by: number;
}

/** Patroni's /history: [timeline, lsn, reason, timestamp, new leader] per promotion. */
export type HistoryEntry = [number, number, string, string, string?];

export async function patroniHistory(deployed: DeployedPgHa): Promise<HistoryEntry[]> {
  return waitFor('Patroni /history', async () => {
    for (const p of await deployed.pods(deployed.postgres)) {
      if (!p.ip) continue;
      const h = await httpJson<HistoryEntry[]>(p.ip, deployed.patroniPort, '/history', 2000);
      if (Array.isArray(h)) return h;
    }
    return undefined;
  }, { timeoutMs: 60000, intervalMs: 1000 });
}

async function postmaster(deployed: DeployedPgHa, pod: LivePod): Promise<{ at: number; inRecovery: boolean } | undefined> {
  if (!pod.ip) return undefined;
  const r = await tryQuery<{ t: string; r: boolean }>(await deployed.superuser(pod),
    'SELECT (extract(epoch FROM pg_postmaster_start_time()) * 1000)::bigint::text AS t, pg_is_in_recovery() AS r', [], 2000);
  return r?.[0] ? { at: Number(r[0].t), inRecovery: r[0].r } : undefined;
}

/**
 * Polls every member's postmaster start time (every ~0.5 s). The first value seen per member is
 * the baseline; every later new value is a restart (a new pod counts too), with the role the
 * member had when PostgreSQL answered after it.
 */
export class PostmasterWatch {
  readonly starts: PostmasterStart[] = [];
  readonly promotions: PromotionSeen[] = [];
  private readonly latest = new Map<string, number>();
  private readonly seen = new Map<string, { at: number; inRecovery: boolean; polledAt: number }>();
  private running = true;
  private readonly done: Promise<void>;

  private constructor(private readonly deployed: DeployedPgHa) {
    this.done = this.loop();
  }

  static async start(deployed: DeployedPgHa): Promise<PostmasterWatch> {
    const w = new PostmasterWatch(deployed);
    const wanted = deployed.postgres.spec.replicas ?? 1;
    await waitFor('every member\'s postmaster start time', async () => w.latest.size >= wanted, { timeoutMs: 60000, intervalMs: 200 });
    return w;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      for (const pod of await this.deployed.pods(this.deployed.postgres).catch(() => [] as LivePod[])) {
        const pm = await postmaster(this.deployed, pod).catch(() => undefined);
        if (!pm) continue;
        const polledAt = Date.now();
        const last = this.seen.get(pod.name);
        if (last && last.at === pm.at && last.inRecovery && !pm.inRecovery) {
          this.promotions.push({ member: pod.name, after: last.polledAt, by: polledAt });
          log(`${pod.name} promoted (same postmaster) between ${new Date(last.polledAt).toISOString()} and ${new Date(polledAt).toISOString()}`);
        }
        this.seen.set(pod.name, { at: pm.at, inRecovery: pm.inRecovery, polledAt });
        const before = this.latest.get(pod.name);
        if (before === pm.at) continue;
        this.latest.set(pod.name, pm.at);
        if (before !== undefined && pm.at > before) {
          this.starts.push({ member: pod.name, at: pm.at, inRecovery: pm.inRecovery, podUid: pod.uid });
          log(`postmaster of ${pod.name} started at ${new Date(pm.at).toISOString()} (${pm.inRecovery ? 'replica' : 'primary'}, pod ${pod.uid.slice(0, 8)})`);
        }
      }
      await sleep(500);
    }
  }

  /** stop after one more full pass, so a restart that just finished is counted */
  async stop(): Promise<PostmasterStart[]> {
    await sleep(1200);
    this.running = false;
    await this.done;
    return [...this.starts].sort((a, b) => a.at - b.at);
  }
}

export interface LeaseRecord {
  /** the holders in the order the API server stored them, consecutive repeats folded ('' = no holder) */
  holders: string[];
  errors: string[];
  stop(): void;
}

/** Every holderIdentity the Lease had, from a watch on it. */
export async function watchLease(deployed: DeployedPgHa, name: string): Promise<LeaseRecord> {
  const rec: LeaseRecord = { holders: [], errors: [], stop: () => undefined };
  const push = (h: string) => {
    if (rec.holders[rec.holders.length - 1] !== h) rec.holders.push(h);
  };
  rec.stop = await deployed.cluster.api.watch(resourcePath('leases', deployed.namespace, 'coordination.k8s.io/v1'), (type, o) => {
    if (type === 'ERROR') rec.errors.push(JSON.stringify(o));
    else if (type !== 'DELETED') push(o.spec?.holderIdentity ?? '');
  }, `metadata.name=${name}`);
  return rec;
}

/** The day-2 Lease's name, from a day-2 Job's env. */
export function day2LeaseName(deployed: DeployedPgHa): string {
  const job = deployed.one('Job', (j) => /-rollout-[0-9a-f]{10}$/.test(j.metadata.name), 'rollout Job');
  const env = job.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
  const v = env.find((e) => e.name === 'LEASE_NAME')?.value;
  if (!v) throw new Error('the rollout Job has no LEASE_NAME');
  return v;
}

/** The live StatefulSet's updateRevision and each of its pods' controller-revision-hash. */
export async function revisions(deployed: DeployedPgHa, sts: KubeObject): Promise<{ updateRevision: string; pods: Record<string, string> }> {
  const live = await deployed.cluster.api.get(`${resourcePath('statefulsets', sts.metadata.namespace, 'apps/v1')}/${sts.metadata.name}`);
  const pods = await deployed.pods(sts);
  return { updateRevision: live?.status?.updateRevision, pods: Object.fromEntries(pods.map((p) => [p.name, p.labels['controller-revision-hash']])) };
}

/** The keys (Kind/name) of the objects of `next` that are new or differ from `current`. */
export function changedObjects(current: KubeObject[], next: KubeObject[]): string[] {
  const key = (o: KubeObject) => `${o.kind}/${o.metadata.name}`;
  const before = new Map(current.map((o) => [key(o), JSON.stringify(o)]));
  return next.filter((o) => before.get(key(o)) !== JSON.stringify(o)).map(key).sort();
}

/** A hook Job's outcome as Argo CD shows it: the Job's own condition and its pods' log. */
export async function jobOutcome(deployed: DeployedPgHa, name: string): Promise<{ health: string; condition?: { type: string; reason?: string; message?: string }; log: string }> {
  const live = await deployed.cluster.api.get(`${resourcePath('jobs', deployed.namespace, 'batch/v1')}/${name}`);
  const condition = ((live?.status?.conditions ?? []) as Array<{ type: string; status: string; reason?: string; message?: string }>)
    .find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  const logs = await deployed.cluster.api.kubectl(['logs', '-n', deployed.namespace, `job/${name}`, '--all-containers', '--tail=400']);
  return { health: live ? await healthOf(deployed.cluster.api, live) : 'Missing', condition, log: logs.stdout };
}

export interface Day2Result {
  /** what applying did (Argo CD's order): ok, or the failure it stopped at */
  ok: boolean;
  failure?: string;
  /** the keys of the objects the new dist/ changed */
  changed: string[];
  /** the postmaster starts seen while the change ran, in PostgreSQL's order */
  starts: PostmasterStart[];
  /** the promotions seen while the change ran (a member leaving recovery without a restart) */
  promotionsSeen: PromotionSeen[];
  leaderBefore: string;
  leaderAfter: string;
  /** promotions in Patroni's /history since the change began */
  promotions: HistoryEntry[];
  acknowledged: number;
  lost: number;
  /** seconds without an acknowledged write (write-availability.ts) */
  unavailableS: number;
  /** seconds the apply took (its Jobs included) */
  applyS: number;
}

/**
 * The user's side of day 2: pg-ha.env's settings, synthesized over the deployed dist/ (the synth
 * keeps the running StatefulSets' immutable fields), then synced. Each applied dist/ becomes the
 * deployed one; the earlier directory is removed.
 */
export class Day2 {
  settings: Record<string, string> = {};
  private dirs: string[] = [];
  private pending?: Record<string, string>;

  constructor(readonly deployed: DeployedPgHa, public deployedDir: string, readonly writeConn: () => PgConn) {}

  /** pg-ha.env with these settings changed (merged into the ones declared before), synthesized over the deployed dist/. */
  synth(change: Record<string, string | undefined>): string {
    const settings = { ...this.settings };
    for (const [k, v] of Object.entries(change)) {
      if (v === undefined) delete settings[k];
      else settings[k] = v;
    }
    const dir = synthVariant(this.deployedDir, settings);
    this.dirs.push(dir);
    this.pending = settings;
    return dir;
  }

  /**
   * Runs `apply` (which applies `dir`) under a write load through the write Service, watching the
   * postmasters and Patroni's history; afterwards waits for a healthy cluster and more writes.
   */
  async underWrites(dir: string, what: string, apply: () => Promise<{ ok: boolean; failure?: string }>): Promise<Day2Result> {
    const changed = changedObjects(this.deployed.objects, loadManifests(dir));
    const conn = this.writeConn();
    await this.deployed.waitHealthy(240000);
    const historyBefore = (await patroniHistory(this.deployed)).length;
    const leaderBefore = (await this.deployed.leader()).name;
    const watch = await PostmasterWatch.start(this.deployed);
    const load: WriteLoad = startWrites(conn, 30 * 60 * 1000);
    let outcome: { ok: boolean; failure?: string };
    let applyS = 0;
    try {
      await waitFor('writes before the change', async () => load.acks.length >= 20, { timeoutMs: 60000, intervalMs: 100 });
      const t0 = Date.now();
      outcome = await apply();
      applyS = (Date.now() - t0) / 1000;
      log(`DAY2 ${what}: applied in ${applyS.toFixed(1)} s: ${outcome.ok ? 'ok' : `FAILED: ${outcome.failure?.split('\n')[0]}`}`);
      await this.deployed.waitHealthy(300000);
      const n = load.acks.length;
      await waitFor('writes after the change', async () => load.acks.length >= n + 20, { timeoutMs: 120000, intervalMs: 100 });
    } finally {
      await stopWrites(load);
    }
    const starts = await watch.stop();
    const promotionsSeen = watch.promotions;
    const history = await patroniHistory(this.deployed);
    const leaderAfter = (await this.deployed.leader()).name;
    const lost = await lostWrites(conn, load);
    // what was applied is what is deployed now (committed, even when a hook failed on it)
    this.deployed.objects = loadManifests(dir);
    this.deployedDir = dir;
    if (this.pending) this.settings = this.pending;
    this.pending = undefined;
    const r: Day2Result = { ...outcome, changed, starts, promotionsSeen, leaderBefore, leaderAfter, promotions: history.slice(historyBefore), acknowledged: load.acks.length, lost, unavailableS: writeUnavailability(load.acks, load.errors).unavailableS, applyS };
    log(`DAY2 ${what}: changed ${changed.join(', ')}; restarts ${starts.map((s) => `${s.member}(${s.inRecovery ? 'replica' : 'primary'})`).join(' ') || 'none'}; `
      + `leader ${leaderBefore} -> ${leaderAfter}, promotions ${history.length - historyBefore}; writes acknowledged ${load.acks.length}, errors ${load.errors.length}, lost ${lost}, ${r.unavailableS.toFixed(2)} s without an acknowledged write`);
    return r;
  }

  /** The new dist/ synced in Argo CD's order under writes. */
  sync(dir: string, what: string): Promise<Day2Result> {
    return this.underWrites(dir, what, () => this.deployed.sync(loadManifests(dir)));
  }

  cleanUp(): void {
    for (const d of this.dirs) if (fs.existsSync(path.dirname(d))) removeVariant(d);
  }
}

/** `SHOW name` on every member (as the superuser, on each pod's IP). */
export async function showEverywhere(deployed: DeployedPgHa, name: string): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const p of await deployed.pods(deployed.postgres)) {
    const r = await tryQuery<{ v: string }>(await deployed.superuser(p), 'SELECT current_setting($1) AS v', [name], 3000);
    out[p.name] = r?.[0]?.v;
  }
  return out;
}
