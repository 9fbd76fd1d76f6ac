/*
 * Every scenario on the configuration other than the defaults (e2e/lib/kubernetes/other-configuration.ts:
 * scope orders, namespace db, cluster domain corp.internal, 5 etcd members, 4 Postgres members,
 * 3 routers, other ports and timings, the PgBouncer pooler, etcd on TLS with authentication), on a
 * real Kubernetes whose kubelets and CoreDNS serve corp.internal, with the credentials a user writes
 * by hand: EXISTING_SECRET, created with kubectl before the first sync, every value holding every
 * printable character that breaks naive quoting. One bring-up for all of it:
 *   - the cluster domain: the names dist/ gives (corp.internal) resolve in the pods;
 *   - the Kubernetes API: the secrets Job acted with its own ServiceAccount (the API server's audit
 *     log), RBAC refuses what its Role does not allow, Spilo's callback labels the roles;
 *   - each credential proven by the program that uses it; a changed app-password taken by the init Job;
 *   - the pooler: auth_query, TLS both ways, the superuser refused;
 *   - the leader's pod deleted, the leader's whole node lost under writes through the pooler (0
 *     acknowledged writes lost, the pooler serving the new leader without a restart), and the role
 *     labels following;
 *   - the scenarios of kubernetes-scenarios.e2e.ts (scenario-suite.ts).
 * Its own bed: block offset 5.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import * as YAML from 'yaml';
import { log } from './lib/log';
import { PgConn, query, tryQuery } from './lib/pg';
import { httpRequest, waitFor } from './lib/poll';
import { bedBlock } from './lib/kubernetes/bed-options';
import { KubernetesCluster } from './lib/kubernetes/cluster';
import { KUBERNETES_VERSION } from './lib/kubernetes/components';
import { HARD, hardCredential, libpqLogin as rootLibpqLogin } from './lib/kubernetes/credentials';
import type { LivePod } from './lib/kubernetes/deployed-pg-ha';
import { deleteLeaderPod, FaultResult, loseLeaderNode } from './lib/kubernetes/faults';
import type { KubeObject } from './lib/kubernetes/kube-client';
import { etcdClientTls, etcdGateway, exporterMetrics } from './lib/kubernetes/observations';
import { OTHER_CONFIGURATION, synthesizeInto } from './lib/kubernetes/other-configuration';
import { kubernetesScenarios, ScenarioBed, scenarioBed } from './lib/kubernetes/scenario-suite';
import { serviceConn } from './lib/kubernetes/service-clients';

const VARIABLES: Record<string, string> = { ...OTHER_CONFIGURATION, EXISTING_SECRET: 'orders-own-credentials' };
const ROLE_LABEL = 'spilo-role';

const distDir = synthesizeInto(VARIABLES, 'the other configuration with an existing Secret');
const cluster = new KubernetesCluster({ block: bedBlock(5), nodes: 3, clusterDomain: VARIABLES.CLUSTER_DOMAIN });
const bed = scenarioBed(cluster, distDir, { beforeSync: createExistingSecret, afterDown: () => fs.rmSync(distDir, { recursive: true, force: true }) });
const deployed = bed.deployed;

type Env = Array<{ name: string; value?: string }>;

/** The secrets Job of dist/ (its create-secret container names the credentials Secret) and its settings. */
function secretsJob(): { job: KubeObject; serviceAccount: string; env: (name: string) => string } {
  const job = deployed.all('Job').find((j) => (j.spec.template.spec.containers as Array<{ env?: Env }>).some((c) => c.env?.some((e) => e.name === 'SECRET_SOURCE')));
  if (!job) throw new Error('dist/ has no secrets Job (SECRET_SOURCE)');
  const env = (job.spec.template.spec.containers as Array<{ env?: Env }>).flatMap((c) => c.env ?? []);
  return { job, serviceAccount: job.spec.template.spec.serviceAccountName, env: (name) => env.find((e) => e.name === name)?.value ?? '' };
}

/** What the user wrote into EXISTING_SECRET (decoded), kept to compare with what the programs accept. */
let written: Record<string, string> = {};

