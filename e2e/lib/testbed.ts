/*
 * The test bed: runs the committed dist/ on the Debian programs.
 *
 * Input is the manifests only. Every translation from Kubernetes to this
 * host is printed ("TRANSLATE ..."):
 *   - image -> local program (etcd 3.4, Patroni 3.0.2 + PostgreSQL 15 for
 *     Spilo, HAProxy 2.6, postgres-exporter 0.11, host sh + psql for the Job);
 *   - pod and Service DNS names -> per-pod loopback addresses (127.0.0.0/8);
 *     HAProxy really resolves pod FQDNs through the test bed's DNS server;
 *     ClusterIP Services get a loopback address and a kube-proxy stand-in;
 *   - Spilo's environment -> the Patroni config Spilo would generate;
 *   - container paths -> per-pod directories; PostgreSQL 17 -> 15.
 * Secret values are generated at random and never printed.
 */
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { Cluster, ContainerRt, Launch, PodRt, ServiceRt, writeFiles } from './cluster';
import { DnsServer } from './dns';
import { ServiceProxy } from './kubeproxy';
import { exporterKnownFlags, etcdKnownFlags, localeAvailable, localPgVersion, pgLibExists, userIds } from './local';
import { log, setLogFile, translation } from './log';
import { Container, expandVars, K8sObject, loadDist, Manifests, memoryLimitBytes, PodIdentity, resolveEnv, SecretStore, volumeFiles } from './manifests';
import { PathMap } from './paths';
import { tryQuery } from './pg';
import { httpJson, httpStatus, sleep, waitFor } from './poll';
import { Supervisor } from './proc';
import { hostMemBytes, spiloConfig } from './spilo';

/* eslint-disable @typescript-eslint/no-explicit-any */

export type Role = 'etcd' | 'spilo' | 'haproxy' | 'exporter' | 'psql' | 'unknown';

export function roleOfImage(image: string): Role {
  const i = image.toLowerCase();
  if (/postgres[-_]exporter/.test(i)) return 'exporter';
  if (/spilo/.test(i)) return 'spilo';
  if (/(^|\/)etcd[:@]|coreos\/etcd|bitnami\/etcd/.test(i)) return 'etcd';
  if (/(^|\/)haproxy[:@]|haproxytech\/haproxy/.test(i)) return 'haproxy';
  if (/(^|\/)postgres(ql)?[:@]/.test(i)) return 'psql';
  return 'unknown';
}

const ROLE_NET: Record<string, number> = { etcd: 10, spilo: 20, haproxy: 30, psql: 60, unknown: 70 };
export const DNS_ADDR = '127.0.40.1';
export const DNS_PORT = 53;
const SVC_NET = 50;
const HOST_IP = '127.0.0.1';

export interface TestbedOptions {
  distDir: string;
  /** change SPILO_CONFIGURATION before use (bench: Spilo default timings); printed */
  spiloOverride?: { describe: string; apply: (userConfig: Record<string, any>) => Record<string, any> };
  /** extra options appended to every `default-server` line of haproxy.cfg (bench profiles); printed */
  haproxyDefaultServerExtra?: string;
  keepRunDir?: boolean;
}

export interface PatroniMember {
  name: string;
  role: string;
  state: string;
  host: string;
  port: number;
  api_url: string;
  timeline?: number;
  lag?: number | string;
}

