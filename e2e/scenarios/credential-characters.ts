/*
 * Scenario: credentials with any printable characters (an EXISTING_SECRET the user wrote), each one
 * proven by the program that uses it, with the Secret's text as it is:
 * - app: logs in through the write and read Services; `<scope>-app` (created by the secrets Job)
 *   holds it, and its `uri` and `pgpass` log in with the real libpq (the root's psql);
 * - superuser: logs in to every member over TLS (the init Job used it too); replication: every
 *   replica streams as the replication user;
 * - Patroni's REST API: an unsafe endpoint (POST /reload) accepts the Secret's password and refuses
 *   a wrong one, on every member;
 * - monitor: every exporter reports pg_up 1;
 * - etcd: root and Patroni's user log in (etcd's JSON gateway) with the Secret's passwords;
 * - pooler (when on): the application logs in through PgBouncer, whose auth_query runs as the pooler
 *   role; the pgbouncer exporter reports pgbouncer_up 1;
 * - a changed app-password: the init Job run again sets it and brings `<scope>-app` up to date.
 * The passwords are made up at test time; none is printed.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { directConn, initJobName, serviceConn } from '../lib/app-client';
import { HARD, hardCredential, libpqLogin as rootLibpqLogin } from '../lib/kubernetes/credentials';
import type { ApiObject } from '../lib/kube/object-store';
import type { K8sObject } from '../lib/manifests';
import type { LocalPod } from '../lib/pod';
import { query, tryQuery } from '../lib/pg';
import { httpRequest, waitFor } from '../lib/poll';
import { etcdCaFile, etcdCurl } from '../lib/programs/etcd';
import { exporterAddress } from '../lib/programs/exporter';
import type { Testbed } from '../lib/testbed';
import type { SuiteContext } from './suite';

export { hardCredential };

/** The Secret a user creates before the first apply (EXISTING_SECRET), as the API stand-in stores it. */
export function existingSecret(namespace: string, name: string, keys: readonly string[]): ApiObject {
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name, namespace },
    data: Object.fromEntries(keys.map((k) => [k, Buffer.from(hardCredential()).toString('base64')])),
  } as ApiObject;
}

/** The Secret EXISTING_SECRET names, with every key the secrets Job checks (SECRET_KEYS), in its namespace. */
export function existingSecretFor(bed: Testbed): ApiObject {
  const job = secretsJob(bed);
  if (jobEnv(job, 'create-secret', 'SECRET_SOURCE') !== 'existing') throw new Error('these manifests generate their credentials (no EXISTING_SECRET)');
  return existingSecret(bed.manifests.ns(job), jobEnv(job, 'create-secret', 'SECRET_NAME'), jobEnv(job, 'create-secret', 'SECRET_KEYS').split(','));
}

/** A Job container's plain env value, init containers included. */
function jobEnv(job: K8sObject, container: string, name: string): string {
  const spec = job.spec.template.spec;
  const c = [...(spec.initContainers ?? []), ...spec.containers].find((x: { name: string }) => x.name === container);
  return c?.env?.find((e: { name: string }) => e.name === name)?.value;
}

function secretsJob(bed: Testbed): K8sObject {
  const job = bed.manifests.all('Job').find((j) => jobEnv(j, 'create-secret', 'SECRET_NAME'));
  if (!job) throw new Error('no secrets Job in the manifests');
  return job;
}

