/*
 * The emulated cluster: pods with per-pod loopback addresses, Services
 * (DNS records and a kube-proxy stand-in), and a kubelet that starts
 * containers, restarts them when they exit (restartPolicy Always), runs
 * readiness and liveness probes, and kills every process of a container
 * when its main process dies (as a container's PID namespace would).
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { DnsServer } from './dns';
import { ServiceProxy } from './kubeproxy';
import { log } from './log';
import { Container, K8sObject, Manifests, PodIdentity, SecretStore } from './manifests';
import { PathMap } from './paths';
import { httpStatus, sleep } from './poll';
import { Started, Supervisor } from './proc';

export interface Launch {
  cmd: string;
  args: string[];
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  cwd?: string;
  /** run before every (re)start, e.g. write config files */
  prepare?: () => void;
}

export interface ProbeState {
  spec: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  kind: 'readiness' | 'liveness';
  nextAt: number;
  successes: number;
  failures: number;
  inFlight: boolean;
}

export class ContainerRt {
  proc?: Started;
  restarts = 0;
  /** the test bed wants it running (false while a test holds it stopped) */
  wanted = true;
  ready = false;
  startedAt = 0;
  lastExit?: { code: number | null; at: number };
  probes: ProbeState[] = [];
  launch?: Launch;
  private crashes: number[] = [];
  private restartTimer?: NodeJS.Timeout;

  constructor(
    readonly pod: PodRt,
    readonly spec: Container,
    readonly role: string,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get scope(): string {
    return `${this.pod.name}/${this.spec.name}`;
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === undefined;
  }

  start(): void {
    const l = this.launch;
    if (!l) throw new Error(`${this.scope}: no launch spec`);
    if (this.running) return;
    l.prepare?.();
    this.ready = false;
    this.startedAt = Date.now();
    for (const p of this.probes) {
      p.successes = 0;
      p.failures = 0;
      p.nextAt = Date.now() + (p.spec.initialDelaySeconds ?? 0) * 1000;
    }
    const proc = this.pod.cluster.sup.start(this.name, this.scope, l.cmd, l.args, {
      env: l.env,
      uid: l.uid,
      gid: l.gid,
      cwd: l.cwd,
      logFile: path.join(this.pod.dir, 'logs', `${this.name}.log`),
    });
    this.proc = proc;
    proc.exited.then((code) => this.onExit(proc, code));
    this.pod.cluster.onChange();
  }

  private async onExit(proc: Started, code: number | null): Promise<void> {
    if (this.proc !== proc) return;
    this.lastExit = { code, at: Date.now() };
    this.ready = false;
    // the container's PID namespace goes away with its main process: nothing of it survives
    const left = await this.pod.cluster.sup.killPod(this.scope).catch(() => 0);
    log(`container ${this.scope} exited (code ${code})${left ? `, killed ${left} leftover processes` : ''}`);
    this.proc = undefined;
    this.pod.cluster.onChange();
    if (!this.wanted || this.pod.cluster.stopping || !this.pod.restartAlways) return;
    // restart at once; a crash loop (3 exits within 10 s of start) backs off like the kubelet
    const now = Date.now();
    if (now - this.startedAt < 10000) this.crashes.push(now);
    this.crashes = this.crashes.filter((t) => now - t < 60000);
    const delay = this.crashes.length >= 3 ? Math.min(10000 * 2 ** (this.crashes.length - 3), 60000) : 0;
    if (delay) log(`container ${this.scope}: crash loop, back-off ${delay / 1000} s`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.wanted && !this.running && !this.pod.cluster.stopping) {
        this.restarts++;
        this.start();
      }
    }, delay);
  }

  /** Stop like the kubelet: signal, wait up to grace, then SIGKILL everything of the container. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 30000, hold = true): Promise<void> {
    if (hold) this.wanted = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const proc = this.proc;
    if (!proc) return;
    try {
      process.kill(proc.pid, signal);
    } catch {
      /* gone */
    }
    const t = setTimeout(() => {
      void this.pod.cluster.sup.killPod(this.scope);
    }, graceMs);
    await proc.exited;
    clearTimeout(t);
    while (this.proc === proc) await sleep(10);
  }

  /** SIGKILL the main process and every process of the container at the same instant. */
  async kill(hold = false): Promise<number> {
    if (hold) this.wanted = false;
    const proc = this.proc;
    const n = await this.pod.cluster.sup.killPod(this.scope);
    if (proc) {
      await proc.exited;
      while (this.proc === proc) await sleep(10);
    }
    return n;
  }

  resume(): void {
    this.wanted = true;
    if (!this.running) this.start();
  }

  port(p: number | string): number {
    if (typeof p === 'number') return p;
    if (/^\d+$/.test(p)) return Number(p);
    for (const c of this.pod.spec.containers as Container[]) {
      const found = c.ports?.find((x) => x.name === p);
      if (found) return found.containerPort;
    }
    throw new Error(`${this.scope}: no port named ${p}`);
  }

  async runProbe(ps: ProbeState): Promise<boolean> {
    const s = ps.spec;
    const timeoutMs = (s.timeoutSeconds ?? 1) * 1000;
    if (!this.running) return false;
    if (s.httpGet) {
      const host = s.httpGet.host ?? this.pod.ip;
      const st = await httpStatus(host, this.port(s.httpGet.port), s.httpGet.path ?? '/', 'GET', timeoutMs);
      return st >= 200 && st < 400;
    }
    if (s.tcpSocket) {
      return new Promise((resolve) => {
        const sock = net.connect({ host: s.tcpSocket.host ?? this.pod.ip, port: this.port(s.tcpSocket.port) });
        const done = (ok: boolean): void => {
          sock.destroy();
          resolve(ok);
        };
        sock.setTimeout(timeoutMs, () => done(false));
        sock.on('connect', () => done(true));
        sock.on('error', () => done(false));
      });
    }
    return true; // exec and grpc probes: not emulated (reported at start)
  }
}

