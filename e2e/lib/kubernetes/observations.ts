/*
 * What the scenarios look at on the real cluster, as an operator would: the router's plan from its
 * haproxy.cfg (the ConfigMap dist/ mounts) and the Services that expose its ports, which server
 * answers a connection, HAProxy's own view of its servers (its stats page), each member's
 * writability, etcd's health and leader (its plain metrics listener) and etcdctl inside an etcd pod,
 * the exporter sidecars' /metrics. Names, ports and counts come from the manifests.
 */
import * as https from 'https';
import * as path from 'path';
import { whoAnswers } from './service-clients';
import { PgConn, tryQuery } from '../pg';
import { httpJson, httpRequest } from '../poll';
import { haproxyPlan, HaproxyPlan } from './haproxy-plan';
import type { DeployedPgHa, LivePod } from './deployed-pg-ha';
import type { KubectlResult, KubeObject } from './kube-client';

type Container = { name: string; image: string; args?: string[]; env?: Array<{ name: string; value?: string }>; ports?: Array<{ name?: string; containerPort: number }>; volumeMounts?: Array<{ name: string }> };

const containers = (w: KubeObject): Container[] => w.spec.template.spec.containers;

export interface LiveService {
  name: string;
  host: string;
  port: number;
}

export interface LiveRouterPlan extends HaproxyPlan {
  write: LiveService;
  read: LiveService;
}

/** haproxy.cfg from the ConfigMap the router's container mounts */
export function routerConfig(deployed: DeployedPgHa): string {
  const spec = deployed.router.spec.template.spec;
  const c = containers(deployed.router)[0];
  const vols = (spec.volumes ?? []) as Array<{ name: string; configMap?: { name: string } }>;
  const vol = vols.find((v) => v.configMap && (c.volumeMounts ?? []).some((m) => m.name === v.name));
  if (!vol) throw new Error(`the router ${deployed.router.metadata.name} mounts no ConfigMap`);
  const cm = deployed.one('ConfigMap', (o) => o.metadata.name === vol.configMap!.name, `ConfigMap ${vol.configMap!.name}`);
  const cfg = Object.values(cm.data as Record<string, string>).find((v) => /\bbind\b/.test(v));
  if (!cfg) throw new Error(`ConfigMap ${cm.metadata.name} has no haproxy.cfg`);
  return cfg;
}

/** The Service of dist/ (with a cluster IP) that exposes one of the router container's ports. */
export async function routerService(deployed: DeployedPgHa, port: number): Promise<LiveService> {
  const c = containers(deployed.router)[0];
  const routerLabels = deployed.router.spec.template.metadata.labels as Record<string, string>;
  const portOf = (target: string | number): number | undefined => (typeof target === 'number' ? target : c.ports?.find((p) => p.name === target)?.containerPort);
  for (const s of deployed.all('Service')) {
    if (!s.spec.selector || !Object.entries(s.spec.selector).every(([k, v]) => routerLabels[k] === v) || s.spec.clusterIP === 'None') continue;
    const sp = (s.spec.ports as Array<{ port: number; targetPort?: string | number }>).find((x) => portOf(x.targetPort ?? x.port) === port);
    if (sp) return { name: s.metadata.name, host: await deployed.serviceAddress(s.metadata.name), port: sp.port };
  }
  throw new Error(`no Service of dist/ exposes the router's port ${port}`);
}

/** The router's write and read ports (haproxy.cfg's health checks) and the Services (cluster IPs) that expose them. */
export async function liveRouterPlan(deployed: DeployedPgHa): Promise<LiveRouterPlan> {
  const plan = haproxyPlan(routerConfig(deployed));
  return { ...plan, write: await routerService(deployed, plan.writePort), read: await routerService(deployed, plan.readPort) };
}

export interface Answer {
  ip: string;
  r: boolean;
}

/** New connections through a Service, one query each, until `enough` is satisfied or `max` were made. */
export async function sampleServers(conn: PgConn, max: number, enough: (seen: Answer[]) => boolean = () => false): Promise<Answer[]> {
  const seen: Answer[] = [];
  while (seen.length < max && !enough(seen)) seen.push(await whoAnswers(conn));
  return seen;
}

