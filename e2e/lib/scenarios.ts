/* Building blocks shared by the e2e tests and the failover benchmark. */
import { log } from './log';
import { Ack, PgConn, query, tryQuery, WriteLoad } from './pg';
import { httpStatus, sleep, waitFor } from './poll';
import { RouterPlan } from './router';
import { PodRt } from './cluster';
import { Testbed } from './testbed';

export const WRITE_TABLE = 'e2e_writes';

export interface AppCreds {
  user: string;
  password: string;
  database: string;
  /** where each value came from in the Job manifest */
  source: string;
}

/**
 * The application user, password and database the init Job configures,
 * read from the Job's environment. Names are matched loosely (APP_USER,
 * POSTGRES_USER, APP_DB_NAME ...), never the libpq PG* variables the Job
 * itself logs in with.
 */
export function appCreds(tb: Testbed, jobName?: string): AppCreds {
  const job = jobName ? tb.m.get('Job', jobName) : tb.m.all('Job').find((j) => /postgres/.test(j.spec.template.spec.containers[0].image));
  if (!job) throw new Error('no init Job in the manifests');
  const c = job.spec.template.spec.containers[0];
  const names = (c.env ?? []).map((e: { name: string }) => e.name) as string[];
  const pick = (re: RegExp): string | undefined => names.find((n) => re.test(n) && !/^PG(USER|PASSWORD|DATABASE|HOST|PORT|SSLMODE)$/.test(n));
  const userVar = pick(/(APP|OWNER|POSTGRES|DB)_?(USER|USERNAME|ROLE)$/i) ?? pick(/USER(NAME)?$/i);
  const passVar = pick(/(APP|OWNER|POSTGRES|DB)_?(PASS|PASSWORD)$/i) ?? (userVar ? pick(new RegExp(`^${userVar.replace(/_?(USER|USERNAME|ROLE)$/i, '')}_?PASS(WORD)?$`, 'i')) : undefined);
  const dbVar = pick(/(APP|POSTGRES)?_?(DB|DATABASE|DBNAME|DB_NAME)$/i);
  if (!userVar || !passVar || !dbVar) throw new Error(`init Job ${job.metadata.name}: cannot find the app user/password/database variables among ${names.join(', ')}`);
  const env = tb.jobEnv(job.metadata.name);
  return { user: env[userVar], password: env[passVar], database: env[dbVar], source: `${job.metadata.name}: ${userVar} / ${passVar} / ${dbVar}` };
}

export function serviceConn(svc: { host: string; port: number }, creds: { user: string; password: string; database: string }): PgConn {
  return { host: svc.host, port: svc.port, user: creds.user, password: creds.password, database: creds.database, sslmode: 'require' };
}

export function directConn(tb: Testbed, p: PodRt, database: string): PgConn {
  const su = tb.superuser();
  const a = tb.pgAddr(p);
  return { host: a.host, port: a.port, user: su.user, password: su.password, database, sslmode: 'require' };
}

export async function isInRecovery(tb: Testbed, p: PodRt, database = 'postgres'): Promise<boolean | undefined> {
  const r = await tryQuery<{ r: boolean }>(directConn(tb, p, database), 'SELECT pg_is_in_recovery() AS r', [], 1000);
  return r?.[0]?.r;
}

/** Replica p streams from the leader l (pg_stat_replication on l) and answers /replica. */
export async function streamingFrom(tb: Testbed, p: PodRt, l: PodRt): Promise<boolean> {
  const { host, port } = tb.restApi(p);
  if ((await httpStatus(host, port, '/replica', 'GET', 800)) !== 200) return false;
  const rows = await tryQuery<{ n: string }>(directConn(tb, l, 'postgres'), "SELECT count(*)::text AS n FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", [p.name], 1000);
  return rows?.[0]?.n === '1';
}