export class PodRt {
  containers: ContainerRt[] = [];
  deleted = false;

  constructor(
    readonly cluster: Cluster,
    readonly name: string,
    readonly workload: K8sObject,
    readonly ordinal: number,
    readonly ip: string,
    readonly dir: string,
    readonly identity: PodIdentity,
    readonly mountsByContainer: Array<{ mountPath: string; hostPath: string; container: string }>,
  ) {}

  pathsFor(container: string): PathMap {
    return new PathMap(
      this.mountsByContainer.filter((m) => m.container === container),
      path.join(this.dir, 'rootfs', container),
    );
  }

  get spec(): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.workload.spec.template.spec;
  }

  get labels(): Record<string, string> {
    return this.workload.spec.template.metadata?.labels ?? {};
  }

  get restartAlways(): boolean {
    return (this.spec.restartPolicy ?? 'Always') === 'Always';
  }

  get ready(): boolean {
    return this.containers.length > 0 && this.containers.every((c) => c.running && c.ready);
  }

  get running(): boolean {
    return this.containers.some((c) => c.running);
  }

  container(name: string): ContainerRt {
    const c = this.containers.find((x) => x.name === name);
    if (!c) throw new Error(`pod ${this.name}: no container ${name}`);
    return c;
  }

  get graceMs(): number {
    return (this.spec.terminationGracePeriodSeconds ?? 30) * 1000;
  }
}

export interface ServiceRt {
  obj: K8sObject;
  name: string;
  namespace: string;
  headless: boolean;
  clusterIP?: string;
  proxies: ServiceProxy[];
  fqdn: string;
}

export class Cluster {
  pods: PodRt[] = [];
  services: ServiceRt[] = [];
  stopping = false;
  private probeTimer?: NodeJS.Timeout;
  private lastDns = '';

  constructor(
    readonly m: Manifests,
    readonly secrets: SecretStore,
    readonly sup: Supervisor,
    readonly dns: DnsServer,
    readonly domain: string,
    readonly runDir: string,
  ) {}

  pod(name: string): PodRt {
    const p = this.pods.find((x) => x.name === name);
    if (!p) throw new Error(`no pod ${name}`);
    return p;
  }

  podsOf(workload: K8sObject): PodRt[] {
    return this.pods.filter((p) => p.workload === workload);
  }

  service(name: string): ServiceRt {
    const s = this.services.find((x) => x.name === name);
    if (!s) throw new Error(`no Service ${name}`);
    return s;
  }

  selects(svc: K8sObject, pod: PodRt): boolean {
    const sel = svc.spec?.selector as Record<string, string> | undefined;
    if (!sel || !Object.keys(sel).length) return false;
    if ((svc.metadata.namespace ?? 'default') !== pod.identity.namespace) return false;
    return Object.entries(sel).every(([k, v]) => pod.labels[k] === v);
  }

