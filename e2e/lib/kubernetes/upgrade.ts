/*
 * Upgrades on the real Kubernetes bed: a release's committed dist/ read with `git show`, another
 * dist/ synced like Argo CD while a client writes through the write Service (what the sync did, the
 * writes acknowledged and lost, the leader changes), and what an upgrade leaves: every pod on its
 * StatefulSet's update revision, etcd's members and authentication as etcd itself reports them.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { log } from '../log';
import { PgConn, WriteLoad } from '../pg';
import { sleep, waitFor } from '../poll';
import { writeUnavailability } from '../write-availability';
import type { SyncResult } from './argocd-sync';
import type { DeployedPgHa } from './deployed-pg-ha';
import { ensureFaultTable, lostWrites, startWrites, stopWrites } from './faults';
import { KubeObject, resourcePath } from './kube-client';
import { etcdctl, etcdMemberClient } from './observations';

const REPO = path.resolve(__dirname, '..', '..', '..');

/** A commit's dist/ files, as git has them, in a temporary directory (the caller removes it). */
export function releaseDist(commit: string): string {
  let names: string[];
  try {
    names = execFileSync('git', ['ls-tree', '--name-only', commit, 'dist/'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n').filter((f) => f.endsWith('.yaml'));
  } catch (e) {
    throw new Error(`the release ${commit} is not in this clone's history (a shallow checkout needs the full history: git fetch --unshallow, or fetch-depth 0): ${(e as Error).message}`);
  }
  if (!names.length) throw new Error(`commit ${commit} has no dist/*.yaml`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pgha-e2e-release-${commit}-`));
  for (const f of names) fs.writeFileSync(path.join(dir, path.basename(f)), execFileSync('git', ['show', `${commit}:${f}`], { cwd: REPO, maxBuffer: 64 << 20 }));
  return dir;
}

export interface SyncedUnderWrites {
  sync: SyncResult;
  acked: number;
  lost: number;
  /** seconds without an acknowledged write (write-availability.ts) */
  unavailableS: number;
  /**
   * Leader changes as Patroni counts them: the leader's timeline after minus before (each
   * promotion starts a timeline), or the changes of leader seen every 250 ms, whichever is more.
   */
  leaderChanges: number;
  /** the leaders seen, in order */
  leaders: string[];
}

async function leaderNow(deployed: DeployedPgHa): Promise<{ name: string; timeline: number } | undefined> {
  const l = (await deployed.members())?.find((m) => m.role === 'leader' && m.state === 'running');
  return l ? { name: l.name, timeline: l.timeline ?? 0 } : undefined;
}

/**
 * Sync `objects` (another dist/'s) like Argo CD, with prune, while a client writes through `conn`
 * (the write Service): writes acknowledged before and after the sync, every acknowledged one checked.
 */
export async function syncUnderWrites(deployed: DeployedPgHa, objects: KubeObject[], conn: PgConn, what: string): Promise<SyncedUnderWrites> {
  await waitFor('the write Service takes writes', async () => ensureFaultTable(conn).then(() => true, () => false), { timeoutMs: 60000, intervalMs: 1000 });
  const before = await waitFor('the leader before the sync', () => leaderNow(deployed), { timeoutMs: 60000, intervalMs: 500 });
  const leaders = [before.name];
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const l = await leaderNow(deployed);
      if (l && l.name !== leaders[leaders.length - 1]) leaders.push(l.name);
      await sleep(250);
    }
  })();
  const load = startWrites(conn);
  let sync: SyncResult;
  const t0 = Date.now();
  try {
    await waitFor('writes before the sync', async () => load.acks.length >= 20, { timeoutMs: 60000, intervalMs: 50, describe: async () => lastErrors(load) });
    sync = await deployed.sync(objects, { prune: true });
    const n = load.acks.length;
    await waitFor('writes after the sync', async () => load.acks.length >= n + 20, { timeoutMs: 120000, intervalMs: 50, describe: async () => lastErrors(load) });
  } finally {
    watching = false;
    await watch;
    await stopWrites(load);
  }
  const after = await waitFor('the leader after the sync', () => leaderNow(deployed), { timeoutMs: 60000, intervalMs: 500 });
  const lost = await lostWrites(conn, load);
  const { unavailableS } = writeUnavailability(load.acks, load.errors);
  const leaderChanges = Math.max(after.timeline - before.timeline, leaders.length - 1);
  log(`UPGRADE ${what}: sync ${sync.ok ? 'ok' : `FAILED (${sync.failure?.split('\n')[0]})`} in ${((Date.now() - t0) / 1000).toFixed(0)} s; jobs ${sync.jobs.map((j) => `${j.name} ${j.message}`).join(', ')}; `
    + `pruned: ${sync.pruned?.join(', ') || 'nothing'}; writes acknowledged ${load.acks.length}, errors ${load.errors.length}, lost ${lost}, ${unavailableS.toFixed(2)} s without an acknowledged write; `
    + `leaders ${leaders.join(' -> ')}, timeline ${before.timeline} -> ${after.timeline}`);
  return { sync, acked: load.acks.length, lost, unavailableS, leaderChanges, leaders };
}

const lastErrors = (load: WriteLoad): string => `last write errors: ${load.errors.slice(-3).map((e) => e.message).join(' | ')}`;

/** Every StatefulSet's pods that are not on its update revision (status.updateRevision), or too few pods; [] when the rollout is done. */
export async function podsOffUpdateRevision(deployed: DeployedPgHa): Promise<string[]> {
  const off: string[] = [];
  for (const sts of deployed.all('StatefulSet')) {
    const live = await deployed.cluster.api.get(`${resourcePath('statefulsets', sts.metadata.namespace, 'apps/v1')}/${sts.metadata.name}`);
    const revision = live?.status?.updateRevision;
    const pods = await deployed.pods(sts);
    const wanted = live?.spec.replicas ?? 1;
    if (pods.length !== wanted) off.push(`${sts.metadata.name}: ${pods.length} pods for ${wanted} replicas`);
    for (const p of pods) if (p.labels['controller-revision-hash'] !== revision) off.push(`${p.name} on ${p.labels['controller-revision-hash']}, not ${revision}`);
  }
  return off;
}

export interface EtcdMemberInfo {
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

/** etcdctl inside the first etcd pod, against its advertised client URL with its own TLS files. */
async function etcdctlTls(deployed: DeployedPgHa, args: string[]): Promise<string> {
  const pod = `${deployed.etcd.metadata.name}-0`;
  const m = etcdMemberClient(deployed, pod);
  const r = await etcdctl(deployed, pod, [`--endpoints=${m.url}`, `--cacert=${m.ca}`, `--cert=${m.cert}`, `--key=${m.key}`, ...args]);
  if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')} in ${pod}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** The members as etcd lists them. */
export async function etcdMembers(deployed: DeployedPgHa): Promise<EtcdMemberInfo[]> {
  const { members } = JSON.parse(await etcdctlTls(deployed, ['member', 'list', '-w', 'json'])) as { members: EtcdMemberInfo[] };
  return members.map((m) => ({ name: m.name, peerURLs: m.peerURLs ?? [], clientURLs: m.clientURLs ?? [] })).sort((a, b) => a.name.localeCompare(b.name));
}

/** Whether etcd's authentication is on (`etcdctl auth status`). */
export async function etcdAuthEnabled(deployed: DeployedPgHa): Promise<boolean> {
  const out = await etcdctlTls(deployed, ['auth', 'status']);
  const m = /Authentication Status: (true|false)/.exec(out);
  if (!m) throw new Error(`etcdctl auth status said: ${out}`);
  return m[1] === 'true';
}

/** The log of the dist/'s Job whose name matches (kubectl logs job/...). */
export async function jobLog(deployed: DeployedPgHa, name: RegExp): Promise<string> {
  const job = deployed.one('Job', (j) => name.test(j.metadata.name), `Job ${name}`);
  return deployed.cluster.api.run(['logs', '-n', deployed.namespace, `job/${job.metadata.name}`, '--all-containers', '--tail=200']);
}
