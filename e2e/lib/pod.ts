/*
 * Pods and containers as the kubelet runs them, on this host: each container
 * is one supervised process tree (a program from the Debian root), restarted
 * when it exits (restartPolicy Always, with the kubelet's crash-loop back-off),
 * killed whole when its main process dies (as its PID namespace would be), and
 * probed (see kubelet-probes.ts). A controller drives pods with start/stop and
 * reads `ready`.
 */
import * as crypto from 'crypto';
import * as net from 'net';
import * as path from 'path';
import type { LocalCluster } from './cluster';
import { PathMap } from './container-paths';
import type { PodOwner } from './kube/cluster-state';
import { log } from './log';
import { Container, K8sObject, PodIdentity } from './manifests';
import { httpStatus, sleep } from './poll';
import { Started } from './process-supervisor';

/** What a container runs here: a program from the Debian root, its arguments, environment and user. */
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

/** The program a container image stands for. */
export type Program = 'etcd' | 'spilo' | 'haproxy' | 'exporter' | 'psql' | 'unknown';

export function programOfImage(image: string): Program {
  const i = image.toLowerCase();
  if (/postgres[-_]exporter/.test(i)) return 'exporter';
  if (/spilo/.test(i)) return 'spilo';
  if (/(^|\/)etcd[:@]|coreos\/etcd|bitnami\/etcd/.test(i)) return 'etcd';
  if (/(^|\/)haproxy[:@]|haproxytech\/haproxy/.test(i)) return 'haproxy';
  if (/(^|\/)postgres(ql)?[:@]/.test(i)) return 'psql';
  return 'unknown';
}

export class LocalContainer {
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
    readonly pod: LocalPod,
    readonly spec: Container,
    readonly program: Program,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** `<pod>/<container>`: the process marker and log prefix */
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
    const cluster = this.pod.cluster;
    const proc = cluster.supervisor.start(this.name, this.scope, l.cmd, l.args, {
      env: l.env,
      uid: l.uid,
      gid: l.gid,
      cwd: l.cwd,
      root: cluster.programRoot,
      logFile: path.join(this.pod.dir, 'logs', `${this.name}.log`),
    });
    this.proc = proc;
    proc.exited.then((code) => this.onExit(proc, code));
    cluster.onChange();
  }

  private async onExit(proc: Started, code: number | null): Promise<void> {
    if (this.proc !== proc) return;
    const cluster = this.pod.cluster;
    this.lastExit = { code, at: Date.now() };
    this.ready = false;
    // the container's PID namespace goes away with its main process: nothing of it survives
    const left = await cluster.supervisor.killPod(this.scope).catch(() => 0);
    log(`container ${this.scope} exited (code ${code})${left ? `, killed ${left} leftover processes` : ''}`);
    this.proc = undefined;
    cluster.onChange();
    if (!this.wanted || cluster.stopping || !this.pod.restartAlways) return;
    // restart at once; a crash loop (3 exits within 10 s of start) backs off like the kubelet
    const now = Date.now();
    if (now - this.startedAt < 10000) this.crashes.push(now);
    this.crashes = this.crashes.filter((t) => now - t < 60000);
    const delay = this.crashes.length >= 3 ? Math.min(10000 * 2 ** (this.crashes.length - 3), 60000) : 0;
    if (delay) log(`container ${this.scope}: crash loop, back-off ${delay / 1000} s`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.wanted && !this.running && !cluster.stopping) {
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
      void this.pod.cluster.supervisor.killPod(this.scope);
    }, graceMs);
    await proc.exited;
    clearTimeout(t);
    while (this.proc === proc) await sleep(10);
  }

  /** SIGKILL the main process and every process of the container at the same instant. */
  async kill(hold = false): Promise<number> {
    if (hold) this.wanted = false;
    const proc = this.proc;
    const n = await this.pod.cluster.supervisor.killPod(this.scope);
    if (proc) {
      await proc.exited;
      while (this.proc === proc) await sleep(10);
    }
    return n;
  }

  /** Let the kubelet run it again (after a stop or kill that held it). */
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

export interface VolumeMountOnHost {
  mountPath: string;
  hostPath: string;
  container: string;
}

export class LocalPod {
  containers: LocalContainer[] = [];
  deleted = false;
  /** the pod's own labels and annotations (the template's plus the controller's; the API may change them) */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** new for every pod object: a StatefulSet pod recreated under the same name is a new pod */
  readonly uid = crypto.randomUUID();
  readonly createdAt = new Date().toISOString();
  /** the controller that made it (StatefulSet, ReplicaSet of a Deployment, Job) */
  owner?: PodOwner;

  constructor(
    readonly cluster: LocalCluster,
    readonly name: string,
    readonly workload: K8sObject,
    readonly ordinal: number,
    readonly ip: string,
    readonly dir: string,
    readonly identity: PodIdentity,
    readonly mounts: VolumeMountOnHost[],
  ) {
    this.labels = { ...identity.labels };
    this.annotations = { ...identity.annotations };
  }

  /** Container paths of one container -> directories of this pod. */
  pathsFor(container: string): PathMap {
    return new PathMap(
      this.mounts.filter((m) => m.container === container),
      path.join(this.dir, 'rootfs', container),
    );
  }

  get spec(): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.workload.spec.template.spec;
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

  get graceMs(): number {
    return (this.spec.terminationGracePeriodSeconds ?? 30) * 1000;
  }

  container(name: string): LocalContainer {
    const c = this.containers.find((x) => x.name === name);
    if (!c) throw new Error(`pod ${this.name}: no container ${name}`);
    return c;
  }

  /** The first container running the given program. */
  containerOf(program: Program): LocalContainer {
    const c = this.containers.find((x) => x.program === program);
    if (!c) throw new Error(`pod ${this.name}: no ${program} container`);
    return c;
  }

  /** Start every container (the kubelet after scheduling). */
  start(): void {
    this.deleted = false;
    for (const c of this.containers) {
      c.wanted = true;
      c.start();
    }
  }

  /** Delete the pod: SIGTERM every container, SIGKILL after the grace period. */
  async stop(graceMs = this.graceMs): Promise<void> {
    await Promise.all(this.containers.map((c) => c.stop('SIGTERM', graceMs, true)));
    this.deleted = true;
    this.cluster.onChange();
  }
}
