/*
 * Process supervisor. Every process the test bed starts gets an environment
 * marker E2E_TESTBED=pgha-e2e:<owner pid>:<run id>:<pod>. Patroni passes its
 * environment on to the postmaster it detaches (setsid, reparented to init),
 * and postgres backends inherit it, so scanning /proc/<pid>/environ finds
 * exactly the processes of this run (and of one pod), wherever they were
 * reparented. Nothing else is ever signalled.
 */
import { spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { log } from './log';

export const MARK_VAR = 'E2E_TESTBED';
const MARK_PREFIX = 'pgha-e2e:';

export interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  starttime: string;
  mark?: string;
  comm: string;
}

function readStat(pid: number): { ppid: number; state: string; starttime: string; comm: string } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const rest = s.slice(close + 2).split(' ');
    return { state: rest[0], ppid: Number(rest[1]), starttime: rest[19], comm };
  } catch {
    return undefined;
  }
}

function readMark(pid: number): string | undefined {
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
    for (const kv of env.split('\0')) {
      if (kv.startsWith(MARK_VAR + '=')) return kv.slice(MARK_VAR.length + 1);
    }
  } catch {
    /* gone or not readable */
  }
  return undefined;
}

/** All processes, with their marker when they carry one. Synchronous on purpose (used in exit handlers). */
export function listProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    const st = readStat(pid);
    if (!st) continue;
    out.push({ pid, ...st, mark: readMark(pid) });
  }
  return out;
}

function isDead(p: ProcInfo | undefined): boolean {
  return !p || p.state === 'Z' || p.state === 'X';
}

/** Marked processes matching the predicate, plus all their descendants. */
export function markedTree(match: (mark: string) => boolean, procs = listProcs()): ProcInfo[] {
  const chosen = new Map<number, ProcInfo>();
  for (const p of procs) if (p.mark && match(p.mark)) chosen.set(p.pid, p);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!chosen.has(p.pid) && chosen.has(p.ppid)) {
        chosen.set(p.pid, p);
        grew = true;
      }
    }
  }
  return [...chosen.values()];
}