export async function ensureWriteTable(conn: PgConn): Promise<void> {
  await waitFor(
    'write table created through the write Service',
    async () => {
      try {
        await query(conn, `CREATE TABLE IF NOT EXISTS ${WRITE_TABLE} (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
        return true;
      } catch (e) {
        log(`create table: ${(e as Error).message}`);
        return false;
      }
    },
    { timeoutMs: 30000, intervalMs: 500 },
  );
}

export async function maxWriteId(conn: PgConn): Promise<number> {
  const r = await query<{ m: string | null }>(conn, `SELECT max(id)::text AS m FROM ${WRITE_TABLE}`);
  return Number(r[0].m ?? 0);
}

/** How many of the acknowledged ids are missing on pod p. */
export async function lostOn(tb: Testbed, p: PodRt, database: string, acks: Ack[]): Promise<number> {
  const ids = acks.map((a) => a.id);
  const r = await query<{ n: string }>(directConn(tb, p, database), `SELECT count(*)::text AS n FROM ${WRITE_TABLE} WHERE id = ANY($1::bigint[])`, [ids], 10000);
  return ids.length - Number(r[0].n);
}

export type FailoverKind = 'graceful' | 'hard' | 'crash' | 'restart';

/** Spilo runs Patroni under runit: runsv restarts a service that exits, at least 1 s after its last start. */
const RUNIT_RESTART_MS = 1000;

export interface FailoverResult {
  kind: FailoverKind;
  oldLeader: string;
  newLeader: string;
  /** kill -> first write acknowledged through the router by another member */
  outageS: number;
  /** kill -> old leader streams from the new leader and answers /replica (NaN when it stayed leader) */
  rejoinS: number;
  acked: number;
  lost: number;
  errors: number;
  writePortServesNewLeader: boolean;
}

export interface Timing {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
}

export function dcsTiming(tb: Testbed): Timing {
  const d = tb.patroniConfig(tb.pgPods[0]).bootstrap?.dcs ?? {};
  return { ttl: Number(d.ttl ?? 30), loop_wait: Number(d.loop_wait ?? 10), retry_timeout: Number(d.retry_timeout ?? 10) };
}

/**
 * One failover under continuous writes through the write Service.
 * graceful: SIGTERM to the leader's Patroni, as when its pod is deleted (rolling
 *   update, drain: Spilo's launch.sh turns the pod's SIGTERM into `sv stop
 *   patroni`); Patroni stops PostgreSQL and releases the leader key; the pod is
 *   recreated once the router serves writes from a new leader.
 * hard: SIGKILL of Patroni and every postgres process of the leader at the
 *   same instant, as when its node dies; the pod comes back once the router
 *   serves writes from a new leader.
 * restart: SIGTERM to Patroni only, and runit restarts it 1 s later (the pod
 *   stays): the restarted member may win the leader race again.
 * crash: the SIGKILL of `hard`, and runit restarts Patroni 1 s later: Patroni
 *   finds its own leader key, recovers and usually keeps the role.
 */
export async function failover(tb: Testbed, rp: RouterPlan, app: AppCreds, kind: FailoverKind): Promise<FailoverResult> {
  const timing = dcsTiming(tb);
  await tb.waitHealthy({ timeoutMs: 120000 });
  const leader = await waitFor('leader', () => tb.leaderPod(), { timeoutMs: 30000 });
  const oldIp = tb.pgAddr(leader).host;
  const writeConn = serviceConn(rp.writeService, app);
  const firstId = (await maxWriteId(writeConn)) + 1;
  const load = new WriteLoad(writeConn, WRITE_TABLE, { firstId, pauseMs: 10, maxMs: 5 * 60 * 1000 });
  load.start();
  try {
    await waitFor('writes acknowledged by the leader', async () => load.acks.filter((a) => a.server === oldIp).length >= 20, { timeoutMs: 30000, intervalMs: 50 });
    const c = tb.spiloContainer(leader);
    log(`FAILOVER ${kind}: leader ${leader.name} (${oldIp}), ${load.acks.length} writes acknowledged so far`);
    const t0 = Date.now();
    const anyLeader = kind === 'crash' || kind === 'restart';
    let stopped: Promise<void> = Promise.resolve();
    if (kind === 'graceful' || kind === 'restart') {
      stopped = c.stop('SIGTERM', leader.graceMs, true);
    } else {
      const n = await c.kill(true);
      log(`${kind} kill: SIGKILL to ${n} processes of ${c.scope} in ${Date.now() - t0} ms`);
    }
    // restart/crash: only writes sent after the old processes are gone count (the old postmaster may
    // still acknowledge writes while Patroni begins its shutdown)
    let tDown = t0;
    if (anyLeader) {
      await stopped;
      tDown = Date.now();
      void sleep(RUNIT_RESTART_MS).then(() => c.resume());
    }
    const limit = (timing.ttl + timing.loop_wait + 60) * 1000;
    const first = await Promise.race([
      load.firstAckAfter(tDown, (a) => (anyLeader ? a.sentAt > tDown : a.server !== oldIp)),
      sleep(limit).then(() => undefined),
    ]);
    if (!first) throw new Error(`no write acknowledged by a new leader within ${limit / 1000} s after the ${kind} kill`);
    const outageS = (first.ackAt - t0) / 1000;
    const newLeader = tb.podByIp(first.server)!;
    log(`FAILOVER ${kind}: first write acknowledged by ${newLeader.name} ${outageS.toFixed(2)} s after the kill`);
    if (!anyLeader) {
      await stopped;
      c.resume();
    }
    let rejoinS = NaN;
    if (newLeader !== leader) {
      await waitFor(`${leader.name} streaming as a replica of ${newLeader.name}`, () => streamingFrom(tb, leader, newLeader), {
        timeoutMs: 180000,
        intervalMs: 100,
      });
      rejoinS = (Date.now() - t0) / 1000;
      log(`FAILOVER ${kind}: ${leader.name} serves as a replica again ${rejoinS.toFixed(2)} s after the kill`);
    } else log(`FAILOVER ${kind}: ${leader.name} kept the leader role (restarted before its leader key expired)`);
    const nAcks = load.acks.length;
    await waitFor('more writes after the rejoin', async () => load.acks.length >= nAcks + 10, { timeoutMs: 30000, intervalMs: 50 });
    await load.stop();
    const lost = await lostOn(tb, newLeader, app.database, load.acks);
    const via = await query<{ ip: string; r: boolean }>(writeConn, 'SELECT host(inet_server_addr()) AS ip, pg_is_in_recovery() AS r');
    const writePortServesNewLeader = via[0].ip === tb.pgAddr(newLeader).host && via[0].r === false;
    const res: FailoverResult = {
      kind,
      oldLeader: leader.name,
      newLeader: newLeader.name,
      outageS,
      rejoinS,
      acked: load.acks.length,
      lost,
      errors: load.errors.length,
      writePortServesNewLeader,
    };
    log(`FAILOVER ${kind} result: ${JSON.stringify(res)}`);
    return res;
  } finally {
    await load.stop();
    const c = tb.spiloContainer(leader);
    if (!c.wanted) c.resume();
  }
}

/** Reads through a Service, one connection per read, bounded in time. */
export class ReadLoad {
  samples: Array<{ at: number; ok: boolean; server?: string; recovery?: boolean; err?: string }> = [];
  private running = false;
  private done?: Promise<void>;

  constructor(
    readonly conn: PgConn,
    readonly pauseMs = 50,
    readonly maxMs = 120000,
  ) {}

  start(): void {
    this.running = true;
    this.done = (async () => {
      const until = Date.now() + this.maxMs;
      while (this.running && Date.now() < until) {
        try {
          const r = await query<{ ip: string; r: boolean }>(this.conn, 'SELECT host(inet_server_addr()) AS ip, pg_is_in_recovery() AS r', [], 2000);
          this.samples.push({ at: Date.now(), ok: true, server: r[0].ip, recovery: r[0].r });
        } catch (e) {
          this.samples.push({ at: Date.now(), ok: false, err: (e as Error).message });
        }
        await sleep(this.pauseMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  between(a: number, b: number): ReadLoad['samples'] {
    return this.samples.filter((s) => s.at >= a && s.at <= b);
  }
}