/** The credentials Secret's values (decoded), from the API stand-in's store. */
function credentials(bed: Testbed): Record<string, string> {
  const job = secretsJob(bed);
  const secret = bed.store.get('Secret', bed.manifests.ns(job), jobEnv(job, 'create-secret', 'SECRET_NAME'));
  if (!secret) throw new Error('no credentials Secret in the store');
  return Object.fromEntries(Object.entries<string>(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

/** `<scope>-app`'s values (decoded). */
function appSecret(bed: Testbed): { name: string; type: string; data: Record<string, string> } {
  const job = secretsJob(bed);
  const name = jobEnv(job, 'create-secret', 'APP_SECRET_NAME');
  const secret = bed.store.get('Secret', bed.manifests.ns(job), name);
  if (!secret) throw new Error(`no Secret ${name} in the store: the secrets Job did not create it`);
  return { name, type: secret.type, data: Object.fromEntries(Object.entries<string>(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])) };
}

/**
 * A Service of the bed by the host `<scope>-app` names: its FQDN (`<name>.<namespace>.svc.<domain>`)
 * in a cluster, its cluster IP here (the bed translates Service names in env values to addresses,
 * APP_ENDPOINTS included). Returns its cluster IP and port.
 */
function serviceAt(bed: Testbed, host: string, port: string): { host: string; port: number } {
  const svc = bed.cluster.services.find((s) => host.startsWith(`${s.name}.`) || (s.clusterIP !== undefined && s.clusterIP === host));
  if (!svc?.clusterIP) throw new Error(`no ClusterIP Service for ${host}`);
  return { host: svc.clusterIP, port: Number(port) };
}

function libpqLogin(bed: Testbed, conninfo: string, hostaddr: string, passfile?: string): Promise<string> {
  return rootLibpqLogin(bed.root, conninfo, hostaddr, passfile);
}

function patroniReload(bed: Testbed, pod: LocalPod, user: string, password: string): Promise<number> {
  const { host, port } = bed.patroni.restApi(pod);
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path: '/reload', method: 'POST', agent: false, timeout: 5000, headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

export function credentialCharacters(ctx: SuiteContext): void {
  describe('credentials with any printable characters', () => {
    test('the secrets Job accepted the Secret and created <scope>-app from it (basic-auth, the write Service\'s FQDN)', () => {
      const { bed } = ctx;
      const creds = credentials(bed);
      expect(Object.values(creds).every((v) => v.includes(HARD))).toBe(true);
      const app = appSecret(bed);
      expect(app.type).toBe('kubernetes.io/basic-auth');
      expect(app.data.password).toBe(creds['app-password']);
      expect([app.data.username, app.data.dbname]).toEqual([ctx.app.user, ctx.app.database]);
      // the manifests name the write Service's FQDN; the bed translated it to the Service's address
      const endpoints = JSON.parse(jobEnv(secretsJob(bed), 'create-secret', 'APP_ENDPOINTS')) as Array<{ prefix: string; host: string }>;
      expect(endpoints[0]).toMatchObject({ prefix: '', host: expect.stringMatching(new RegExp(`^${ctx.router.writeService.name}\\.[a-z0-9-]+\\.svc\\.`)) });
      expect(app.data.host).toBe(ctx.router.writeService.host);
      expect(ctx.app.password).toBe(creds['app-password']);
    });

    test("app: logs in through the write and read Services; <scope>-app's uri, ro-uri and pgpass log in with libpq", async () => {
      const { bed } = ctx;
      for (const svc of [ctx.router.writeService, ctx.router.readService]) {
        const r = await query<{ u: string }>(serviceConn(svc, ctx.app), 'SELECT current_user AS u');
        expect(r[0].u).toBe(ctx.app.user);
      }
      const app = appSecret(bed).data;
      for (const prefix of ['', 'ro-']) {
        const svc = serviceAt(bed, app[`${prefix}host`], app[`${prefix}port`]);
        expect(await libpqLogin(bed, app[`${prefix}uri`], svc.host)).toBe(`${ctx.app.user}|t`);
      }
      // pgpass: a file as an application mounts it (mode 0600), no password in the connection string
      const passfile = path.join(bed.runDir, 'app-pgpass');
      fs.writeFileSync(passfile, app.pgpass, { mode: 0o600 });
      const write = serviceAt(bed, app.host, app.port);
      expect(await libpqLogin(bed, `host=${app.host} port=${app.port} dbname=${app.dbname} user=${app.username} sslmode=require`, write.host, passfile)).toBe(`${ctx.app.user}|t`);
      // and without it, libpq has no password: refused (the login above really used the file)
      expect(await libpqLogin(bed, `host=${app.host} port=${app.port} dbname=${app.dbname} user=${app.username} sslmode=require`, write.host)).toMatch(/psql exit 2/);
    });

    test('superuser: logs in to every member over TLS; replication: every replica streams as the replication user', async () => {
      const { bed } = ctx;
      const creds = credentials(bed);
      for (const p of bed.pgPods) {
        const conn = { ...directConn(bed, p, 'postgres'), password: creds['superuser-password'] };
        const r = await query<{ u: string; ssl: boolean }>(conn, 'SELECT current_user AS u, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl');
        expect(r[0]).toEqual({ u: conn.user, ssl: true });
        expect(await tryQuery({ ...conn, password: `${creds['superuser-password']}x` }, 'SELECT 1', [], 3000)).toBeUndefined();
      }
      const leader = (await bed.patroni.leaderPod())!;
      const rows = await query<{ application_name: string; usename: string; state: string }>(
        { ...directConn(bed, leader, 'postgres'), password: creds['superuser-password'] },
        'SELECT application_name, usename, state FROM pg_stat_replication ORDER BY application_name');
      expect(rows.map((r) => r.application_name)).toEqual(bed.pgPods.filter((p) => p !== leader).map((p) => p.name).sort());
      const spilo = bed.pgPods[0];
      const replicationUser = bed.translator.containerEnv(spilo, spilo.containerOf('spilo').spec).PGUSER_STANDBY;
      expect(rows.every((r) => r.state === 'streaming' && r.usename === replicationUser)).toBe(true);
    });

    test("Patroni's REST API: POST /reload accepts the Secret's password and refuses a wrong one, on every member", async () => {
      const { bed } = ctx;
      const password = credentials(bed)['patroni-api-password'];
      for (const p of bed.pgPods) {
        expect(await patroniReload(bed, p, 'patroni', `${password}x`)).toBe(401);
        expect([200, 202]).toContain(await patroniReload(bed, p, 'patroni', password));
      }
    });

    test('monitor: every exporter logs in and reports pg_up 1', async () => {
      for (const p of ctx.bed.pgPods) {
        const { host, port } = exporterAddress(p.containerOf('exporter'));
        await waitFor(`${p.name} exporter pg_up 1`, async () => {
          const r = await httpRequest(host, port, '/metrics', { timeoutMs: 3000 }).catch(() => undefined);
          return r && /^pg_up 1$/m.test(r.body) ? true : undefined;
        }, { timeoutMs: 60000, intervalMs: 1000 });
      }
    });

    test("etcd: root and Patroni's user log in with the Secret's passwords, and a wrong one is refused", () => {
      const { bed } = ctx;
      const creds = credentials(bed);
      if (!('etcd-root-password' in creds)) throw new Error('these manifests have no etcd authentication (ETCD_AUTH)');
      const member = bed.etcdPods[0];
      const cert = bed.etcdClientCert();
      const ca = etcdCaFile(member);
      for (const [name, password] of [['root', creds['etcd-root-password']], ['patroni', creds['etcd-patroni-password']]]) {
        const ok = etcdCurl(member, '/v3/auth/authenticate', { name, password }, { ca, cert });
        expect(JSON.parse(ok.out).token).toBeTruthy();
        expect(etcdCurl(member, '/v3/auth/authenticate', { name, password: `${password}x` }, { ca, cert }).out).toMatch(/authentication failed/);
      }
    });

    test('pooler: the application logs in through PgBouncer (auth_query as the pooler role); its exporter reports pgbouncer_up 1', async () => {
      const { bed } = ctx;
      const app = appSecret(bed).data;
      if (!app['pooler-host']) throw new Error('these manifests have no pooler (POOLER=true)');
      const pooler = serviceAt(bed, app['pooler-host'], app['pooler-port']);
      const r = await query<{ u: string }>(serviceConn(pooler, ctx.app), 'SELECT current_user AS u');
      expect(r[0].u).toBe(ctx.app.user);
      expect(await libpqLogin(bed, app['pooler-uri'], pooler.host)).toMatch(new RegExp(`^${ctx.app.user}\\|`));
      for (const p of bed.podsRunning('pgbouncer-exporter')) {
        const { host, port } = exporterAddress(p.containerOf('pgbouncer-exporter'));
        await waitFor(`${p.name} pgbouncer_up 1`, async () => {
          const m = await httpRequest(host, port, '/metrics', { timeoutMs: 3000 }).catch(() => undefined);
          return m && /^pgbouncer_up 1$/m.test(m.body) ? true : undefined;
        }, { timeoutMs: 60000, intervalMs: 1000 });
      }
    });

    test('a new app-password: the init Job run again sets it and brings <scope>-app up to date; the old one is refused', async () => {
      const { bed } = ctx;
      const job = secretsJob(bed);
      const name = jobEnv(job, 'create-secret', 'SECRET_NAME');
      const secret = bed.store.get('Secret', bed.manifests.ns(job), name)!;
      const old = credentials(bed)['app-password'];
      const next = hardCredential();
      bed.store.put({ ...secret, data: { ...secret.data, 'app-password': Buffer.from(next).toString('base64') } });
      const run = await bed.jobs.run(initJobName(bed));
      expect(run.code).toBe(0);
      expect(run.output).toMatch(/Secret \S+ updated: changed fqdn-jdbc-uri, fqdn-uri, jdbc-uri, password, pgpass, .*uri/);
      const app = appSecret(bed).data;
      expect(app.password).toBe(next);
      ctx.app = { ...ctx.app, password: next };
      const write = serviceAt(bed, app.host, app.port);
      expect(await libpqLogin(bed, app.uri, write.host)).toBe(`${ctx.app.user}|t`);
      expect(await tryQuery(serviceConn(ctx.router.writeService, { ...ctx.app, password: old }), 'SELECT 1', [], 3000)).toBeUndefined();
    });
  });
}