/** As a user does before the first apply: the namespace, then the Secret EXISTING_SECRET names, every key the secrets Job checks. */
async function createExistingSecret(b: ScenarioBed): Promise<void> {
  const s = secretsJob();
  if (s.env('SECRET_SOURCE') !== 'existing') throw new Error('these manifests generate their credentials (no EXISTING_SECRET)');
  written = Object.fromEntries(s.env('SECRET_KEYS').split(',').map((k) => [k, hardCredential()]));
  await b.cluster.api.run(['create', 'namespace', b.deployed.namespace]);
  const secret = { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: s.env('SECRET_NAME'), namespace: b.deployed.namespace }, data: Object.fromEntries(Object.entries(written).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
  await b.cluster.api.run(['create', '-f', '-'], JSON.stringify(secret));
  log(`created Secret ${b.deployed.namespace}/${secret.metadata.name} with ${Object.keys(written).length} hand-written keys`);
}

/** `<scope>-app`, decoded, as applications mount it. */
const appSecret = (): Promise<Record<string, string>> => deployed.secret(secretsJob().env('APP_SECRET_NAME'));

/** A Service of dist/ by the FQDN `<scope>-app` names: its cluster IP. */
async function serviceAt(fqdn: string, port: string): Promise<{ host: string; port: number }> {
  return { host: await deployed.serviceAddress(fqdn.split('.')[0]), port: Number(port) };
}

const libpqLogin = (conninfo: string, hostaddr: string, passfile?: string): Promise<string> => rootLibpqLogin(cluster.root, conninfo, hostaddr, passfile);

/** POST /reload (an unsafe endpoint: Patroni asks for its REST API credentials) on a member's pod IP. */
function patroniReload(pod: LivePod, user: string, password: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: pod.ip, port: deployed.patroniPort, path: '/reload', method: 'POST', agent: false, timeout: 5000, headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/* ---- the pooler ---- */

const poolerWorkload = (): KubeObject => deployed.one('Deployment', (d) => /pgbouncer/.test(d.spec.template.spec.containers[0].image), 'PgBouncer Deployment (POOLER=true)');

async function poolerService(): Promise<{ name: string; host: string; port: number }> {
  const labels = poolerWorkload().spec.template.metadata.labels as Record<string, string>;
  const svc = deployed.all('Service').find((s) => s.spec.selector && s.spec.clusterIP !== 'None' && Object.entries(s.spec.selector).every(([k, v]) => labels[k] === v));
  if (!svc) throw new Error('dist/ has no Service for the pooler');
  return { name: svc.metadata.name, host: await deployed.serviceAddress(svc.metadata.name), port: svc.spec.ports[0].port };
}

/** Each pooler pod's exporter sidecar: its /metrics on the pod IP. */
async function poolerExporterMetrics(): Promise<Array<{ pod: string; body: string }>> {
  const c = (poolerWorkload().spec.template.spec.containers as Array<{ image: string; ports?: Array<{ containerPort: number }> }>).find((x) => /pgbouncer-exporter/.test(x.image));
  if (!c?.ports?.[0]) throw new Error('the pooler pods have no pgbouncer-exporter sidecar with a port');
  return Promise.all((await deployed.pods(poolerWorkload())).map(async (p) => ({ pod: p.name, body: (await httpRequest(p.ip, c.ports![0].containerPort, '/metrics', { timeoutMs: 3000 }).catch((e: Error) => ({ body: e.message }))).body })));
}

/* ---- role labels ---- */

async function roleLabels(): Promise<Record<string, string | undefined>> {
  return Object.fromEntries((await deployed.pods(deployed.postgres)).map((p) => [p.name, p.labels[ROLE_LABEL]]));
}

/** Wait until Patroni's leader is labelled primary and every other member replica; returns the leader's name. */
async function labelsMatchRoles(): Promise<string> {
  return waitFor('spilo-role labels match the Patroni roles', async () => {
    const members = await deployed.members();
    const leader = members?.find((m) => m.role === 'leader')?.name;
    if (!leader || members!.length !== deployed.postgres.spec.replicas) return undefined;
    const labels = await roleLabels();
    return members!.every((m) => labels[m.name] === (m.name === leader ? 'primary' : 'replica')) ? leader : undefined;
  }, { timeoutMs: 90000, intervalMs: 500, describe: async () => `labels ${JSON.stringify(await roleLabels())}, Patroni ${JSON.stringify((await deployed.members())?.map((m) => [m.name, m.role]))}` });
}

let nodeLost: FaultResult | undefined;

describe(`the other configuration (${Object.entries(VARIABLES).map(([k, v]) => `${k}=${v}`).join(' ')}) on Kubernetes ${KUBERNETES_VERSION}`, () => {
  test(`the cluster serves ${VARIABLES.CLUSTER_DOMAIN}: the write Service's name in <scope>-app resolves to its cluster IP inside a Postgres pod`, async () => {
    const app = await appSecret();
    expect(app.host).toBe(`${bed.plan.write.name}.${deployed.namespace}.svc.${cluster.clusterDomain}`);
    const pod = (await deployed.pods(deployed.postgres))[0];
    const r = await cluster.api.kubectl(['exec', '-n', deployed.namespace, pod.name, '-c', deployed.postgres.spec.template.spec.containers[0].name, '--',
      'python3', '-c', 'import socket, sys; print(socket.gethostbyname(sys.argv[1]))', app.host], undefined, 30000);
    expect([r.code, r.stdout.trim()]).toEqual([0, bed.plan.write.host]);
  });

  describe('the Kubernetes API', () => {
    test("the secrets Job read the user's Secret and created <scope>-app with its own ServiceAccount (the API server's audit log)", async () => {
      const s = secretsJob();
      const user = `system:serviceaccount:${deployed.namespace}:${s.serviceAccount}`;
      const events = fs.readFileSync(cluster.controlPlane.auditLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { verb: string; user: { username: string }; objectRef?: { resource?: string; namespace?: string; name?: string }; responseStatus?: { code: number } })
        .filter((e) => e.user.username === user && e.objectRef?.resource === 'secrets' && e.objectRef.namespace === deployed.namespace);
      const calls = events.map((e) => `${e.verb} ${e.objectRef?.name ?? '(new)'} ${e.responseStatus?.code}`);
      log(`${user} on Secrets: ${[...new Set(calls)].join(', ')}`);
      expect(calls).toContain(`get ${s.env('SECRET_NAME')} 200`);
      expect(calls).toContain(`create ${s.env('APP_SECRET_NAME')} 201`);
      // and nobody else created <scope>-app
      const creators = fs.readFileSync(cluster.controlPlane.auditLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
        .filter((e) => e.verb === 'create' && e.objectRef?.name === s.env('APP_SECRET_NAME') && e.responseStatus?.code === 201).map((e) => e.user.username);
      expect(creators).toEqual([user]);
    });

    test("with the secrets Job's ServiceAccount token, a request its Role does not allow (list pods) gets 403 from the API server; the Secret its Role names answers 200", async () => {
      const s = secretsJob();
      const token = (await cluster.api.run(['create', 'token', s.serviceAccount, '-n', deployed.namespace, '--duration=10m'])).trim();
      const listed = await cluster.api.requestAs<{ kind: string; reason: string; message: string }>(token, 'GET', `/api/v1/namespaces/${deployed.namespace}/pods`);
      log(`secrets Job's token, GET pods: ${listed.status} ${listed.body?.message}`);
      expect(listed.status).toBe(403);
      expect(listed.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', message: expect.stringContaining(`User "system:serviceaccount:${deployed.namespace}:${s.serviceAccount}" cannot list resource "pods"`) });
      expect((await cluster.api.requestAs(token, 'GET', `/api/v1/namespaces/${deployed.namespace}/secrets/${s.env('SECRET_NAME')}`)).status).toBe(200);
    });

    test("Spilo's role callback labels each Postgres pod spilo-role through the API server: the leader primary, every other member replica", async () => {
      const leader = await labelsMatchRoles();
      expect((await roleLabels())[leader]).toBe('primary');
    });
  });

  describe('credentials with any printable characters (EXISTING_SECRET written by the user)', () => {
    test("the secrets Job accepted the Secret and created <scope>-app from it (basic-auth, the write Service's FQDN)", async () => {
      const creds = await deployed.secret(secretsJob().env('SECRET_NAME'));
      expect(creds).toEqual(written);
      expect(Object.values(creds).every((v) => v.includes(HARD))).toBe(true);
      const app = await appSecret();
      const s = await cluster.api.get(`/api/v1/namespaces/${deployed.namespace}/secrets/${secretsJob().env('APP_SECRET_NAME')}`);
      expect(s?.type).toBe('kubernetes.io/basic-auth');
      expect(app.password).toBe(creds['app-password']);
      expect([app.username, app.dbname]).toEqual([VARIABLES.POSTGRES_USER, VARIABLES.POSTGRES_DB]);
      expect(bed.app).toEqual({ user: VARIABLES.POSTGRES_USER, password: creds['app-password'], database: VARIABLES.POSTGRES_DB });
    });

    test("app: logs in through the write and read Services; <scope>-app's uri, ro-uri and pgpass log in with libpq", async () => {
      for (const svc of [bed.plan.write, bed.plan.read]) expect((await query<{ u: string }>(serviceConn(svc, bed.app), 'SELECT current_user AS u'))[0].u).toBe(bed.app.user);
      const app = await appSecret();
      for (const prefix of ['', 'ro-']) {
        const svc = await serviceAt(app[`${prefix}host`], app[`${prefix}port`]);
        expect([prefix, await libpqLogin(app[`${prefix}uri`], svc.host)]).toEqual([prefix, `${bed.app.user}|t`]);
      }
      // pgpass: a file as an application mounts it (mode 0600), no password in the connection string
      const dir = cluster.root.makeRunDir('pgha-e2e-pgpass-');
      try {
        const passfile = path.join(dir, 'pgpass');
        fs.writeFileSync(passfile, app.pgpass, { mode: 0o600 });
        const write = await serviceAt(app.host, app.port);
        const conninfo = `host=${app.host} port=${app.port} dbname=${app.dbname} user=${app.username} sslmode=require`;
        expect(await libpqLogin(conninfo, write.host, passfile)).toBe(`${bed.app.user}|t`);
        // and without it libpq has no password: refused (the login above really used the file)
        expect(await libpqLogin(conninfo, write.host)).toMatch(/psql exit 2/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('superuser: logs in to every member over TLS (a wrong password is refused); replication: every replica streams as the replication user', async () => {
      const pods = await deployed.pods(deployed.postgres);
      for (const p of pods) {
        const conn = await deployed.superuser(p);
        expect(conn.password).toBe(written['superuser-password']);
        const r = await query<{ u: string; ssl: boolean }>(conn, 'SELECT current_user AS u, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl');
        expect([p.name, r[0]]).toEqual([p.name, { u: conn.user, ssl: true }]);
        expect(await tryQuery({ ...conn, password: `${conn.password}x` }, 'SELECT 1', [], 3000)).toBeUndefined();
      }
      const { leader } = await bed.roles();
      const rows = await query<{ application_name: string; usename: string; state: string }>(await deployed.superuser(leader), 'SELECT application_name, usename, state FROM pg_stat_replication ORDER BY application_name');
      expect(rows.map((r) => r.application_name)).toEqual(pods.filter((p) => p.name !== leader.name).map((p) => p.name));
      const replicationUser = await deployed.postgresEnv('PGUSER_STANDBY');
      expect(await deployed.postgresEnv('PGPASSWORD_STANDBY')).toBe(written['replication-password']);
      expect(rows.every((r) => r.state === 'streaming' && r.usename === replicationUser)).toBe(true);
    });

    test("Patroni's REST API: POST /reload accepts the Secret's password and refuses a wrong one, on every member", async () => {
      const spilo = YAML.parse(await deployed.postgresEnv('SPILO_CONFIGURATION')) as { restapi: { authentication: { username: string } } };
      const user = spilo.restapi.authentication.username;
      const password = written['patroni-api-password'];
      for (const p of await deployed.pods(deployed.postgres)) {
        expect([p.name, await patroniReload(p, user, `${password}x`)]).toEqual([p.name, 401]);
        expect([p.name, [200, 202].includes(await patroniReload(p, user, password))]).toEqual([p.name, true]);
      }
    });

    test('monitor: every exporter logs in with the Secret\'s password and reports pg_up 1', async () => {
      const n = deployed.postgres.spec.replicas;
      await waitFor('pg_up 1 from every exporter', async () => {
        const r = await exporterMetrics(deployed);
        return r.length === n && r.every((m) => /^pg_up 1$/m.test(m.body));
      }, { timeoutMs: 60000, intervalMs: 1000 });
    });

    test("etcd: root and Patroni's user log in (the JSON gateway, with the clients' certificate) with the Secret's passwords; a wrong one is refused", async () => {
      const member = `${deployed.etcd.metadata.name}-0`;
      const tls = await etcdClientTls(deployed);
      const opts = { ca: tls.ca, cert: { cert: tls.cert, key: tls.key } };
      for (const [name, password] of [['root', written['etcd-root-password']], [await deployed.postgresEnv('ETCD3_USERNAME'), written['etcd-patroni-password']]]) {
        const ok = await etcdGateway(deployed, member, '/v3/auth/authenticate', { name, password }, opts);
        expect([name, ok.ok && ok.status, Boolean(JSON.parse(ok.ok ? ok.body : '{}').token)]).toEqual([name, 200, true]);
        const bad = await etcdGateway(deployed, member, '/v3/auth/authenticate', { name, password: `${password}x` }, opts);
        expect([name, bad.ok && bad.body]).toEqual([name, expect.stringMatching(/authentication failed/)]);
      }
    });

    test('a new app-password written into the Secret: the init Job run again sets it and brings <scope>-app up to date; the old one is refused', async () => {
      const s = secretsJob();
      const old = bed.app.password;
      const next = hardCredential();
      // as a user edits the Secret (kubectl edit: the object read, changed, replaced)
      const secret = await cluster.api.get(`/api/v1/namespaces/${deployed.namespace}/secrets/${s.env('SECRET_NAME')}`);
      secret!.data['app-password'] = Buffer.from(next).toString('base64');
      await cluster.api.run(['replace', '-f', '-'], JSON.stringify(secret));
      written['app-password'] = next;
      const init = deployed.one('Job', (j) => (j.spec.template.spec.containers as Array<{ env?: Env }>).concat(j.spec.template.spec.initContainers ?? []).some((c) => c.env?.some((e) => e.name === 'APP_SECRET_NAME')) && j !== s.job, 'init Job');
      const run = await deployed.runJobAgain(init, 'e2e-init-again');
      log(`init Job again: ${run.succeeded ? 'complete' : 'failed'}: ${run.output.trim().split('\n').filter((l) => !/password/i.test(l) || /changed/.test(l)).slice(-3).join(' | ')}`);
      expect(run.succeeded).toBe(true);
      expect(run.output).toMatch(/Secret \S+ updated: changed .*password.*pgpass.*uri/);
      const app = await appSecret();
      expect(app.password).toBe(next);
      bed.app = { ...bed.app, password: next };
      expect(await libpqLogin(app.uri, (await serviceAt(app.host, app.port)).host)).toBe(`${bed.app.user}|t`);
      expect(await tryQuery(serviceConn(bed.plan.write, { ...bed.app, password: old }), 'SELECT 1', [], 3000)).toBeUndefined();
    }, 300000);
  });

  describe('the pooler (PgBouncer)', () => {
    test("the application logs in through PgBouncer with the new password (auth_query, no restart), over TLS both ways; <scope>-app's pooler-uri logs in with libpq; plain text and the superuser are refused; the exporter reports pgbouncer_up 1", async () => {
      const svc = await poolerService();
      const conn = serviceConn(svc, bed.app);
      const r = await query<{ u: string; ssl: boolean }>(conn, 'SELECT current_user AS u, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl');
      // ssl here is the PgBouncer -> router -> PostgreSQL leg; the client leg: plain text is refused
      expect(r[0]).toEqual({ u: bed.app.user, ssl: true });
      expect(await tryQuery({ ...conn, sslmode: 'disable' }, 'SELECT 1', [], 5000)).toBeUndefined();
      const su = await deployed.superuser((await bed.roles()).leader);
      expect(await tryQuery({ ...conn, user: su.user, password: su.password }, 'SELECT 1', [], 5000)).toBeUndefined();
      // the password changed after the pooler started: PgBouncer asked PostgreSQL (auth_query), it was not restarted
      const pods = await deployed.pods(poolerWorkload());
      expect(pods.every((p) => Object.values(p.restarts).every((n) => n === 0))).toBe(true);
      const app = await appSecret();
      expect(await libpqLogin(app['pooler-uri'], (await serviceAt(app['pooler-host'], app['pooler-port'])).host)).toMatch(new RegExp(`^${bed.app.user}\\|`));
      await waitFor('pgbouncer_up 1 from every pooler pod', async () => {
        const m = await poolerExporterMetrics();
        return m.length === poolerWorkload().spec.replicas && m.every((x) => /^pgbouncer_up 1$/m.test(x.body));
      }, { timeoutMs: 60000, intervalMs: 1000 });
    });
  });

  describe('failovers', () => {
    test("the leader's pod deleted: Patroni hands over on SIGTERM, the StatefulSet recreates the pod, no acknowledged write lost", async () => {
      const r = await deleteLeaderPod(cluster, deployed, bed.writeConn());
      expect(r.newLeader).not.toBe(r.oldLeader);
      expect(r.acknowledged).toBeGreaterThan(0);
      expect(r.lost).toBe(0);
    }, 600000);

    test("the leader's whole node lost, writes through the pooler: a replica takes over, no acknowledged write lost; the pooler serves the new leader without a restart; the member comes back with its node", async () => {
      const svc = await poolerService();
      const conn: PgConn = serviceConn(svc, bed.app);
      const leader = await deployed.leader();
      const before = await deployed.pods(poolerWorkload());
      const r = await loseLeaderNode(cluster, deployed, conn);
      nodeLost = r;
      expect(r.newLeader).not.toBe(r.oldLeader);
      expect(r.acknowledged).toBeGreaterThan(0);
      expect(r.lost).toBe(0);
      expect(r.strandedPod).toMatchObject({ name: r.oldLeader, ready: false });
      // the pooler pods the lost node did not take are the same processes as before
      const after = await deployed.pods(poolerWorkload());
      const kept = before.filter((p) => p.node !== leader.node);
      log(`pooler pods: ${before.map((p) => `${p.name} on ${p.node}`).join(', ')}; the lost node: ${leader.node}`);
      expect(kept.length).toBeGreaterThan(0);
      for (const p of kept) expect(after.find((x) => x.name === p.name)).toMatchObject({ uid: p.uid, restarts: p.restarts });
      const w = await query<{ ip: string; ro: boolean }>(conn, 'SELECT host(inet_server_addr()) AS ip, pg_is_in_recovery() AS ro', [], 10000);
      expect(w[0]).toEqual({ ip: (await deployed.leader()).ip, ro: false });
    }, 900000);

    test('after the failovers the spilo-role labels follow the leader: the new one primary, exactly one primary', async () => {
      const leader = await labelsMatchRoles();
      const labels = await roleLabels();
      log(`spilo-role labels after the failovers: ${JSON.stringify(labels)}`);
      expect(labels[leader]).toBe('primary');
      expect(Object.values(labels).filter((v) => v === 'primary')).toHaveLength(1);
      if (nodeLost) expect(leader).not.toBe(nodeLost.oldLeader);
    });
  });

  // the scenarios after the failovers: after an etcd quorum loss, a graceful handover of this cluster took a full ttl or more (see docs/contributing/kubernetes-bed.md)
  kubernetesScenarios(bed);
});