  /** Pods behind a Service right now (ready, or all started ones with publishNotReadyAddresses). */
  endpoints(s: ServiceRt): PodRt[] {
    const notReadyToo = !!s.obj.spec?.publishNotReadyAddresses;
    return this.pods.filter((p) => !p.deleted && this.selects(s.obj, p) && (p.ready || (notReadyToo && p.running)));
  }

  /** Recompute DNS records and proxy endpoints after any pod state change. */
  onChange(): void {
    const records: Array<[string, string[]]> = [];
    for (const s of this.services) {
      const eps = this.endpoints(s);
      if (s.headless) {
        records.push([s.fqdn, eps.map((p) => p.ip)]);
        for (const p of eps) {
          if (p.spec.subdomain === s.name || p.workload.spec?.serviceName === s.name) {
            records.push([`${p.spec.hostname ?? p.name}.${s.fqdn}`, [p.ip]]);
          }
        }
      } else if (s.clusterIP) {
        records.push([s.fqdn, [s.clusterIP]]);
        for (const px of s.proxies) {
          const port = (s.obj.spec.ports as Array<{ port: number; targetPort?: number | string; name?: string }>).find((x) => x.port === px.port);
          px.endpoints = eps.map((p) => ({ host: p.ip, port: p.containers[0].port(port?.targetPort ?? px.port) }));
        }
      }
    }
    // rewrite the DNS map: names of pods that left disappear
    const want = new Map(records.filter(([, ips]) => ips.length));
    for (const n of this.dns.names()) if (!want.has(n)) this.dns.delete(n);
    for (const [n, ips] of want) this.dns.set(n, ips);
    const sig = [...want.entries()].map(([n, ips]) => `${n}=${ips.join(',')}`).sort().join(' ');
    if (sig !== this.lastDns) {
      this.lastDns = sig;
    }
  }

  startProbes(): void {
    if (this.probeTimer) return;
    this.probeTimer = setInterval(() => this.probeTick(), 100);
    this.probeTimer.unref();
  }

  stopProbes(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }

  private probeTick(): void {
    const now = Date.now();
    for (const pod of this.pods) {
      for (const c of pod.containers) {
        if (!c.running) continue;
        if (!c.probes.some((p) => p.kind === 'readiness') && !c.ready) {
          c.ready = true;
          this.onChange();
        }
        for (const ps of c.probes) {
          if (ps.inFlight || now < ps.nextAt) continue;
          ps.inFlight = true;
          ps.nextAt = now + (ps.spec.periodSeconds ?? 10) * 1000;
          const proc = c.proc;
          void c.runProbe(ps).then((ok) => {
            ps.inFlight = false;
            if (c.proc !== proc || this.stopping) return;
            if (ok) {
              ps.successes++;
              ps.failures = 0;
            } else {
              ps.failures++;
              ps.successes = 0;
            }
            if (ps.kind === 'readiness') {
              const was = c.ready;
              if (ok && ps.successes >= (ps.spec.successThreshold ?? 1)) c.ready = true;
              if (!ok && ps.failures >= (ps.spec.failureThreshold ?? 3)) c.ready = false;
              if (was !== c.ready) {
                log(`pod ${pod.name}: container ${c.name} ${c.ready ? 'ready' : 'NOT ready'} (readiness probe)`);
                this.onChange();
              }
            } else if (!ok && ps.failures >= (ps.spec.failureThreshold ?? 3) && c.wanted) {
              log(`pod ${pod.name}: liveness probe failed ${ps.failures} times: kubelet restarts container ${c.name}`);
              ps.failures = 0;
              const grace = ps.spec.terminationGracePeriodSeconds !== undefined ? ps.spec.terminationGracePeriodSeconds * 1000 : pod.graceMs;
              void c.stop('SIGTERM', grace, false);
            }
          });
        }
      }
    }
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    this.stopProbes();
    for (const s of this.services) for (const px of s.proxies) await px.stop();
    const n = await this.sup.killAll();
    log(`teardown: killed ${n} processes`);
  }
}

export function writeFiles(dir: string, files: Record<string, string>, mode: number, uid?: number, gid?: number): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const f = path.join(dir, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, content, { mode });
    fs.chmodSync(f, mode);
    if (uid !== undefined) fs.chownSync(f, uid, gid ?? uid);
  }
}
