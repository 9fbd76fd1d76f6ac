/*
 * The application's side of the cluster: the credentials the init Job
 * configures, connections through the Services or straight to a member, the
 * write table, and a read load.
 */
import { log } from './log';
import { Ack, PgConn, query, tryQuery } from './pg';
import { LocalPod, programOfImage } from './pod';
import { waitFor } from './poll';
import type { K8sObject } from './manifests';
import type { Testbed } from './testbed';
import { ReadLoad, serviceConn, whoAnswers } from './kubernetes/service-clients';

export { ReadLoad, serviceConn, whoAnswers };

export const WRITE_TABLE = 'e2e_writes';

export interface AppCreds {
  user: string;
  password: string;
  database: string;
  /** where each value came from in the Job manifest */
  source: string;
}

/** A Job's containers, init containers first. */
function jobContainers(job: K8sObject): Array<{ name: string; image: string; env?: Array<{ name: string }> }> {
  const spec = job.spec.template.spec;
  return [...(spec.initContainers ?? []), ...spec.containers] as Array<{ name: string; image: string; env?: Array<{ name: string }> }>;
}

/** The init Job of the manifests (the Job with a PostgreSQL client image). */
export function initJobName(bed: Testbed): string {
  const job = bed.manifests.all('Job').find((j) => jobContainers(j).some((c) => programOfImage(c.image) === 'psql'));
  if (!job) throw new Error('no init Job (a Job with a PostgreSQL client image) in the manifests');
  return job.metadata.name;
}

/**
 * The application user, password and database the init Job configures,
 * read from the Job's environment. Names are matched loosely (APP_USER,
 * POSTGRES_USER, APP_DB_NAME ...), never the libpq PG* variables the Job
 * itself logs in with.
 */
export function appCreds(bed: Testbed, jobName = initJobName(bed)): AppCreds {
  const job = bed.manifests.get('Job', jobName);
  const c = jobContainers(job).find((x) => programOfImage(x.image) === 'psql')!;
  const names = (c.env ?? []).map((e: { name: string }) => e.name) as string[];
  const pick = (re: RegExp): string | undefined => names.find((n) => re.test(n) && !/^PG(USER|PASSWORD|DATABASE|HOST|PORT|SSLMODE)$/.test(n));
  const userVar = pick(/(APP|OWNER|POSTGRES|DB)_?(USER|USERNAME|ROLE)$/i) ?? pick(/USER(NAME)?$/i);
  const passVar = pick(/(APP|OWNER|POSTGRES|DB)_?(PASS|PASSWORD)$/i) ?? (userVar ? pick(new RegExp(`^${userVar.replace(/_?(USER|USERNAME|ROLE)$/i, '')}_?PASS(WORD)?$`, 'i')) : undefined);
  const dbVar = pick(/(APP|POSTGRES)?_?(DB|DATABASE|DBNAME|DB_NAME)$/i);
  if (!userVar || !passVar || !dbVar) throw new Error(`init Job ${jobName}: cannot find the app user/password/database variables among ${names.join(', ')}`);
  const env = bed.jobs.env(jobName, c.name);
  return { user: env[userVar], password: env[passVar], database: env[dbVar], source: `${jobName}: ${userVar} / ${passVar} / ${dbVar}` };
}

/** The superuser, straight to one member (not through a Service). */
export function directConn(bed: Testbed, p: LocalPod, database: string): PgConn {
  const su = bed.patroni.superuser();
  return { ...bed.patroni.pgAddress(p), user: su.user, password: su.password, database, sslmode: 'require' };
}

export async function isInRecovery(bed: Testbed, p: LocalPod, database = 'postgres'): Promise<boolean | undefined> {
  const r = await tryQuery<{ r: boolean }>(directConn(bed, p, database), 'SELECT pg_is_in_recovery() AS r', [], 1000);
  return r?.[0]?.r;
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
export async function lostOn(bed: Testbed, p: LocalPod, database: string, acks: Ack[]): Promise<number> {
  const ids = acks.map((a) => a.id);
  const r = await query<{ n: string }>(directConn(bed, p, database), `SELECT count(*)::text AS n FROM ${WRITE_TABLE} WHERE id = ANY($1::bigint[])`, [ids], 10000);
  return ids.length - Number(r[0].n);
}