export class Testbed {
  readonly runId = `${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
  readonly runDir: string;
  readonly m: Manifests;
  readonly secrets: SecretStore;
  readonly sup: Supervisor;
  readonly dns = new DnsServer(DNS_ADDR, DNS_PORT, 5);
  cluster!: Cluster;
  readonly domain: string;
  readonly pgVersion = localPgVersion();
  /** secret-derived env values, masked in every printed translation */
  private secretValues = new Set<string>();
  private names = new Map<string, string>();
  private jobRuns = 0;
  readonly files: string[];

  constructor(readonly opts: TestbedOptions) {
    const { objects, files } = loadDist(opts.distDir);
    this.files = files;
    this.m = new Manifests(objects);
    this.secrets = new SecretStore(this.m);
    this.runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-e2e-'));
    fs.chmodSync(this.runDir, 0o755);
    setLogFile(path.join(this.runDir, 'testbed.log'));
    this.sup = new Supervisor(this.runId);
    this.domain = this.detectDomain();
  }

  // ---------------------------------------------------------------- set-up

  private detectDomain(): string {
    const text = JSON.stringify(this.m.objects);
    const m = /\.svc\.([a-z0-9-]+(?:\.[a-z0-9-]+)*?)(?=[:/"',\s]|\\n)/.exec(text);
    const d = m ? m[1].replace(/\.$/, '') : 'cluster.local';
    log(`cluster domain: ${d}${m ? ' (from the manifests)' : ' (default)'}`);
    return d;
  }

  private mask(s: string): string {
    let out = s;
    for (const v of this.secretValues) if (v.length >= 4) out = out.split(v).join('***');
    return out;
  }

  private t(what: string, from: string, to: string): void {
    translation(what, this.mask(from), this.mask(to));
  }

  workloads(): K8sObject[] {
    return [...this.m.all('StatefulSet'), ...this.m.all('Deployment')];
  }

  roleOf(workload: K8sObject): Role {
    const cs = workload.spec.template.spec.containers as Container[];
    return roleOfImage(cs[0].image);
  }

  /** Plan pods and addresses; create the cluster model (nothing started yet). */
  plan(): void {
    this.cluster = new Cluster(this.m, this.secrets, this.sup, this.dns, this.domain, this.runDir);
    const nets = new Map<number, number>();
    const used = new Set<number>();
    for (const w of this.workloads()) {
      let net = ROLE_NET[this.roleOf(w)] ?? 70;
      while (used.has(net)) net++;
      used.add(net);
      nets.set(this.workloads().indexOf(w), net);
    }
    for (const o of this.m.objects) {
      if (!['StatefulSet', 'Deployment', 'Service', 'ConfigMap', 'Secret', 'Job'].includes(o.kind)) {
        log(`ignored (no runtime meaning here): ${o.kind} ${o.metadata?.name}`);
      }
    }
    // Services: ClusterIP ones get a loopback "cluster IP"
    let k = 0;
    for (const s of this.m.all('Service')) {
      const ns = this.m.ns(s);
      const headless = s.spec?.clusterIP === 'None';
      const rt: ServiceRt = { obj: s, name: s.metadata.name, namespace: ns, headless, proxies: [], fqdn: `${s.metadata.name}.${ns}.svc.${this.domain}` };
      if (!headless) {
        rt.clusterIP = `127.0.${SVC_NET}.${++k}`;
        this.t(`Service ${rt.name} cluster IP`, rt.fqdn, rt.clusterIP);
      }
      this.cluster.services.push(rt);
    }
    // Pods
    this.workloads().forEach((w, wi) => {
      const replicas = w.spec.replicas ?? 1;
      const net = nets.get(wi)!;
      for (let i = 0; i < replicas; i++) {
        const name = `${w.metadata.name}-${i}`;
        const ip = `127.0.${net}.${i + 1}`;
        this.addPod(w, name, i, ip);
      }
    });
    // name -> address map for env/args translation
    for (const s of this.cluster.services) {
      const short = [s.name, `${s.name}.${s.namespace}`, `${s.name}.${s.namespace}.svc`, s.fqdn];
      if (s.clusterIP) for (const n of short) this.names.set(n, s.clusterIP);
      for (const p of this.cluster.pods) {
        if (p.workload.spec?.serviceName === s.name || p.spec.subdomain === s.name) {
          const h = p.spec.hostname ?? p.name;
          for (const n of short) this.names.set(`${h}.${n}`, p.ip);
        }
      }
    }
    for (const p of this.cluster.pods) {
      this.t(`pod ${p.name} address`, `${p.name} (${p.workload.kind} ${p.workload.metadata.name})`, p.ip);
    }
    this.t('cluster DNS (for HAProxy resolvers)', 'kube-dns / CoreDNS', `${DNS_ADDR}:${DNS_PORT} (test bed DNS, FQDNs only)`);
    for (const p of this.cluster.pods) for (const c of p.containers) c.launch = this.launchFor(p, c);
    for (const j of this.m.all('Job')) {
      const img = j.spec.template.spec.containers[0].image as string;
      if (roleOfImage(img) === 'psql') log(`Job ${j.metadata.name} (${img}): run by the scenarios on the host`);
      else log(`Job ${j.metadata.name} (${img}): not run (talks to the Kubernetes API); the test bed generates the secret values itself`);
    }
    const refs = this.m.secretRefs();
    this.t('Secrets', refs.map((r) => `${r.name}/${r.key}`).join(', '), 'random values generated in memory (never printed)');
  }

  private addPod(w: K8sObject, name: string, ordinal: number, ip: string): PodRt {
    const spec = w.spec.template.spec;
    const dir = path.join(this.runDir, name);
    fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
    const identity: PodIdentity = {
      name,
      namespace: this.m.ns(w),
      ip,
      labels: w.spec.template.metadata?.labels ?? {},
      annotations: w.spec.template.metadata?.annotations ?? {},
      serviceAccountName: spec.serviceAccountName ?? 'default',
      nodeName: 'e2e-node',
      hostIP: HOST_IP,
    };
    // volumes: PVC templates, emptyDir, ConfigMap/Secret (materialized)
    const volDirs = new Map<string, string>();
    for (const t of w.spec.volumeClaimTemplates ?? []) {
      const d = path.join(dir, 'vol', t.metadata.name);
      fs.mkdirSync(d, { recursive: true });
      volDirs.set(t.metadata.name, d);
    }
    for (const v of spec.volumes ?? []) {
      const d = path.join(dir, 'vol', v.name);
      const files = volumeFiles(v, this.m, this.secrets);
      if (files) {
        const mode = (v.configMap ?? v.secret).defaultMode ?? 0o644;
        writeFiles(d, files, mode);
      } else {
        fs.mkdirSync(d, { recursive: true });
        if (v.persistentVolumeClaim) this.t(`pod ${name} volume ${v.name}`, `PVC ${v.persistentVolumeClaim.claimName}`, d);
      }
      volDirs.set(v.name, d);
    }
    const mounts: Array<{ mountPath: string; hostPath: string; container: string }> = [];
    for (const c of [...(spec.initContainers ?? []), ...spec.containers] as Container[]) {
      for (const vm of c.volumeMounts ?? []) {
        const base = volDirs.get(vm.name);
        if (!base) throw new Error(`pod ${name}: volumeMount ${vm.name} has no volume`);
        if (vm.mountPath === '/dev/shm') {
          this.t(`pod ${name}/${c.name} mount /dev/shm`, `emptyDir ${vm.name}`, 'host /dev/shm (shared memory needs no mapping)');
          continue;
        }
        const hostPath = vm.subPath ? path.join(base, vm.subPath) : base;
        mounts.push({ mountPath: vm.mountPath, hostPath, container: c.name });
      }
    }
    const pod = new PodRt(this.cluster, name, w, ordinal, ip, dir, identity, mounts);
    for (const ic of spec.initContainers ?? []) log(`pod ${name}: init container ${ic.name} (${ic.image}) not run: the test bed prepares directories itself`);
    for (const c of spec.containers as Container[]) {
      const rt = new ContainerRt(pod, c, roleOfImage(c.image));
      for (const kind of ['readiness', 'liveness'] as const) {
        const spec2 = c[`${kind}Probe`];
        if (!spec2) continue;
        if (!spec2.httpGet && !spec2.tcpSocket) log(`pod ${name}/${c.name}: ${kind} probe type not emulated (exec/grpc): treated as passing`);
        rt.probes.push({ spec: spec2, kind, nextAt: 0, successes: 0, failures: 0, inFlight: false });
      }
      pod.containers.push(rt);
    }
    this.cluster.pods.push(pod);
    return pod;
  }

  /** Kubernetes' service-link variables for ClusterIP Services in the pod's namespace. */
  private serviceLinks(pod: PodRt): Record<string, string> {
    if (pod.spec.enableServiceLinks === false) return {};
    const env: Record<string, string> = {};
    for (const s of this.cluster.services) {
      if (!s.clusterIP || s.namespace !== pod.identity.namespace) continue;
      const n = s.name.toUpperCase().replace(/-/g, '_');
      const ports = s.obj.spec.ports ?? [];
      if (!ports.length) continue;
      env[`${n}_SERVICE_HOST`] = s.clusterIP;
      env[`${n}_SERVICE_PORT`] = String(ports[0].port);
      env[`${n}_PORT`] = `tcp://${s.clusterIP}:${ports[0].port}`;
      for (const p of ports) {
        const proto = (p.protocol ?? 'TCP').toUpperCase();
        if (p.name) env[`${n}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(p.port);
        const pre = `${n}_PORT_${p.port}_${proto}`;
        env[pre] = `${proto.toLowerCase()}://${s.clusterIP}:${p.port}`;
        env[`${pre}_PROTO`] = proto.toLowerCase();
        env[`${pre}_PORT`] = String(p.port);
        env[`${pre}_ADDR`] = s.clusterIP;
      }
    }
    return env;
  }

  /** The container environment the kubelet would build, before translation. */
  containerEnv(pod: PodRt, c: Container): { env: Record<string, string>; secretNames: Set<string> } {
    const links = this.serviceLinks(pod);
    const own = resolveEnv(c, pod.identity, this.m, this.secrets);
    const secretNames = new Set<string>();
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef) {
        secretNames.add(e.name);
        this.secretValues.add(own[e.name]);
      }
    }
    return { env: { HOSTNAME: pod.name, ...links, ...own }, secretNames };
  }

  /** Address translation of one value: cluster DNS names -> addresses; wildcard/localhost -> the pod's address. */
  translateAddresses(value: string, pod: PodRt, opts: { listen?: boolean; hostVar?: boolean } = {}): string {
    let v = value;
    const names = [...this.names.keys()].sort((a, b) => b.length - a.length);
    for (const n of names) {
      const q = n.replace(/[.]/g, '\\.');
      const re = new RegExp(`(^|[^A-Za-z0-9.-])${q}(?=$|[^A-Za-z0-9.-])`, 'g');
      // FQDNs always; shorter names only where they stand as a host: name:port, //name, or a *HOST* variable
      const asHost = (opts.hostVar && v === n) || new RegExp(`(^|//|[,@\\s=\\[])${q}:\\d`).test(v) || new RegExp(`//${q}(/|$)`).test(v);
      if (n.includes('.svc') || asHost) v = v.replace(re, (_a, pre: string) => pre + this.names.get(n));
    }
    v = v.replace(/(^|\/\/|[,@\s=])(0\.0\.0\.0|127\.0\.0\.1|localhost|\[::\])(?=:|$|\/|,)/g, (_a, pre: string) => pre + pod.ip);
    if (opts.listen) v = v.replace(/^:(\d+)$/, `${pod.ip}:$1`);
    return v;
  }

  private translateEnv(pod: PodRt, c: ContainerRt, env: Record<string, string>, paths: PathMap): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v0] of Object.entries(env)) {
      let v = this.translateAddresses(v0, pod, { listen: /LISTEN/i.test(k), hostVar: /HOST|ADDR|SERVER|ENDPOINT/i.test(k) });
      if (v.startsWith('/') && paths.mounts.some((mt) => v === mt.mountPath || v.startsWith(mt.mountPath.replace(/\/$/, '') + '/'))) v = paths.host(v);
      if (v !== v0) this.t(`${c.scope} env ${k}`, v0, v);
      out[k] = v;
    }
    return out;
  }

  private translateArgs(pod: PodRt, c: ContainerRt, args: string[], env: Record<string, string>, paths: PathMap): string[] {
    return args.map((a0) => {
      let a = expandVars(a0, env);
      const eq = a.indexOf('=');
      if (a.startsWith('--') && eq > 0) {
        const flag = a.slice(0, eq);
        a = flag + '=' + this.translateAddresses(a.slice(eq + 1), pod, { listen: /listen/i.test(flag) });
      } else a = this.translateAddresses(a, pod);
      const r = paths.rewriteText(a);
      a = r.text;
      if (a !== a0) this.t(`${c.scope} arg`, a0, a);
      return a;
    });
  }

  private launchFor(pod: PodRt, c: ContainerRt): Launch | undefined {
    switch (c.role) {
      case 'etcd':
        return this.etcdLaunch(pod, c);
      case 'spilo':
        return this.spiloLaunch(pod, c);
      case 'haproxy':
        return this.haproxyLaunch(pod, c);
      case 'exporter':
        return this.exporterLaunch(pod, c);
      default:
        throw new Error(`pod ${pod.name}: image ${c.spec.image} has no local program in the test bed`);
    }
  }

  private mapBinary(c: ContainerRt, bin: string, local: string): string {
    if (bin !== local) this.t(`${c.scope} image ${c.spec.image}`, bin, local);
    return local;
  }

  // ---- etcd
  private etcdLaunch(pod: PodRt, c: ContainerRt): Launch {
    const paths = pod.pathsFor(c.name);
    const { env: raw } = this.containerEnv(pod, c.spec);
    const env = this.translateEnv(pod, c, raw, paths);
    const known = etcdKnownFlags();
    for (const k of Object.keys(env)) {
      if (!k.startsWith('ETCD_')) continue;
      const flag = k.slice(5).toLowerCase().replace(/_/g, '-');
      if (!known.has(flag) && !known.has(flag.replace(/^experimental-/, ''))) {
        this.t(`${c.scope} env ${k}`, 'set', 'dropped: etcd 3.4 has no such flag');
        delete env[k];
      }
    }
    // etcd 3.4 serves /health and /metrics only; /livez and /readyz came with 3.5/3.6
    const probePaths: Record<string, string> = { '/livez': '/metrics', '/readyz': '/health' };
    for (const ps of c.probes) {
      const p0 = ps.spec.httpGet?.path as string | undefined;
      const base = p0?.split('?')[0];
      if (base && probePaths[base]) {
        ps.spec = { ...ps.spec, httpGet: { ...ps.spec.httpGet, path: probePaths[base] } };
        this.t(
          `${c.scope} ${ps.kind} probe path`,
          p0!,
          `${probePaths[base]} (etcd 3.4 has no ${base}; ${base === '/livez' ? 'process serves HTTP' : '/health needs a raft leader, like /readyz needs quorum'})`,
        );
      }
    }
    const cmd = c.spec.command ?? ['/usr/local/bin/etcd'];
    const args = this.translateArgs(pod, c, [...cmd.slice(1), ...(c.spec.args ?? [])], env, paths);
    const dataDir = env.ETCD_DATA_DIR ?? path.join(paths.host('/var/lib/etcd'), `${pod.name}.etcd`);
    // the image has no USER (root); the pod's securityContext decides, fsGroup owns the volumes
    const sc = { ...(pod.spec.securityContext ?? {}), ...(c.spec.securityContext ?? {}) };
    const uid: number = sc.runAsUser ?? 0;
    const gid: number = sc.runAsGroup ?? sc.fsGroup ?? uid;
    if (uid !== 0) this.t(`${c.scope} user`, `runAsUser ${uid}`, `uid ${uid} (volumes chowned like fsGroup ${sc.fsGroup ?? '-'})`);
    return {
      cmd: this.mapBinary(c, cmd[0], '/usr/bin/etcd'),
      args,
      env: { PATH: '/usr/bin:/bin', ...env },
      uid,
      gid,
      cwd: pod.dir,
      prepare: () => {
        fs.mkdirSync(path.dirname(dataDir), { recursive: true });
        for (const mt of paths.mounts) chownTree(mt.hostPath, uid, gid, []);
      },
    };
  }

  // ---- Spilo -> Patroni
  readonly patroniConfigs = new Map<string, Record<string, any>>();

  private spiloLaunch(pod: PodRt, c: ContainerRt): Launch {
    const paths = pod.pathsFor(c.name);
    const { env: raw } = this.containerEnv(pod, c.spec);
    const env = this.translateEnv(pod, c, raw, new PathMap([], '/')); // paths are mapped on the Patroni config below
    if (this.opts.spiloOverride) {
      const before = raw.SPILO_CONFIGURATION ?? '';
      const after = toYaml(this.opts.spiloOverride.apply(parseYaml(before || '{}') ?? {}));
      env.SPILO_CONFIGURATION = after;
      this.t(`${c.scope} SPILO_CONFIGURATION (${this.opts.spiloOverride.describe})`, JSON.stringify(parseYaml(before || '{}')), JSON.stringify(parseYaml(after)));
    }
    const memLimit = memoryLimitBytes(c.spec);
    const sp = spiloConfig(env, { memoryLimitBytes: memLimit, hostMemBytes: hostMemBytes(), pgVersionOnImage: '17' });
    for (const w of sp.warnings) log(`WARNING ${c.scope}: ${w}`);
    const conf = structuredClone(sp.spiloConfig);
    const pg = conf.postgresql;
    const scope = `${c.scope} patroni`;
    const pgid = userIds('postgres');
    if (!pgid) throw new Error('no postgres user: run scripts/e2e-install.sh');

    // addresses
    const listenHost = (l: string): string => l.replace(/^(\*|0\.0\.0\.0|::|\[::\])?:/, `${pod.ip}:`);
    const rl = listenHost(String(conf.restapi.listen));
    if (rl !== conf.restapi.listen) this.t(`${scope} restapi.listen`, conf.restapi.listen, rl);
    conf.restapi.listen = rl;
    const pl = listenHost(String(pg.listen));
    if (pl !== pg.listen) this.t(`${scope} postgresql.listen`, pg.listen, pl);
    pg.listen = pl;
    // binaries
    const bin = `/usr/lib/postgresql/${this.pgVersion}/bin`;
    if (pg.bin_dir !== bin) this.t(`${scope} postgresql.bin_dir (PostgreSQL ${/\/(\d+)\/bin/.exec(pg.bin_dir)?.[1]} -> ${this.pgVersion})`, pg.bin_dir, bin);
    pg.bin_dir = bin;
    // paths: the container filesystem of this pod
    const hp = (p: string, what: string): string => {
      const h = paths.host(p);
      this.t(`${scope} ${what}`, p, h);
      return h;
    };
    pg.data_dir = hp(pg.data_dir, 'postgresql.data_dir');
    pg.pgpass = hp(pg.pgpass, 'postgresql.pgpass');
    const params = pg.parameters;
    const sockDir = paths.host('/run/postgresql');
    params.unix_socket_directories = sockDir;
    this.t(`${scope} postgresql.parameters.unix_socket_directories`, '(build default /run/postgresql, private per pod)', sockDir);
    const certFile = hp(params.ssl_cert_file, 'ssl_cert_file');
    const keyFile = hp(params.ssl_key_file, 'ssl_key_file');
    params.ssl_cert_file = certFile;
    params.ssl_key_file = keyFile;
    // Spilo-only libraries and scripts
    const libs = String(params.shared_preload_libraries ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const keep = libs.filter((l) => pgLibExists(this.pgVersion, l));
    const dropped = libs.filter((l) => !keep.includes(l));
    if (dropped.length) {
      this.t(`${scope} shared_preload_libraries`, libs.join(','), `${keep.join(',')} (not packaged in Debian: ${dropped.join(',')})`);
      params.shared_preload_libraries = keep.join(',');
      const prefixes = dropped.map((l) => (l === 'pgextwlist' ? 'extwlist' : l) + '.');
      for (const k of Object.keys(params)) {
        if (prefixes.some((px) => k.startsWith(px))) {
          this.t(`${scope} parameter ${k}`, String(params[k]), 'dropped with its library');
          delete params[k];
        }
      }
    }
    const dcsParams = conf.bootstrap?.dcs?.postgresql?.parameters ?? {};
    for (const k of Object.keys(dcsParams)) {
      if (k === 'shared_preload_libraries') this.t(`${scope} bootstrap.dcs parameter ${k}`, dcsParams[k], 'kept as configured');
    }
    if (conf.bootstrap?.post_init) {
      this.t(`${scope} bootstrap.post_init`, conf.bootstrap.post_init, 'dropped: Spilo script (roles admin/cron_admin/robot_zmon, pg_cron, metric helpers) not on the host');
      delete conf.bootstrap.post_init;
    }
    if (pg.callbacks) {
      this.t(`${scope} postgresql.callbacks`, JSON.stringify(pg.callbacks), 'dropped: Spilo scripts that label the pod via the Kubernetes API');
      delete pg.callbacks;
    }
    if (Array.isArray(pg.create_replica_method) && pg.create_replica_method.includes('basebackup_fast_xlog')) {
      const methods = pg.create_replica_method.map((x: string) => (x === 'basebackup_fast_xlog' ? 'basebackup' : x));
      this.t(`${scope} postgresql.create_replica_method`, JSON.stringify(pg.create_replica_method), `${JSON.stringify(methods)} (Spilo's /scripts/basebackup.sh -> Patroni's built-in pg_basebackup)`);
      pg.create_replica_method = methods;
      delete pg.basebackup_fast_xlog;
    }
    if (pg.use_unix_socket_repl !== undefined) this.t(`${scope} postgresql.use_unix_socket_repl`, String(pg.use_unix_socket_repl), 'kept (unknown to Patroni 3.0.2, ignored by it)');
    const initdb: any[] = conf.bootstrap?.initdb ?? [];
    for (const item of initdb) {
      if (item && typeof item === 'object' && 'locale' in item && !localeAvailable(item.locale)) {
        this.t(`${scope} bootstrap.initdb locale`, item.locale, 'C.UTF-8 (locale not generated on this host)');
        item.locale = 'C.UTF-8';
      }
    }
    // Patroni 4 (the image) validates the DCS timings; Patroni 3.0.2 does not, so apply its rule here:
    // loop_wait >= 1, retry_timeout >= 3, ttl >= 20, then loop_wait + 2*retry_timeout <= ttl
    // (loop_wait lowered first, retry_timeout only when loop_wait is already 1).
    const dcs = conf.bootstrap?.dcs;
    if (dcs) {
      const before = `ttl ${dcs.ttl ?? 30}, loop_wait ${dcs.loop_wait ?? 10}, retry_timeout ${dcs.retry_timeout ?? 10}`;
      const t = patroni4Timeouts(Number(dcs.ttl ?? 30), Number(dcs.loop_wait ?? 10), Number(dcs.retry_timeout ?? 10));
      const after = `ttl ${t.ttl}, loop_wait ${t.loop_wait}, retry_timeout ${t.retry_timeout}`;
      if (before !== after) {
        this.t(`${scope} bootstrap.dcs timings (Patroni 4.0.4 adjusts them at start; 3.0.2 would not)`, before, after);
        Object.assign(dcs, t);
      }
    }
    for (const k of ['synchronous_mode']) {
      const v = conf.bootstrap?.dcs?.[k];
      if (v === 'quorum') throw new Error(`${scope}: synchronous_mode quorum needs Patroni 4; the test bed has ${'3.0.2'}`);
    }
    this.patroniConfigs.set(pod.name, conf);
    const cfgFile = path.join(pod.dir, 'patroni.yml');
    const printable = this.mask(JSON.stringify(conf.bootstrap?.dcs ?? {}));
    log(`${scope}: bootstrap.dcs = ${printable}`);

    const dataParent = path.dirname(pg.data_dir);
    return {
      cmd: this.mapBinary(c, '/launch.sh (runit -> patroni /run/postgres.yml)', '/usr/bin/patroni'),
      args: [cfgFile],
      env: {
        PATH: '/usr/bin:/bin',
        LC_ALL: localeAvailable('en_US.utf8') ? 'en_US.UTF-8' : 'C.UTF-8',
        HOME: paths.host('/home/postgres'),
        HOSTNAME: pod.name,
        POD_IP: env.POD_IP ?? pod.ip,
        ...(env.POD_NAMESPACE ? { POD_NAMESPACE: env.POD_NAMESPACE } : {}),
      },
      uid: pgid.uid,
      gid: pgid.gid,
      cwd: paths.host('/home/postgres'),
      prepare: () => {
        for (const d of [dataParent, sockDir, path.dirname(pg.pgpass), path.dirname(certFile), paths.host('/home/postgres')]) {
          fs.mkdirSync(d, { recursive: true, mode: 0o755 });
        }
        if (!fs.existsSync(keyFile)) {
          // like Spilo's write_certificates: a self-signed certificate
          execFileSync('/usr/bin/openssl', ['req', '-nodes', '-new', '-x509', '-subj', '/CN=spilo.dummy.org', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
          fs.chmodSync(keyFile, 0o600);
        }
        chownTree(pod.dir, pgid.uid, pgid.gid, [path.join(pod.dir, 'logs')]);
        fs.writeFileSync(cfgFile, toYaml(conf), { mode: 0o600 });
        fs.chownSync(cfgFile, pgid.uid, pgid.gid);
      },
    };
  }

  // ---- HAProxy
  private haproxyLaunch(pod: PodRt, c: ContainerRt): Launch {
    const paths = pod.pathsFor(c.name);
    const { env: raw } = this.containerEnv(pod, c.spec);
    const env = this.translateEnv(pod, c, raw, paths);
    const defaultCfg = '/usr/local/etc/haproxy/haproxy.cfg';
    let argv = [...(c.spec.command ?? []), ...(c.spec.args ?? [])].map((a) => expandVars(a, env));
    if (!argv.length) argv = ['haproxy', '-f', defaultCfg];
    if (/haproxy$/.test(argv[0]) && !argv.includes('-W')) argv.splice(1, 0, '-W', '-db'); // docker-entrypoint.sh adds these
    if (argv[0] === 'docker-entrypoint.sh') argv = argv.slice(1);
    const fi = argv.indexOf('-f');
    const cfgPath = fi >= 0 ? argv[fi + 1] : defaultCfg;
    const cfgHost = paths.host(cfgPath);
    if (!fs.existsSync(cfgHost)) throw new Error(`${c.scope}: ${cfgPath} is not provided by any volume`);
    const translated = this.translateHaproxyCfg(pod, c, fs.readFileSync(cfgHost, 'utf8'), paths);
    const outCfg = path.join(pod.dir, 'haproxy.cfg');
    fs.writeFileSync(outCfg, translated);
    this.t(`${c.scope} config file`, cfgPath, `${outCfg} (translated copy)`);
    const args = argv.slice(1).map((a) => (a === cfgPath ? outCfg : a));
    // the official image runs as user haproxy (uid 99): the Debian haproxy user here
    const sc = { ...(pod.spec.securityContext ?? {}), ...(c.spec.securityContext ?? {}) };
    const usesUserDirective = /^\s*(user|uid)\s/m.test(translated);
    const hu = userIds('haproxy');
    const uid = usesUserDirective ? 0 : sc.runAsUser !== undefined ? hu?.uid ?? sc.runAsUser : hu?.uid;
    const gid = usesUserDirective ? 0 : hu?.gid;
    if (!usesUserDirective && hu) this.t(`${c.scope} user`, `image USER haproxy${sc.runAsUser !== undefined ? ` / runAsUser ${sc.runAsUser}` : ''}`, `host user haproxy (uid ${hu.uid})`);
    // validate like the container would at start
    try {
      execFileSync('/usr/sbin/haproxy', ['-c', '-f', outCfg], { stdio: 'pipe' });
    } catch (e) {
      const err = e as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`HAProxy 2.6 rejects the router config of ${c.scope}: ${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}`);
    }
    return { cmd: this.mapBinary(c, argv[0], '/usr/sbin/haproxy'), args, env: { PATH: '/usr/sbin:/usr/bin:/bin', ...env }, uid, gid, cwd: pod.dir };
  }

  translateHaproxyCfg(pod: PodRt, c: ContainerRt, cfg: string, paths: PathMap): string {
    cfg = this.workaroundDupIp(c, cfg);
    const out: string[] = [];
    let section = '';
    let nameserverAdded = false;
    for (const line of cfg.split('\n')) {
      const trimmed = line.trim();
      const kw = trimmed.split(/\s+/)[0];
      if (/^(global|defaults|frontend|backend|listen|resolvers|peers|userlist|program|http-errors|ring|mailers|cache)\b/.test(trimmed)) {
        section = kw;
        nameserverAdded = false;
        out.push(line);
        continue;
      }
      if (section === 'resolvers' && (kw === 'parse-resolv-conf' || kw === 'nameserver')) {
        if (!nameserverAdded) {
          const repl = `${line.match(/^\s*/)?.[0] ?? '  '}nameserver testbed ${DNS_ADDR}:${DNS_PORT}`;
          this.t(`${c.scope} haproxy.cfg resolvers`, trimmed, repl.trim());
          out.push(repl);
          nameserverAdded = true;
        } else this.t(`${c.scope} haproxy.cfg resolvers`, trimmed, '(covered by the test bed nameserver)');
        continue;
      }
      if (kw === 'default-server' && this.opts.haproxyDefaultServerExtra) {
        const nl = `${line} ${this.opts.haproxyDefaultServerExtra}`;
        this.t(`${c.scope} haproxy.cfg default-server (bench profile)`, trimmed, nl.trim());
        out.push(nl);
        continue;
      }
      if (kw === 'bind') {
        const parts = trimmed.split(/\s+/);
        const addrs = parts[1].split(',').map((a) => a.replace(/^(\*|0\.0\.0\.0|::|\[::\]|)?:(\d+)$/, `${pod.ip}:$2`));
        const nl = line.replace(parts[1], addrs.join(','));
        if (nl !== line) this.t(`${c.scope} haproxy.cfg bind`, trimmed, nl.trim());
        out.push(nl);
        continue;
      }
      if (['chroot', 'pidfile'].includes(kw) || (kw === 'stats' && trimmed.split(/\s+/)[1] === 'socket')) {
        const r = paths.rewriteText(line);
        let nl = r.text;
        const p = trimmed.split(/\s+/)[kw === 'stats' ? 2 : 1];
        if (p?.startsWith('/') && !r.count) nl = line.replace(p, paths.host(p));
        if (nl !== line) {
          fs.mkdirSync(path.dirname(paths.host(p)), { recursive: true });
          this.t(`${c.scope} haproxy.cfg ${kw}`, trimmed, nl.trim());
        }
        out.push(nl);
        continue;
      }
      out.push(line);
    }
    return out.join('\n');
  }

  /**
   * MANIFEST BUG WORKAROUND (printed; E2E_STRICT=1 turns it off): HAProxy refuses to give two servers of
   * one backend the same resolved address unless they carry `resolve-opts allow-dup-ip`
   * (prevent-dup-ip is the default with runtime DNS resolution), so a second server line with the
   * same FQDN stays in MAINT (resolution) forever.
   */
  private workaroundDupIp(c: ContainerRt, cfg: string): string {
    const lines = cfg.split('\n');
    // already handled by the manifests: a default-server line (defaults or the section) with allow-dup-ip
    const inDefaults = /^\s*defaults\b[\s\S]*?^\s*default-server\b.*\ballow-dup-ip\b/m.test(cfg);
    let start = 0;
    const sectionRe = /^\s*(global|defaults|frontend|backend|listen|resolvers|peers|userlist|program|http-errors|ring|mailers|cache)\b/;
    const fix = (from: number, to: number): void => {
      if (inDefaults || lines.slice(from, to).some((l) => /^\s*default-server\b.*\ballow-dup-ip\b/.test(l))) return;
      const byHost = new Map<string, number[]>();
      for (let i = from; i < to; i++) {
        const m = /^\s*server\s+(\S+)\s+([^\s:]+):\d+/.exec(lines[i]);
        if (m && !/^[\d.]+$/.test(m[2])) byHost.set(m[2], [...(byHost.get(m[2]) ?? []), i]);
      }
      for (const [host, idx] of byHost) {
        if (idx.length < 2) continue;
        for (const i of idx) {
          if (/\bresolve-opts\b/.test(lines[i])) continue;
          if (process.env.E2E_STRICT === '1') {
            log(`MANIFEST BUG (not worked around, E2E_STRICT=1): ${c.scope}: "${lines[i].trim()}" shares ${host} with another server of its backend and lacks resolve-opts allow-dup-ip`);
            continue;
          }
          const nl = `${lines[i]} resolve-opts allow-dup-ip`;
          this.t(`${c.scope} haproxy.cfg MANIFEST BUG WORKAROUND (servers of one backend share ${host}; HAProxy keeps all but one in MAINT (resolution))`, lines[i].trim(), nl.trim());
          lines[i] = nl;
        }
      }
    };
    for (let i = 0; i <= lines.length; i++) {
      if (i === lines.length || sectionRe.test(lines[i])) {
        fix(start, i);
        start = i;
      }
    }
    return lines.join('\n');
  }

  // ---- postgres-exporter
  private exporterLaunch(pod: PodRt, c: ContainerRt): Launch {
    const paths = pod.pathsFor(c.name);
    const { env: raw } = this.containerEnv(pod, c.spec);
    const env = this.translateEnv(pod, c, raw, paths);
    const cmd = c.spec.command ?? ['/bin/postgres_exporter'];
    let args = this.translateArgs(pod, c, [...cmd.slice(1), ...(c.spec.args ?? [])], env, paths);
    if (!args.some((a) => a.startsWith('--web.listen-address'))) {
      args.push(`--web.listen-address=${pod.ip}:9187`);
      this.t(`${c.scope} listen address`, ':9187 (default, all pod addresses)', `${pod.ip}:9187`);
    }
    const known = exporterKnownFlags();
    args = args.filter((a) => {
      const m = /^--([a-z0-9.-]+)/.exec(a);
      if (m && !known.has(m[1])) {
        this.t(`${c.scope} arg`, a, 'dropped: postgres-exporter 0.11.1 has no such flag');
        return false;
      }
      return true;
    });
    const sc = { ...(pod.spec.securityContext ?? {}), ...(c.spec.securityContext ?? {}) };
    const uid = sc.runAsUser ?? 65534;
    return { cmd: this.mapBinary(c, cmd[0], '/usr/bin/prometheus-postgres-exporter'), args, env: { PATH: '/usr/bin:/bin', ...env }, uid, gid: sc.runAsGroup ?? 65534 };
  }

  // ------------------------------------------------------------ life cycle

  async start(): Promise<void> {
    Supervisor.reapOrphans();
    log(`run dir ${this.runDir}; manifests: ${this.files.map((f) => path.basename(f)).join(', ')}`);
    this.plan();
    await this.dns.start();
    for (const s of this.cluster.services) {
      if (!s.clusterIP) continue;
      for (const p of s.obj.spec.ports ?? []) {
        const px = new ServiceProxy(`${s.name}:${p.port}`, s.clusterIP, p.port);
        s.proxies.push(px);
      }
    }
    this.cluster.onChange();
    for (const s of this.cluster.services) for (const px of s.proxies) await px.start();
    this.cluster.startProbes();
    // Argo CD applies everything at once; StatefulSets honour podManagementPolicy.
    await Promise.all(this.workloads().map((w) => this.startWorkload(w)));
  }

  private async startWorkload(w: K8sObject): Promise<void> {
    const pods = this.cluster.podsOf(w);
    const ordered = w.kind === 'StatefulSet' && (w.spec.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady';
    for (const p of pods) {
      for (const c of p.containers) c.start();
      if (ordered) {
        log(`StatefulSet ${w.metadata.name} is OrderedReady: waiting for ${p.name} to be Ready before the next pod`);
        await waitFor(`${p.name} Ready`, async () => p.ready, { timeoutMs: 180000, intervalMs: 200 });
      }
    }
  }

  async stop(): Promise<void> {
    if (!this.cluster) return;
    const t0 = Date.now();
    await this.cluster.stopAll();
    await this.dns.stop();
    this.sup.close();
    log(`teardown done in ${Date.now() - t0} ms`);
    if (!this.opts.keepRunDir && process.env.E2E_KEEP !== '1') fs.rmSync(this.runDir, { recursive: true, force: true });
    else log(`run dir kept: ${this.runDir}`);
  }

  // ---------------------------------------------------------- accessors

  podsByRole(role: Role): PodRt[] {
    return this.cluster.pods.filter((p) => p.containers.some((c) => c.role === role));
  }

  get etcdPods(): PodRt[] {
    return this.podsByRole('etcd');
  }

  get pgPods(): PodRt[] {
    return this.podsByRole('spilo');
  }

  get routerPods(): PodRt[] {
    return this.podsByRole('haproxy');
  }

  spiloContainer(p: PodRt): ContainerRt {
    return p.containers.find((c) => c.role === 'spilo')!;
  }

  patroniConfig(p: PodRt): Record<string, any> {
    return this.patroniConfigs.get(p.name)!;
  }

  restApi(p: PodRt): { host: string; port: number } {
    const [host, port] = String(this.patroniConfig(p).restapi.connect_address).split(':');
    return { host, port: Number(port) };
  }

  pgAddr(p: PodRt): { host: string; port: number } {
    const [host, port] = String(this.patroniConfig(p).postgresql.connect_address).split(':');
    return { host, port: Number(port) };
  }

  podByIp(ip: string): PodRt | undefined {
    return this.cluster.pods.find((p) => p.ip === ip);
  }

  superuser(): { user: string; password: string } {
    const a = this.patroniConfig(this.pgPods[0]).postgresql.authentication.superuser;
    return { user: a.username, password: a.password };
  }

  /** Patroni's view of the cluster from the first member that answers. */
  async patroniCluster(): Promise<PatroniMember[] | undefined> {
    for (const p of this.pgPods) {
      const { host, port } = this.restApi(p);
      const r = await httpJson<{ members: PatroniMember[] }>(host, port, '/cluster', 800);
      if (r?.members) return r.members;
    }
    return undefined;
  }

  async patroniStatus(p: PodRt): Promise<Record<string, any> | undefined> {
    const { host, port } = this.restApi(p);
    return httpJson(host, port, '/patroni', 800);
  }

  async leaderPod(): Promise<PodRt | undefined> {
    for (const p of this.pgPods) {
      const { host, port } = this.restApi(p);
      if ((await httpStatus(host, port, '/primary', 'GET', 800)) === 200) return p;
    }
    return undefined;
  }

  async etcdHealth(): Promise<boolean[]> {
    return Promise.all(
      this.etcdPods.map(async (p) => {
        const env = p.containers[0].launch!.env;
        const url = (env.ETCD_ADVERTISE_CLIENT_URLS ?? `http://${p.ip}:2379`).split(',')[0];
        const u = new URL(url);
        const r = await httpJson<{ health: string }>(u.hostname, Number(u.port || 2379), '/health', 800);
        return r?.health === 'true';
      }),
    );
  }

  /** Wait for: etcd quorum, 1 leader, all other members replicas running with lag 0, `sync` sync standbys. */
  async waitHealthy({ timeoutMs = 120000, sync = 1 }: { timeoutMs?: number; sync?: number } = {}): Promise<PatroniMember[]> {
    let last: PatroniMember[] | undefined;
    const t0 = Date.now();
    const members = await waitFor(
      'healthy cluster (1 leader, all replicas running with lag 0 and streaming, sync standby)',
      async () => {
        last = await this.patroniCluster();
        if (!last || last.length !== this.pgPods.length) return undefined;
        const leaders = last.filter((m) => m.role === 'leader' && m.state === 'running');
        const replicas = last.filter((m) => m.role !== 'leader');
        const okReplicas = replicas.every((m) => ['running', 'streaming'].includes(m.state) && (m.lag === 0 || m.lag === '0'));
        const syncs = last.filter((m) => m.role === 'sync_standby').length;
        if (!(leaders.length === 1 && okReplicas && syncs >= sync)) return undefined;
        // Patroni 3.0.2 calls a replica "running" with lag 0 before its WAL receiver has connected
        // (recipe pitfall 8): also require every replica to stream from the leader.
        const leaderPod = this.pgPods.find((p) => p.name === leaders[0].name);
        if (!leaderPod) return undefined;
        const su = this.superuser();
        const rows = await tryQuery<{ n: string }>(
          { ...this.pgAddr(leaderPod), user: su.user, password: su.password, database: 'postgres', sslmode: 'require' },
          "SELECT count(*) AS n FROM pg_stat_replication WHERE state = 'streaming'", [], 1000,
        );
        return Number(rows?.[0]?.n) === replicas.length ? last : undefined;
      },
      { timeoutMs, intervalMs: 200, describe: () => JSON.stringify(last?.map((m) => [m.name, m.role, m.state, m.lag])) },
    );
    log(`cluster healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${members.map((m) => `${m.name}=${m.role}`).join(' ')}`);
    return members;
  }

  // ---------------------------------------------------------------- Jobs

  /** A Job container's environment as the kubelet builds it (untranslated; holds generated secrets). */
  jobEnv(name: string): Record<string, string> {
    const job = this.m.get('Job', name);
    const c = job.spec.template.spec.containers[0] as Container;
    const identity: PodIdentity = {
      name: `${name}-run`,
      namespace: this.m.ns(job),
      ip: `127.0.${ROLE_NET.psql}.1`,
      labels: job.spec.template.metadata?.labels ?? {},
      annotations: {},
      serviceAccountName: job.spec.template.spec.serviceAccountName ?? 'default',
      nodeName: 'e2e-node',
      hostIP: HOST_IP,
    };
    return resolveEnv(c, identity, this.m, this.secrets);
  }

  /** Run a Job's pod once to completion on the host; returns the exit code and output. */
  async runJob(name: string, timeoutMs = 120000): Promise<{ code: number | null; output: string; ms: number }> {
    const job = this.m.get('Job', name);
    const n = ++this.jobRuns;
    const fake: K8sObject = { ...job, kind: 'Job', spec: { ...job.spec, replicas: 1 } };
    const podName = `${name}-run${n}`;
    const pod = this.addPod(fake, podName, 0, `127.0.${ROLE_NET.psql}.${n}`);
    const c = pod.containers[0];
    if (c.role !== 'psql') throw new Error(`Job ${name}: image ${c.spec.image} is not emulated`);
    const paths = pod.pathsFor(c.name);
    const { env: raw } = this.containerEnv(pod, c.spec);
    const env = this.translateEnv(pod, c, raw, paths);
    // files mounted into the container refer to their mount paths: point them at the host copies
    for (const mt of paths.mounts) {
      for (const f of listFiles(mt.hostPath)) {
        const txt = fs.readFileSync(f, 'utf8');
        const r = paths.rewriteText(txt);
        if (r.count) {
          fs.writeFileSync(f, r.text);
          this.t(`${c.scope} file ${path.relative(mt.hostPath, f)}`, `${r.count} reference(s) to mount paths`, 'host paths');
        }
      }
    }
    const argv = this.translateArgs(pod, c, [...(c.spec.command ?? []), ...(c.spec.args ?? [])], env, paths);
    if (!argv.length) throw new Error(`Job ${name}: no command`);
    const sc = { ...(pod.spec.securityContext ?? {}), ...(c.spec.securityContext ?? {}) };
    this.t(`${c.scope} image ${c.spec.image}`, 'psql/pg_isready 17 (alpine)', `host /bin/sh with ${this.pgVersion} client tools`);
    c.launch = {
      cmd: argv[0],
      args: argv.slice(1),
      env: { PATH: `/usr/lib/postgresql/${this.pgVersion}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: paths.host('/root'), ...env },
      uid: sc.runAsUser ?? 0,
      gid: sc.runAsGroup ?? 0,
      cwd: pod.dir,
      prepare: () => fs.mkdirSync(paths.host('/root'), { recursive: true }),
    };
    const t0 = Date.now();
    c.start();
    const proc = c.proc!;
    const timer = setTimeout(() => void this.sup.killPod(c.scope), timeoutMs);
    const code = await proc.exited;
    clearTimeout(timer);
    pod.deleted = true;
    const output = this.mask(fs.readFileSync(path.join(pod.dir, 'logs', `${c.name}.log`), 'utf8'));
    log(`Job ${name} run ${n}: exit ${code} in ${Date.now() - t0} ms`);
    return { code, output, ms: Date.now() - t0 };
  }
}

/** Patroni 4's Config._validate_and_adjust_timeouts. */
export function patroni4Timeouts(ttl: number, loopWait: number, retryTimeout: number): { ttl: number; loop_wait: number; retry_timeout: number } {
  let loop_wait = Math.max(1, loopWait);
  let retry_timeout = Math.max(3, retryTimeout);
  const t = Math.max(20, ttl);
  if (1 + 2 * retry_timeout > t) {
    loop_wait = 1;
    retry_timeout = Math.floor((t - 1) / 2);
  } else if (loop_wait + 2 * retry_timeout > t) loop_wait = t - 2 * retry_timeout;
  return { ttl: t, loop_wait, retry_timeout };
}

function chownTree(dir: string, uid: number, gid: number, skip: string[]): void {
  const st = fs.lstatSync(dir);
  if (st.uid !== uid || st.gid !== gid) fs.lchownSync(dir, uid, gid);
  if (!st.isDirectory()) return;
  for (const e of fs.readdirSync(dir)) {
    const p = path.join(dir, e);
    if (skip.includes(p)) continue;
    // never descend into a data directory that postgres already owns
    const s2 = fs.lstatSync(p);
    if (s2.isDirectory() && s2.uid === uid) continue;
    chownTree(p, uid, gid, skip);
  }
}

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const st = fs.statSync(dir);
  if (st.isFile()) return [dir];
  return fs.readdirSync(dir).flatMap((e) => listFiles(path.join(dir, e)));
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_r, rej) => (t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms)))]);
  } finally {
    if (t) clearTimeout(t);
  }
}

export { sleep };