function signalAll(ps: ProcInfo[], sig: NodeJS.Signals): void {
  for (const p of ps) {
    // guard against PID reuse: same start time as when listed
    const st = readStat(p.pid);
    if (!st || st.starttime !== p.starttime) continue;
    try {
      process.kill(p.pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export interface StartOpts {
  env: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
  logFile: string;
  /** run inside this root directory (chroot, then the uid/gid and cwd apply inside it) */
  root?: string;
}

/**
 * The command line that runs `cmd` inside `root`: a private mount namespace (gone with its
 * last process, nothing to clean up) gets the host's /proc (Patroni finds its postmaster
 * through it) and /dev (with /dev/shm) mounted into the root, then chroot drops to the user
 * and env enters the working directory. Every step execs, so the PID stays the program's.
 */
function inRoot(root: string, userspec: string, cwd: string, cmd: string, args: string[]): [string, string[]] {
  const script = 'r=$0 u=$1 d=$2; shift 2; mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" && exec /usr/sbin/chroot --userspec="$u" "$r" /usr/bin/env --chdir="$d" "$@"';
  return ['/usr/bin/unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, root, userspec, cwd, cmd, ...args]];
}

export interface Started {
  name: string;
  pod: string;
  pid: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  exitCode?: number | null;
}

export class Supervisor {
  readonly runMark: string;
  private started: Started[] = [];
  private handlersInstalled = false;

  constructor(readonly runId: string) {
    this.runMark = Supervisor.runMarkOf(process.pid, runId);
  }

  /** The mark of every process a supervisor of `runId` in the process `ownerPid` starts (and its prefix for its pods). */
  static runMarkOf(ownerPid: number, runId: string): string {
    return `${MARK_PREFIX}${ownerPid}:${runId}`;
  }

  markFor(pod: string): string {
    return `${this.runMark}:${pod}`;
  }

  /** Kill leftovers of earlier test bed runs whose owner process is dead. */
  static reapOrphans(): number {
    const procs = listProcs();
    const orphans = markedTree((m) => {
      if (!m.startsWith(MARK_PREFIX)) return false;
      const owner = Number(m.slice(MARK_PREFIX.length).split(':')[0]);
      return owner !== process.pid && !procs.some((p) => p.pid === owner && !isDead(p));
    }, procs);
    if (orphans.length) {
      log(`reaping ${orphans.length} leftover processes of a dead earlier test bed run`);
      signalAll(orphans, 'SIGKILL');
    }
    return orphans.length;
  }

  start(name: string, pod: string, cmd: string, args: string[], opts: StartOpts): Started {
    this.installExitHandlers();
    fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
    const fd = fs.openSync(opts.logFile, 'a');
    if (opts.uid !== undefined) fs.fchownSync(fd, opts.uid, opts.gid ?? opts.uid);
    const env = { ...opts.env, [MARK_VAR]: this.markFor(pod) };
    const [file, argv] = opts.root ? inRoot(opts.root, `${opts.uid ?? 0}:${opts.gid ?? opts.uid ?? 0}`, opts.cwd ?? '/', cmd, args) : [cmd, args];
    const child = spawn(file, argv, {
      env,
      cwd: opts.root ? undefined : opts.cwd,
      uid: opts.root ? undefined : opts.uid,
      gid: opts.root ? undefined : opts.gid,
      detached: true, // own session: a ^C to the test runner reaches the runner only, which then cleans up
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    const s: Started = {
      name,
      pod,
      pid: child.pid,
      child,
      exited: new Promise((resolve) => {
        child.on('exit', (code, signal) => {
          s.exitCode = code ?? (signal ? -1 : null);
          resolve(code);
        });
        child.on('error', () => resolve(-1));
      }),
    };
    child.unref();
    this.started.push(s);
    log(`started ${name} (pod ${pod}) pid ${child.pid}: ${opts.root ? `[root ${opts.root}] ` : ''}${cmd} ${args.join(' ')}`);
    return s;
  }

  /** Processes of one pod (or of the whole run). */
  procs(pod?: string): ProcInfo[] {
    const prefix = pod === undefined ? this.runMark + ':' : this.markFor(pod);
    return markedTree((m) => (pod === undefined ? m.startsWith(prefix) : m === prefix)).filter((p) => !isDead(p));
  }

  signalPod(pod: string, sig: NodeJS.Signals, filter?: (p: ProcInfo) => boolean): ProcInfo[] {
    const ps = this.procs(pod).filter(filter ?? (() => true));
    signalAll(ps, sig);
    return ps;
  }

  /** SIGKILL every process of a pod (Patroni, postmaster, every backend) and wait until all are gone. */
  async killPod(pod: string, timeoutMs = 10000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let n = 0;
    for (;;) {
      const ps = this.procs(pod);
      if (!ps.length) return n;
      n += ps.length;
      signalAll(ps, 'SIGKILL');
      if (Date.now() > deadline) throw new Error(`pod ${pod}: processes survive SIGKILL: ${ps.map((p) => p.pid)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async waitPodGone(pod: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.procs(pod).length) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  /** Synchronous SIGKILL of everything this run started; safe in exit handlers. */
  killAllSync(): number {
    let total = 0;
    for (let i = 0; i < 50; i++) {
      const ps = this.procs();
      if (!ps.length) break;
      total += ps.length;
      signalAll(ps, 'SIGKILL');
      const until = Date.now() + 20;
      while (Date.now() < until) {
        /* spin briefly: exit handlers cannot await */
      }
    }
    return total;
  }

  async killAll(): Promise<number> {
    let total = 0;
    const deadline = Date.now() + 10000;
    for (;;) {
      const ps = this.procs();
      if (!ps.length) break;
      total += ps.length;
      signalAll(ps, 'SIGKILL');
      if (Date.now() > deadline) throw new Error(`processes survive SIGKILL: ${ps.map((p) => p.pid)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return total;
  }

  private installExitHandlers(): void {
    if (this.handlersInstalled) return;
    this.handlersInstalled = true;
    live.add(this);
    installGlobalHandlers();
  }

  /** Forget this supervisor (after a clean teardown). */
  close(): void {
    live.delete(this);
  }
}

const live = new Set<Supervisor>();
/** synchronous cleanups run after every live supervisor's processes are killed (exit paths) */
const exitCleanups = new Set<() => void>();
let globalHandlers = false;

/**
 * Run `cleanup` (synchronously) on every exit path, after the processes are killed: network
 * namespaces, mounts and cgroups of a bed. Returns the function that unregisters it.
 */
export function onExitAfterKill(cleanup: () => void): () => void {
  exitCleanups.add(cleanup);
  installGlobalHandlers();
  return () => exitCleanups.delete(cleanup);
}

function killEverythingSync(): void {
  for (const s of live) s.killAllSync();
  for (const c of exitCleanups) {
    try {
      c();
    } catch (e) {
      log(`cleanup on exit failed: ${(e as Error).message}`);
    }
  }
  exitCleanups.clear();
}
let signalOwner: ((sig: NodeJS.Signals) => void) | undefined;
let ownerCalledAt = 0;
/** A ^C reaches Node twice under `npx tsx` (from the terminal and relayed by tsx): one press, one signal. */
const SAME_PRESS_MS = 1000;

/**
 * Let the caller handle the first SIGINT/SIGTERM/SIGHUP (e.g. a held cluster tears down
 * gracefully); a later signal, or any signal without an owner, kills everything at once.
 */
export function handleStopSignal(owner: ((sig: NodeJS.Signals) => void) | undefined): void {
  signalOwner = owner;
  installGlobalHandlers();
}

function installGlobalHandlers(): void {
  if (globalHandlers) return;
  globalHandlers = true;
  process.on('exit', () => killEverythingSync());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (Date.now() - ownerCalledAt < SAME_PRESS_MS) return log(`${sig} again within ${SAME_PRESS_MS} ms: the same stop request`);
      const owner = signalOwner;
      signalOwner = undefined;
      if (owner) {
        ownerCalledAt = Date.now();
        return owner(sig);
      }
      log(`${sig}: killing every process of this run at once`);
      killEverythingSync();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}