/** Whether a member takes writes (straight to its pod IP as the superuser); undefined when it does not answer. */
export async function memberWritable(deployed: DeployedPgHa, pod: LivePod): Promise<boolean | undefined> {
  if (!pod.ip) return undefined;
  const r = await tryQuery<{ r: boolean }>(await deployed.superuser(pod), 'SELECT pg_is_in_recovery() AS r', [], 1000);
  return r?.[0] === undefined ? undefined : !r[0].r;
}

/** Patroni's dynamic configuration as the leader holds it (GET /config) */
export interface PatroniDynamicConfig {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
  failsafe_mode?: boolean;
  synchronous_mode?: boolean | string;
}

export async function patroniConfig(deployed: DeployedPgHa, pod: LivePod): Promise<PatroniDynamicConfig> {
  const c = await httpJson<PatroniDynamicConfig>(pod.ip, deployed.patroniPort, '/config', 3000);
  if (!c) throw new Error(`Patroni of ${pod.name} did not give its configuration`);
  return c;
}

/** HAProxy's state of each server of a proxy, per router pod (its stats page as CSV) */
export async function routerServerStates(deployed: DeployedPgHa, plan: HaproxyPlan, proxy: string): Promise<Array<{ router: string; servers: Record<string, string> }>> {
  if (!plan.stats) throw new Error('haproxy.cfg has no stats page');
  const uri = `${plan.stats.uri.replace(/\/$/, '')}/;csv`;
  return Promise.all((await deployed.pods(deployed.router)).filter((p) => p.ready && p.ip).map(async (p) => {
    const body = (await httpRequest(p.ip, plan.stats!.port, uri, { timeoutMs: 2000 })).body;
    const [head, ...rows] = body.replace(/^# /, '').trim().split('\n').map((l) => l.split(','));
    const col = (n: string): number => head.indexOf(n);
    const servers = Object.fromEntries(rows.filter((r) => r[col('pxname')] === proxy && !['FRONTEND', 'BACKEND'].includes(r[col('svname')])).map((r) => [r[col('svname')], r[col('status')]]));
    return { router: p.name, servers };
  }));
}

/* ---- etcd ---- */

function etcdContainer(deployed: DeployedPgHa): Container {
  return containers(deployed.etcd).find((c) => /etcd/.test(c.image))!;
}

export const etcdContainerName = (deployed: DeployedPgHa): string => etcdContainer(deployed).name;

function etcdEnv(deployed: DeployedPgHa, name: string, pod: string): string {
  const v = etcdContainer(deployed).env?.find((e) => e.name === name)?.value;
  if (v === undefined) throw new Error(`the etcd container has no ${name}`);
  return v.replace(/\$\(POD_NAME\)/g, pod);
}

/** the plain listener etcd serves /health and /metrics on (ETCD_LISTEN_METRICS_URLS) */
function etcdMetricsPort(deployed: DeployedPgHa): number {
  return Number(new URL(etcdEnv(deployed, 'ETCD_LISTEN_METRICS_URLS', '').split(',')[0]).port);
}

/** the plain listener's address of each etcd pod */
export async function etcdPlainEndpoints(deployed: DeployedPgHa): Promise<Array<{ pod: string; host: string; port: number }>> {
  const port = etcdMetricsPort(deployed);
  return (await deployed.pods(deployed.etcd)).map((p) => ({ pod: p.name, host: p.ip, port }));
}

/** Each etcd member's own answer on GET /health (its pod IP); a pod without an address is not healthy. */
export async function etcdHealth(deployed: DeployedPgHa): Promise<Array<{ name: string; healthy: boolean }>> {
  const port = etcdMetricsPort(deployed);
  const pods = await deployed.pods(deployed.etcd);
  const wanted = deployed.etcd.spec.replicas ?? 1;
  const names = Array.from({ length: wanted }, (_, i) => `${deployed.etcd.metadata.name}-${i}`);
  return Promise.all(names.map(async (name) => {
    const p = pods.find((x) => x.name === name);
    const h = p?.ip && p.phase === 'Running' ? await httpJson<{ health: string }>(p.ip, port, '/health', 2000) : undefined;
    return { name, healthy: h?.health === 'true' };
  }));
}

/** the etcd member that is raft leader (etcd_server_is_leader 1 on its metrics) */
export async function etcdLeader(deployed: DeployedPgHa): Promise<LivePod | undefined> {
  const port = etcdMetricsPort(deployed);
  for (const p of await deployed.pods(deployed.etcd)) {
    if (!p.ip) continue;
    const m = await httpRequest(p.ip, port, '/metrics', { timeoutMs: 2000 }).catch(() => undefined);
    if (m && /^etcd_server_is_leader 1$/m.test(m.body)) return p;
  }
  return undefined;
}

/**
 * the client URL a member advertises, and its own TLS files (ETCD_*_FILE), as seen inside its pod;
 * the CA is the peers' where etcd asks clients for none (step 1 of the move from plain etcd)
 */
export function etcdMemberClient(deployed: DeployedPgHa, pod: string): { url: string; ca: string; cert: string; key: string } {
  const asksClients = etcdContainer(deployed).env?.some((e) => e.name === 'ETCD_TRUSTED_CA_FILE');
  return {
    url: etcdEnv(deployed, 'ETCD_ADVERTISE_CLIENT_URLS', pod).split(',')[0],
    ca: etcdEnv(deployed, asksClients ? 'ETCD_TRUSTED_CA_FILE' : 'ETCD_PEER_TRUSTED_CA_FILE', pod),
    cert: etcdEnv(deployed, 'ETCD_CERT_FILE', pod),
    key: etcdEnv(deployed, 'ETCD_KEY_FILE', pod),
  };
}

/** the errors etcdctl's client logged (its JSON lines' "error" fields) */
export function etcdctlErrors(stderr: string): string[] {
  return stderr.split('\n').flatMap((l) => {
    try {
      const e = (JSON.parse(l) as { error?: string }).error;
      return e ? [e] : [];
    } catch {
      return /^Error: /.test(l) ? [l] : [];
    }
  });
}

export interface EtcdTls {
  ca: string;
  cert: string;
  key: string;
}

/**
 * The clients' certificate and CA the PostgreSQL pods show etcd: the Secret behind the volume mounted
 * where ETCD3_CERT points (read through the API as the cluster admin).
 */
export async function etcdClientTls(deployed: DeployedPgHa): Promise<EtcdTls> {
  const c = containers(deployed.postgres)[0];
  const files = { ca: await deployed.postgresEnv('ETCD3_CACERT'), cert: await deployed.postgresEnv('ETCD3_CERT'), key: await deployed.postgresEnv('ETCD3_KEY') };
  const mounts = (c as unknown as { volumeMounts: Array<{ name: string; mountPath: string }> }).volumeMounts;
  const vols = deployed.postgres.spec.template.spec.volumes as Array<{ name: string; secret?: { secretName: string; items?: Array<{ key: string; path: string }> } }>;
  const read = async (file: string): Promise<string> => {
    const m = mounts.find((x) => path.dirname(file) === x.mountPath.replace(/\/$/, ''));
    const v = vols.find((x) => x.name === m?.name)?.secret;
    if (!v) throw new Error(`${file} is not in a Secret volume of the PostgreSQL pods`);
    const key = v.items?.find((i) => i.path === path.basename(file))?.key ?? path.basename(file);
    return (await deployed.secret(v.secretName))[key];
  };
  return { ca: await read(files.ca), cert: await read(files.cert), key: await read(files.key) };
}

export type GatewayResult = { ok: true; status: number; body: string } | { ok: false; error: string };

/**
 * A request to etcd's JSON gateway on a member's client port, from the host to its pod IP, verifying
 * the member's certificate against the name it advertises (as clients in the cluster do).
 * `ca: undefined` trusts only the system's CAs; `scheme: 'http'` tries plain http on the TLS port.
 */
export async function etcdGateway(deployed: DeployedPgHa, pod: string, urlPath: string, body: unknown, opts: { scheme?: 'http' | 'https'; ca?: string; cert?: { cert: string; key: string }; token?: string } = {}): Promise<GatewayResult> {
  const p = (await deployed.pods(deployed.etcd)).find((x) => x.name === pod);
  if (!p?.ip) throw new Error(`etcd pod ${pod} has no address`);
  const url = new URL(etcdMemberClient(deployed, pod).url);
  const data = JSON.stringify(body);
  const headers: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), ...(opts.token ? { Authorization: opts.token } : {}) };
  const mod = opts.scheme === 'http' ? await import('http') : https;
  return new Promise((resolve) => {
    const req = mod.request({
      host: p.ip, port: Number(url.port), path: urlPath, method: 'POST', headers, timeout: 5000, agent: false,
      ...(opts.scheme === 'http' ? {} : { servername: url.hostname, ca: opts.ca, cert: opts.cert?.cert, key: opts.cert?.key }),
    } as https.RequestOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ ok: true, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => resolve({ ok: false, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, error: `${e.code ?? ''} ${e.message}`.trim() }));
    req.end(data);
  });
}

