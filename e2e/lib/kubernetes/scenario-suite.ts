/*
 * The scenarios (routing, one replica down, etcd member down, etcd quorum loss, etcd security,
 * monitoring) on a real Kubernetes bed: a dist/ synced with kubectl in
 * Argo CD's order on three real nodes (e2e/lib/kubernetes/), and each failure made the way it
 * happens there: a container's PID 1 killed and restarted by its kubelet, pods kept down by
 * cordoning their nodes and deleting them (their local volumes pin them to those nodes). Each test
 * reads ports, member counts and timings from
 * the dist/ under test and the live cluster, so one suite serves every configuration:
 * e2e/kubernetes-scenarios.e2e.ts (the committed dist/) and e2e/kubernetes-other-configuration.e2e.ts.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { log } from '../log';
import { PgConn, query } from '../pg';
import { httpRequest, sleep, waitFor } from '../poll';
import type { KubernetesCluster } from './cluster';
import { upAndSynced } from './synced-bed';
import { DeployedPgHa, LivePod } from './deployed-pg-ha';
import { FAULT_TABLE, holdDown, killContainer, lostWrites, startWrites, stopWrites } from './faults';
import {
  declaredNames, etcdClientTls, etcdContainerName, etcdctl, etcdctlErrors, etcdGateway, etcdHealth, etcdLeader, etcdMemberClient, etcdPlainEndpoints,
  exporterMetrics, LiveRouterPlan, memberWritable, metricsSources, patroniConfig, patroniEtcdPrefix, patroniEtcdUser, routerService,
  routerServerStates, sampleServers,
} from './observations';
import { ReadLoad, serviceConn } from './service-clients';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures');
const b64 = (x: string): string => Buffer.from(x).toString('base64');

/** A client certificate of another CA (self-signed, client auth), made with openssl in a temporary directory. */
function foreignClientCert(): { cert: string; key: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-foreign-etcd-client-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/O=intruder', '-addext', 'extendedKeyUsage=clientAuth', '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')], { stdio: 'ignore' });
    return { cert: fs.readFileSync(path.join(dir, 'tls.crt'), 'utf8'), key: fs.readFileSync(path.join(dir, 'tls.key'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface AppLogin {
  user: string;
  password: string;
  database: string;
}

/** One bed for a suite file: the cluster, the dist/ deployed on it, and what the scenarios read once it is up. */
export class ScenarioBed {
  /** the application's login, from the `<SCOPE>-app` Secret (a test that changes the password updates it) */
  app!: AppLogin;
  /** the router's write and read ports (haproxy.cfg) and the Services that expose them */
  plan!: LiveRouterPlan;

  constructor(readonly cluster: KubernetesCluster, readonly deployed: DeployedPgHa) {}

  writeConn(): PgConn {
    return serviceConn(this.plan.write, this.app);
  }

  readConn(): PgConn {
    return serviceConn(this.plan.read, this.app);
  }

  /** Patroni's roles once the cluster is healthy, as the pods they run in */
  async roles(): Promise<{ leader: LivePod; replicas: LivePod[]; syncStandby?: string }> {
    const members = await this.deployed.waitHealthy(240000);
    log(`Patroni: ${members.map((m) => `${m.name} ${m.role} ${m.state}`).join(', ')}`);
    const pods = await this.deployed.pods(this.deployed.postgres);
    const leaderName = members.find((m) => m.role === 'leader')!.name;
    return {
      leader: pods.find((p) => p.name === leaderName)!,
      replicas: pods.filter((p) => p.name !== leaderName),
      syncStandby: members.find((m) => /sync_standby/.test(m.role))?.name,
    };
  }

  async etcdFullyHealthy(): Promise<void> {
    await waitFor('every etcd member healthy', async () => (await etcdHealth(this.deployed)).every((h) => h.healthy), { timeoutMs: 120000, intervalMs: 500, describe: async () => JSON.stringify(await etcdHealth(this.deployed)) });
  }
}

/**
 * A bed for the suite file that calls it (jest's beforeAll / afterAll): the cluster up, `beforeSync`
 * (what a user creates before the first apply), the dist/ synced like Argo CD, Patroni healthy, the
 * application's login and the router's plan read, the write Service taking writes.
 */
export function scenarioBed(cluster: KubernetesCluster, distDir: string, opts: { beforeSync?: (bed: ScenarioBed) => Promise<void>; afterDown?: () => void } = {}): ScenarioBed {
  const bed = new ScenarioBed(cluster, new DeployedPgHa(cluster, distDir));
  beforeAll(async () => {
    ({ app: bed.app, plan: bed.plan } = await upAndSynced(cluster, bed.deployed, () => opts.beforeSync?.(bed) ?? Promise.resolve()));
  }, 900000);
  afterAll(async () => {
    await cluster.down();
    opts.afterDown?.();
  }, 120000);
  return bed;
}

/** The scenarios, in order, each leaving the cluster healthy for the next. */
export function kubernetesScenarios(bed: ScenarioBed): void {
  describe('monitoring', () => {
    test("every member's exporter sidecar answers /metrics on its pod IP with pg_up 1", async () => {
      const wanted = bed.deployed.postgres.spec.replicas ?? 1;
      const scraped = await waitFor('pg_up 1 from every exporter', async () => {
        const r = await exporterMetrics(bed.deployed);
        return r.length === wanted && r.every((m) => m.status === 200 && /^pg_up 1$/m.test(m.body)) ? r : undefined;
      }, { timeoutMs: 60000, intervalMs: 1000, describe: async () => (await exporterMetrics(bed.deployed)).map((m) => `${m.pod}: ${m.status} ${/^pg_up .*$/m.exec(m.body)?.[0] ?? m.body.slice(0, 80)}`).join('; ') });
      expect(scraped.map((m) => m.pod)).toEqual((await bed.deployed.pods(bed.deployed.postgres)).map((p) => p.name));
      for (const m of scraped) expect(m.body).toMatch(/^pg_up 1$/m);
    });

    test("every router's stats page and metrics answer on its pod IP, and the metrics through the router's Service", async () => {
      expect(bed.plan.stats).toBeDefined();
      expect(bed.plan.metrics).toBeDefined();
      const routers = await bed.deployed.pods(bed.deployed.router);
      expect(routers.length).toBe(bed.deployed.router.spec.replicas ?? 1);
      for (const p of routers) {
        expect([p.name, (await httpRequest(p.ip, bed.plan.stats!.port, bed.plan.stats!.uri, { timeoutMs: 3000 })).status]).toEqual([p.name, 200]);
        const m = await httpRequest(p.ip, bed.plan.metrics!.port, bed.plan.metrics!.path, { timeoutMs: 3000 });
        expect([p.name, m.status]).toEqual([p.name, 200]);
        expect(m.body).toMatch(/^haproxy_backend_status\{/m);
      }
      const svc = await routerService(bed.deployed, bed.plan.metrics!.port);
      const m = await httpRequest(svc.host, svc.port, bed.plan.metrics!.path, { timeoutMs: 3000 });
      expect([svc.name, m.status]).toEqual([svc.name, 200]);
    });

    test("every metric name the alerts and the dashboard use, said to be observed, is in the real programs' /metrics", async () => {
      const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'metric-names.json'), 'utf8')) as { metrics: Record<string, { program: string; checked: string[] }> };
      const missing: string[] = [];
      for (const source of await metricsSources(bed.deployed, bed.plan)) {
        expect([source.program, source.endpoints.length > 0]).toEqual([source.program, true]);
        const names = new Set<string>();
        for (const e of source.endpoints) {
          const r = await httpRequest(e.host, e.port, e.path, { timeoutMs: 5000 });
          expect([e.pod, source.program, r.status]).toEqual([e.pod, source.program, 200]);
          declaredNames(r.body).forEach((n) => names.add(n));
        }
        const used = Object.entries(fixture.metrics).filter(([, m]) => m.program === source.program);
        expect([source.program, used.length > 0]).toEqual([source.program, true]);
        for (const [name, m] of used) {
          const observed = m.checked.some((c) => c.startsWith('observed:'));
          if (observed && !names.has(name)) missing.push(`${source.program}: ${name}`);
          if (!observed) log(`${name}: source only in metric-names.json; ${source.program} here ${names.has(name) ? 'emits it' : 'does not emit it'}`);
        }
        log(`${source.program}: ${names.size} metric names from ${source.endpoints.length} pods; ${used.length} used by the alerts and dashboard`);
      }
      expect(missing).toEqual([]);
    });
  });

  describe('etcd TLS, client certificates and authentication (etcdctl inside an etcd pod)', () => {
    test("with etcd's CA and Patroni's password but without a client certificate etcd refuses at the TLS handshake; the same command with a certificate of etcd's CA works", async () => {
      const member = `${bed.deployed.etcd.metadata.name}-0`;
      const m = etcdMemberClient(bed.deployed, member);
      const user = await patroniEtcdUser(bed.deployed);
      const prefix = patroniEtcdPrefix(bed.deployed);
      const args = [`--endpoints=${m.url}`, `--cacert=${m.ca}`, `--user=${user.name}:${user.password}`, 'get', `${prefix}leader`, '--print-value-only'];
      const without = await etcdctl(bed.deployed, member, args);
      log(`etcdctl without a client certificate: exit ${without.code}: ${[...new Set(etcdctlErrors(without.stderr))].join(' | ')}`);
      expect(without.code).not.toBe(0);
      expect(without.stdout.trim()).toBe('');
      // TLS 1.3: the server checks the client's certificate after the client has finished its side of
      // the handshake, so etcdctl sees either etcd's alert or only the closed connection on its first write
      expect(etcdctlErrors(without.stderr).join('\n')).toMatch(/certificate required|bad certificate|broken pipe|connection reset by peer/);
      // etcd's own log says why: no certificate
      const logs = await bed.cluster.api.run(['logs', '-n', bed.deployed.namespace, member, '-c', etcdContainerName(bed.deployed), '--since=2m']);
      expect(logs).toMatch(/rejected connection on client endpoint.*client didn't provide a certificate/);
      const withCert = await etcdctl(bed.deployed, member, [`--cert=${m.cert}`, `--key=${m.key}`, ...args]);
      expect(withCert.stderr).toBe('');
      expect(withCert.code).toBe(0);
      expect(withCert.stdout.trim()).toBe((await bed.roles()).leader.name);
    });

    test("Patroni's user reads its prefix (the leader key) and can touch nothing outside it; a wrong password is refused", async () => {
      const member = `${bed.deployed.etcd.metadata.name}-0`;
      const m = etcdMemberClient(bed.deployed, member);
      const user = await patroniEtcdUser(bed.deployed);
      const prefix = patroniEtcdPrefix(bed.deployed);
      const tls = [`--endpoints=${m.url}`, `--cacert=${m.ca}`, `--cert=${m.cert}`, `--key=${m.key}`];
      const as = (password: string) => [...tls, `--user=${user.name}:${password}`];
      const inside = await etcdctl(bed.deployed, member, [...as(user.password), 'get', '--prefix', prefix, '--keys-only']);
      expect(inside.code).toBe(0);
      const keys = inside.stdout.split('\n').filter(Boolean);
      expect(keys).toContain(`${prefix}leader`);
      expect(keys.every((k) => k.startsWith(prefix))).toBe(true);
      const writeInside = await etcdctl(bed.deployed, member, [...as(user.password), 'put', `${prefix}e2e-probe`, 'x']);
      expect(writeInside.code).toBe(0);
      await etcdctl(bed.deployed, member, [...as(user.password), 'del', `${prefix}e2e-probe`]);
      const outside = [
        ['put', '/service/another-cluster/leader', 'intruder'],
        ['get', '/service/another-cluster/leader'],
        ['get', '--prefix', '/'],
        ['del', '--prefix', '/'],
      ];
      for (const a of outside) {
        const r = await etcdctl(bed.deployed, member, [...as(user.password), ...a]);
        expect([a.join(' '), r.stderr]).toEqual([a.join(' '), expect.stringMatching(/permission denied/)]);
        expect([a.join(' '), r.code]).not.toEqual([a.join(' '), 0]);
      }
      const wrong = await etcdctl(bed.deployed, member, [...as(`${user.password}-wrong`), 'get', `${prefix}leader`]);
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toMatch(/authentication failed/);
    });

    test("from outside the pod, on a member's client port: plain http, no CA, no client certificate, another CA's certificate and no credentials are all refused; the clients' certificate (the PostgreSQL pods' Secret) with Patroni's password logs in", async () => {
      const member = `${bed.deployed.etcd.metadata.name}-0`;
      const tls = await etcdClientTls(bed.deployed);
      const client = { cert: tls.cert, key: tls.key };
      const range = { key: b64('/'), range_end: b64('\0') };
      const user = await patroniEtcdUser(bed.deployed);
      const plain = await etcdGateway(bed.deployed, member, '/v3/kv/range', range, { scheme: 'http' });
      expect(plain.ok && plain.status === 200).toBe(false);
      expect(plain.ok ? plain.body : plain.error).not.toContain('"kvs"');
      const noCa = await etcdGateway(bed.deployed, member, '/v3/kv/range', range, { cert: client });
      expect(noCa.ok ? noCa.body : noCa.error).toMatch(/certificate|self.signed|UNABLE_TO_VERIFY/i);
      expect(noCa.ok).toBe(false);
      // TLS alerts from etcd: 116 certificate required, 48 unknown CA (42 bad certificate before TLS 1.3)
      const noCert = await etcdGateway(bed.deployed, member, '/v3/auth/authenticate', user, { ca: tls.ca });
      expect(noCert.ok).toBe(false);
      expect(noCert.ok || noCert.error).toMatch(/certificate required|CERTIFICATE_REQUIRED|bad certificate/i);
      const foreign = await etcdGateway(bed.deployed, member, '/v3/auth/authenticate', user, { ca: tls.ca, cert: foreignClientCert() });
      expect(foreign.ok).toBe(false);
      expect(foreign.ok || foreign.error).toMatch(/unknown ca|UNKNOWN_CA|bad certificate/i);
      log(`etcd gateway refusals: plain http ${plain.ok ? `${plain.status} ${plain.body.trim().slice(0, 60)}` : plain.error}; no CA: ${noCa.ok ? noCa.status : noCa.error}; no client certificate: ${noCert.ok ? noCert.status : noCert.error}; another CA's: ${foreign.ok ? foreign.status : foreign.error}`);
      const anonymous = await etcdGateway(bed.deployed, member, '/v3/kv/range', range, { ca: tls.ca, cert: client });
      expect(anonymous.ok).toBe(true);
      expect(anonymous.ok && anonymous.body).toMatch(/user name is empty|permission denied/);
      expect(anonymous.ok && anonymous.body).not.toContain('"kvs"');
      const login = await etcdGateway(bed.deployed, member, '/v3/auth/authenticate', user, { ca: tls.ca, cert: client });
      expect(login.ok && login.status).toBe(200);
      const token = JSON.parse(login.ok ? login.body : '{}').token as string;
      expect(token).toBeTruthy();
      const leaderKey = await etcdGateway(bed.deployed, member, '/v3/kv/range', { key: b64(`${patroniEtcdPrefix(bed.deployed)}leader`) }, { ca: tls.ca, cert: client, token });
      const kvs = JSON.parse(leaderKey.ok ? leaderKey.body : '{}').kvs as Array<{ value: string }>;
      expect(kvs?.map((kv) => Buffer.from(kv.value, 'base64').toString())).toEqual([(await bed.roles()).leader.name]);
    });

    test('the etcd access Job run again changes nothing; with a root password etcd does not have, it fails naming the Secret key', async () => {
      const job = bed.deployed.all('Job').find((j) => (j.spec.template.spec.containers as Array<{ env?: Array<{ name: string }> }>).some((c) => c.env?.some((e) => e.name === 'ETCD_PATRONI_PREFIX')));
      expect(job).toBeDefined();
      const again = await bed.deployed.runJobAgain(job!, 'e2e-etcd-access-again');
      log(`etcd access Job again: ${again.succeeded ? 'complete' : 'failed'}: ${again.output.trim().split('\n').slice(-2).join(' | ')}`);
      expect(again.succeeded).toBe(true);
      expect(again.output).toMatch(/etcd access: nothing to change; authentication on/);
      // GIVEN the Secret's root password replaced by another one (as a hand-edited Secret would)
      const wrong = await bed.deployed.runJobAgain(job!, 'e2e-etcd-access-wrong-root', (copy) => {
        const env = copy.spec.template.spec.containers[0].env as Array<{ name: string; value?: string; valueFrom?: unknown }>;
        const i = env.findIndex((e) => e.name === 'ETCD_ROOT_PASSWORD');
        env[i] = { name: 'ETCD_ROOT_PASSWORD', value: `${Date.now().toString(16)}-not-the-root-password` };
      });
      log(`etcd access Job with a wrong root password: ${wrong.succeeded ? 'complete' : 'failed'}: ${wrong.output.trim().split('\n').slice(-2).join(' | ')}`);
      expect(wrong.succeeded).toBe(false);
      expect(wrong.output).toMatch(/etcd refused the root user's password .*the credentials Secret's key etcd-root-password/);
    }, 400000);

    test('health, readiness and metrics answer on the plain listener of every member, without TLS or credentials', async () => {
      const endpoints = await etcdPlainEndpoints(bed.deployed);
      expect(endpoints).toHaveLength(bed.deployed.etcd.spec.replicas ?? 1);
      for (const e of endpoints) {
        expect([e.pod, JSON.parse((await httpRequest(e.host, e.port, '/health', { timeoutMs: 2000 })).body).health]).toEqual([e.pod, 'true']);
        for (const p of ['/readyz', '/livez']) expect([e.pod, p, (await httpRequest(e.host, e.port, p, { timeoutMs: 2000 })).body]).toEqual([e.pod, p, expect.stringMatching(/^ok/)]);
        expect((await httpRequest(e.host, e.port, '/metrics', { timeoutMs: 2000 })).body).toMatch(/^etcd_server_has_leader 1$/m);
      }
    });
  });

  describe('routing', () => {
    test('writes through the write Service reach the leader only', async () => {
      const { leader } = await bed.roles();
      const routers = (await bed.deployed.pods(bed.deployed.router)).length;
      const seen = await sampleServers(bed.writeConn(), 4 * routers + 4);
      expect(seen.every((s) => s.r === false)).toBe(true);
      expect(new Set(seen.map((s) => s.ip))).toEqual(new Set([leader.ip]));
    });

    test('reads through the read Service reach only replicas, and spread over every one of them', async () => {
      const { replicas } = await bed.roles();
      const routers = (await bed.deployed.pods(bed.deployed.router)).length;
      const ips = new Set(replicas.map((p) => p.ip));
      const max = 4 * ips.size * routers + 8;
      const seen = await sampleServers(bed.readConn(), max, (s) => s.length >= 8 && new Set(s.map((x) => x.ip)).size === ips.size);
      log(`reads: ${seen.length} connections, ${[...ips].map((ip) => `${ip} ${seen.filter((s) => s.ip === ip).length}`).join(', ')}`);
      expect(seen.every((s) => s.r === true)).toBe(true);
      expect(new Set(seen.map((s) => s.ip))).toEqual(ips);
    });

    test("with every replica held down (nodes cordoned, pods deleted, left Pending), reads are answered by the leader exactly when haproxy.cfg has a fallback; writes go on", async () => {
      const { leader, replicas } = await bed.roles();
      const routers = (await bed.deployed.pods(bed.deployed.router)).length;
      const held = await holdDown(bed.cluster, bed.deployed, bed.deployed.postgres, replicas.map((p) => p.name));
      try {
        // every router checks the members on its own: wait until a round over all of them answers
        const answers = await waitFor('reads answered through every router with every replica down', async () => {
          try {
            const round = [];
            for (let i = 0; i < 2 * routers; i++) round.push(await sampleServers(bed.readConn(), 1).then((a) => a[0]));
            return round;
          } catch {
            return undefined;
          }
        }, { timeoutMs: 30000, intervalMs: 200 }).catch(() => undefined);
        if (bed.plan.readFallsBackToLeader) {
          expect(answers).toBeDefined();
          expect(new Set(answers!.map((a) => JSON.stringify(a)))).toEqual(new Set([JSON.stringify({ ip: leader.ip, r: false })]));
        } else {
          expect(answers).toBeUndefined();
        }
        const w = await query<{ ip: string }>(bed.writeConn(), `INSERT INTO ${FAULT_TABLE} (id) VALUES (-1) ON CONFLICT (id) DO UPDATE SET at = now() RETURNING host(inet_server_addr()) AS ip`, [], 30000);
        expect(w[0].ip).toBe(leader.ip);
      } finally {
        await held.release();
      }
      await bed.deployed.waitHealthy(240000);
    }, 400000);
  });

  describe('one replica down', () => {
    test("a replica's postgres container killed (SIGTERM to PID 1, the kubelet restarts it; the synchronous standby when there is one): once HAProxy marks it down every read is answered by the members left; writes go on; the member comes back streaming", async () => {
      // in synchronous mode the leader's commits wait on its synchronous standby: that is the replica to lose
      const cfg = await patroniConfig(bed.deployed, (await bed.roles()).leader);
      if (cfg.synchronous_mode && cfg.synchronous_mode !== 'off') {
        await waitFor('Patroni has picked a synchronous standby', async () => (await bed.deployed.members())?.some((m) => m.role === 'sync_standby'), { timeoutMs: 60000, intervalMs: 500 });
      }
      const { leader, replicas, syncStandby } = await bed.roles();
      expect(replicas.length).toBeGreaterThan(0);
      const victim = replicas.find((p) => p.name === syncStandby) ?? replicas[replicas.length - 1];
      const rest = replicas.filter((p) => p !== victim);
      const expected = new Set((rest.length ? rest : bed.plan.readFallsBackToLeader ? [leader] : []).map((p) => p.ip));
      const container = bed.deployed.postgres.spec.template.spec.containers[0].name;
      // a read that takes long on a loaded machine is not a read of the member down: only a failed or misrouted one counts
      const reads = new ReadLoad(bed.readConn(), 50, 180000, 10000);
      const writes = startWrites(bed.writeConn(), 180000);
      const polls: Array<{ at: number; allDown: boolean }> = [];
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const states = await routerServerStates(bed.deployed, bed.plan, bed.plan.readProxy).catch(() => []);
          polls.push({ at: Date.now(), allDown: states.length > 0 && states.every((s) => /DOWN|MAINT/.test(s.servers[victim.name] ?? 'DOWN')) });
          await sleep(100);
        }
      })();
      reads.start();
      await sleep(1000);
      let t0 = 0;
      try {
        const k = await killContainer(bed.cluster, bed.deployed, bed.deployed.postgres, victim, container);
        t0 = k.t0;
        await bed.deployed.waitHealthy(240000);
        await waitFor(`every router sees ${victim.name} up again`, async () => (await routerServerStates(bed.deployed, bed.plan, bed.plan.readProxy)).every((s) => s.servers[victim.name] === 'UP'), { timeoutMs: 60000, intervalMs: 200 });
        await sleep(1000);
      } finally {
        polling = false;
        await poller;
        await reads.stop();
        await stopWrites(writes);
      }
      // the window in which every router had the victim down
      const firstDown = polls.findIndex((p) => p.at > t0 && p.allDown);
      expect(firstDown).toBeGreaterThanOrEqual(0);
      let lastDown = firstDown;
      while (polls[lastDown + 1]?.allDown) lastDown++;
      const [from, to] = [polls[firstDown].at, polls[lastDown].at];
      const inWindow = reads.between(from, to);
      const failed = reads.between(t0, to).filter((s) => !s.ok);
      log(`one replica down (${victim.name}${victim.name === syncStandby ? ', the synchronous standby' : ''}): every router marked it down ${((from - t0) / 1000).toFixed(2)} s after the kill, for ${((to - from) / 1000).toFixed(2)} s; `
        + `${inWindow.length} reads meanwhile, answered by ${[...new Set(inWindow.map((s) => s.server))].join(', ')}; ${failed.length} failed reads after the kill: ${[...new Set(failed.map((s) => s.err))].slice(0, 3).join(' | ')}`);
      if (!expected.size) {
        log(`${victim.name} was the only replica and the read port has no fallback: reads fail, as configured`);
      } else {
        expect(inWindow.length).toBeGreaterThan(0);
        expect(inWindow.every((s) => s.ok && expected.has(s.server!))).toBe(true);
        if (rest.length) expect(inWindow.every((s) => s.recovery === true)).toBe(true);
      }
      // writes: the leader kept them; after the kill they were acknowledged; none lost
      const acksAfter = writes.acks.filter((a) => a.ackAt > t0);
      const gaps = acksAfter.map((a, i) => a.ackAt - (i ? acksAfter[i - 1].ackAt : t0));
      log(`writes during the replica's restart: ${acksAfter.length} acknowledged, longest wait ${(Math.max(0, ...gaps) / 1000).toFixed(2)} s, ${writes.errors.filter((e) => e.at > t0).length} errors`);
      expect(acksAfter.length).toBeGreaterThan(0);
      expect(new Set(acksAfter.map((a) => a.server))).toEqual(new Set([leader.ip]));
      expect(await lostWrites(bed.writeConn(), writes)).toBe(0);
      // the same pod (the kubelet restarted the container), streaming again
      const back = (await bed.deployed.pods(bed.deployed.postgres)).find((p) => p.name === victim.name)!;
      expect(back.uid).toBe(victim.uid);
      expect(back.restarts[container]).toBeGreaterThan(victim.restarts[container] ?? 0);
      const members = await bed.deployed.waitHealthy();
      expect(members.find((m) => m.name === victim.name)?.state).toBe('streaming');
      expect(members.find((m) => m.role === 'leader')?.name).toBe(leader.name);
    }, 400000);
  });

  describe('etcd', () => {
    test("one etcd member down (the raft leader; its node cordoned, its pod deleted and left Pending) for longer than Patroni's ttl: the leader stays, no write fails", async () => {
      const { leader } = await bed.roles();
      await bed.etcdFullyHealthy();
      const timing = await patroniConfig(bed.deployed, leader);
      const victim = (await etcdLeader(bed.deployed)) ?? (await bed.deployed.pods(bed.deployed.etcd))[0];
      const writes = startWrites(bed.writeConn(), 180000);
      await sleep(500);
      const errorsBefore = writes.errors.length;
      const held = await holdDown(bed.cluster, bed.deployed, bed.deployed.etcd, [victim.name]);
      try {
        const end = Date.now() + (timing.ttl + timing.loop_wait) * 1000;
        const leaders = new Set<string>();
        while (Date.now() < end) {
          const l = (await bed.deployed.members())?.find((m) => m.role === 'leader');
          if (l) leaders.add(l.name);
          await sleep(500);
        }
        const health = await etcdHealth(bed.deployed);
        log(`etcd member ${victim.name} (raft leader) down ${timing.ttl + timing.loop_wait} s: etcd ${health.map((h) => `${h.name} ${h.healthy ? 'healthy' : 'down'}`).join(', ')}; Patroni leaders seen: ${[...leaders].join(', ')}; ${writes.acks.length} writes acknowledged`);
        expect(health.filter((h) => h.healthy).map((h) => h.name)).toEqual(health.map((h) => h.name).filter((n) => n !== victim.name));
        expect([...leaders]).toEqual([leader.name]);
        expect(writes.errors.slice(errorsBefore).map((e) => e.message)).toEqual([]);
        expect(writes.acks.length).toBeGreaterThan(0);
        const members = await bed.deployed.members();
        expect(members?.filter((m) => m.role === 'leader').map((m) => m.name)).toEqual([leader.name]);
      } finally {
        await stopWrites(writes);
        await held.release();
      }
      expect(await lostWrites(bed.writeConn(), writes)).toBe(0);
      await bed.etcdFullyHealthy();
    }, 400000);

    test('etcd quorum lost (a majority of members held down): never two writable primaries; failsafe_mode decides whether the leader stays writable; then etcd and Patroni recover', async () => {
      const { leader } = await bed.roles();
      await bed.etcdFullyHealthy();
      const timing = await patroniConfig(bed.deployed, leader);
      const failsafe = Boolean(timing.failsafe_mode);
      const etcdPods = await bed.deployed.pods(bed.deployed.etcd);
      const stopped = etcdPods.slice(0, etcdPods.length - Math.floor(etcdPods.length / 2)).map((p) => p.name); // a minority keeps running
      const writes = startWrites(bed.writeConn(), 240000);
      await sleep(500);
      const tLoss = Date.now();
      const held = await holdDown(bed.cluster, bed.deployed, bed.deployed.etcd, stopped, 1);
      log(`etcd quorum lost: ${stopped.join(', ')} of ${etcdPods.length} down ${((Date.now() - tLoss) / 1000).toFixed(1)} s after the delete`);
      const samples: Array<{ at: number; writable: string[] }> = [];
      let demotedAt: number | undefined;
      try {
        const pgPods = await bed.deployed.pods(bed.deployed.postgres);
        const end = tLoss + (timing.ttl + timing.retry_timeout + timing.loop_wait + 10) * 1000;
        while (Date.now() < end) {
          const states = await Promise.all(pgPods.map(async (p) => ({ p, w: await memberWritable(bed.deployed, p) })));
          const writable = states.filter((s) => s.w === true).map((s) => s.p.name);
          samples.push({ at: Date.now(), writable });
          if (!writable.length && demotedAt === undefined) demotedAt = Date.now();
          await sleep(200);
        }
      } finally {
        await stopWrites(writes);
        await held.release();
      }
      const lastAck = writes.acks.filter((a) => a.ackAt > tLoss).pop();
      const leaderLog = await bed.cluster.api.run(['logs', '-n', bed.deployed.namespace, leader.name, '-c', bed.deployed.postgres.spec.template.spec.containers[0].name, `--since-time=${new Date(tLoss).toISOString()}`]);
      const failsafeLines = leaderLog.split('\n').filter((l) => /failsafe/i.test(l));
      log(`leader ${leader.name}'s log during the loss: ${failsafeLines.length} lines naming failsafe, e.g. ${failsafeLines.slice(-1)[0] ?? '-'}`);
      log(`etcd quorum lost (failsafe_mode ${failsafe}): ${samples.length} samples, max writable at once ${Math.max(...samples.map((s) => s.writable.length))}, leader writable in ${samples.filter((s) => s.writable.includes(leader.name)).length}; `
        + (demotedAt ? `no member writable ${((demotedAt - tLoss) / 1000).toFixed(1)} s after the loss; ` : `leader ${leader.name} stayed writable; `)
        + `last acknowledged write ${lastAck ? ((lastAck.ackAt - tLoss) / 1000).toFixed(1) + ' s' : 'none'} after the loss; ${writes.errors.filter((e) => e.at > tLoss).length} write errors`);
      expect(samples.every((s) => s.writable.length <= 1)).toBe(true);
      if (failsafe) {
        // a sample may miss the leader when its probe times out; another member is never writable
        expect(samples.every((s) => s.writable.every((n) => n === leader.name))).toBe(true);
        // it is failsafe mode that keeps it: Patroni says so in its HA loop
        expect(leaderLog).toMatch(/continue to run as a leader because failsafe mode is enabled and all members are accessible/);
        expect(samples.filter((s) => s.writable.length === 1).length).toBeGreaterThanOrEqual(samples.length * 0.9);
        // still acknowledging writes through the write Service after the point where it would have demoted
        expect(lastAck && lastAck.ackAt - tLoss).toBeGreaterThan((timing.ttl + timing.retry_timeout) * 1000);
      } else {
        expect(demotedAt).toBeDefined();
      }
      expect(await lostWrites(bed.writeConn(), writes)).toBe(0);
      await bed.etcdFullyHealthy();
      await bed.deployed.waitHealthy(240000);
      const r = (await query<{ ro: boolean }>(bed.writeConn(), 'SELECT pg_is_in_recovery() AS ro', [], 10000))[0];
      expect(r.ro).toBe(false);
    }, 400000);
  });
}