/** etcdctl run inside an etcd pod (the image has no shell: the binary itself is the command) */
export function etcdctl(deployed: DeployedPgHa, pod: string, args: string[]): Promise<KubectlResult> {
  return deployed.cluster.api.kubectl(['exec', '-n', deployed.namespace, pod, '-c', etcdContainer(deployed).name, '--', 'etcdctl', '--dial-timeout=3s', '--command-timeout=5s', ...args], undefined, 30000);
}

/** Patroni's etcd user and password, as its pods get them (ETCD3_USERNAME, ETCD3_PASSWORD) */
export async function patroniEtcdUser(deployed: DeployedPgHa): Promise<{ name: string; password: string }> {
  return { name: await deployed.postgresEnv('ETCD3_USERNAME'), password: await deployed.postgresEnv('ETCD3_PASSWORD') };
}

/** The key prefix the etcd access Job gives Patroni's role (its ETCD_PATRONI_PREFIX). */
export function patroniEtcdPrefix(deployed: DeployedPgHa): string {
  for (const j of deployed.all('Job')) {
    for (const c of j.spec.template.spec.containers as Container[]) {
      const v = c.env?.find((e) => e.name === 'ETCD_PATRONI_PREFIX')?.value;
      if (v) return v;
    }
  }
  throw new Error('no Job of dist/ sets ETCD_PATRONI_PREFIX (no etcd access Job?)');
}

/* ---- monitoring ---- */

/** The /metrics endpoints of one program, one per pod. */
export interface MetricsSource {
  program: string;
  endpoints: Array<{ pod: string; host: string; port: number; path: string }>;
}

/** Where Patroni, the exporter sidecars, etcd and HAProxy serve their metrics on this cluster (pod IPs). */
export async function metricsSources(deployed: DeployedPgHa, plan: HaproxyPlan): Promise<MetricsSource[]> {
  const pg = await deployed.pods(deployed.postgres);
  const exporter = exporterEndpoint(deployed);
  if (!plan.metrics) throw new Error('haproxy.cfg serves no metrics');
  return [
    { program: 'patroni', endpoints: pg.map((p) => ({ pod: p.name, host: p.ip, port: deployed.patroniPort, path: '/metrics' })) },
    { program: 'postgres-exporter', endpoints: pg.map((p) => ({ pod: p.name, host: p.ip, ...exporter })) },
    { program: 'etcd', endpoints: (await etcdPlainEndpoints(deployed)).map((e) => ({ ...e, path: '/metrics' })) },
    { program: 'haproxy', endpoints: (await deployed.pods(deployed.router)).map((p) => ({ pod: p.name, host: p.ip, port: plan.metrics!.port, path: plan.metrics!.path })) },
  ];
}

/** The metric names a /metrics page declares (its `# TYPE` lines). */
export const declaredNames = (body: string): string[] => body.split('\n').flatMap((line) => /^# TYPE (\S+) /.exec(line)?.[1] ?? []);

function exporterEndpoint(deployed: DeployedPgHa): { port: number; path: string } {
  const c = containers(deployed.postgres).find((x) => /postgres-exporter/.test(x.image));
  if (!c) throw new Error('the PostgreSQL pods have no postgres-exporter sidecar');
  const arg = (n: string): string | undefined => c.args?.map((a) => new RegExp(`^--${n}=(.*)$`).exec(a)?.[1]).find((x) => x !== undefined);
  return { port: Number(arg('web.listen-address')?.replace(/^.*:/, '') ?? c.ports?.[0]?.containerPort), path: arg('web.telemetry-path') ?? '/metrics' };
}

/** Each PostgreSQL pod's exporter sidecar: its /metrics on the pod IP (port and path from the container's args or ports). */
export async function exporterMetrics(deployed: DeployedPgHa): Promise<Array<{ pod: string; status: number; body: string }>> {
  const { port, path: metricsPath } = exporterEndpoint(deployed);
  return Promise.all((await deployed.pods(deployed.postgres)).map(async (p) => {
    const r = await httpRequest(p.ip, port, metricsPath, { timeoutMs: 5000 }).catch((e: Error) => ({ status: 0, body: e.message }));
    return { pod: p.name, ...r };
  }));
}
