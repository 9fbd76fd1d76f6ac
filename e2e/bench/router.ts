/*
 * What the router costs: `npm run bench:router`.
 *
 * Brings up one test bed from a dist/ synthesized with the pooler on (POOLER=true, one router pod,
 * one pooler pod, so each path has exactly one proxy process), runs the init Job, loads pgbench's
 * tables (scale BENCH_SCALE) and runs pgbench over TLS (sslmode=require) as the application role:
 *   direct  -> the leader's PostgreSQL (pod address, port 5432)
 *   haproxy -> the router pod's write port (TCP passthrough to the leader)
 *   pooler  -> the pooler pod's PgBouncer (transaction mode) -> the router pod -> the leader
 * for select-only (-S), TPC-B-like (the default script) and select-only with a new connection per
 * transaction (-S -C), at each client count, BENCH_REPEAT times, the targets interleaved so that the
 * machine's load drifts over all of them alike. Prints the median tps, the ratios to direct, the
 * CPU seconds each proxy process used per 1000 transactions, and the load average.
 *
 * HAProxy variants (BENCH_HAPROXY, comma list): `shipped` is the ConfigMap's haproxy.cfg; any other
 * `name:line;line` adds those lines to the `global` section (`_` = space), e.g.
 * `nbthread1:nbthread_1`, `splice:tune.maxpollevents_64`; the router pod restarts with each one.
 *
 * Environment: BENCH_SECONDS=10, BENCH_REPEAT=3, BENCH_CLIENTS=8,64, BENCH_SCALE=10,
 * BENCH_TARGETS=direct,haproxy,pooler, BENCH_MODES=select,tpcb,connect, BENCH_HAPROXY=shipped,
 * BENCH_DOCS=docs/BENCHMARKS.md (BENCH_DOCS= to skip), E2E_ADDRESS_BLOCK=0.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { appCreds, initJobName } from '../lib/app-client';
import { log } from '../lib/log';
import type { LocalPod } from '../lib/pod';
import { sleep, waitFor } from '../lib/poll';
import { markedTree } from '../lib/process-supervisor';
import { addressBlock } from '../lib/address-plan';
import { Testbed } from '../lib/testbed';
import { writeBenchSection } from './report';

const env = process.env;
const SECONDS = Number(env.BENCH_SECONDS ?? 10);
const REPEAT = Number(env.BENCH_REPEAT ?? 3);
const CLIENTS = (env.BENCH_CLIENTS ?? '8,64').split(',').map(Number);
const SCALE = Number(env.BENCH_SCALE ?? 10);
const TARGETS = (env.BENCH_TARGETS ?? 'direct,haproxy,pooler').split(',') as Target[];
const MODES = (env.BENCH_MODES ?? 'select,tpcb,connect').split(',') as Mode[];
const VARIANTS = (env.BENCH_HAPROXY ?? 'shipped').split(',').map(parseVariant);
const VARIANT_MODES = (env.BENCH_VARIANT_MODES ?? 'select').split(',') as Mode[];
const VARIANT_CLIENTS = (env.BENCH_VARIANT_CLIENTS ?? '8').split(',').map(Number);

type Target = 'direct' | 'haproxy' | 'pooler';
type Mode = 'select' | 'tpcb' | 'connect';
const MODE_ARGS: Record<Mode, string[]> = { select: ['-S'], tpcb: [], connect: ['-S', '-C'] };
const MODE_NAMES: Record<Mode, string> = { select: 'select-only', tpcb: 'TPC-B-like', connect: 'select-only, new connection per transaction (-C)' };

interface Variant { name: string; globalLines: string[] }
function parseVariant(spec: string): Variant {
  if (spec === 'shipped') return { name: 'shipped', globalLines: [] };
  const [name, lines = ''] = spec.split(':');
  return { name, globalLines: lines.split(';').filter(Boolean).map((l) => l.replace(/_/g, ' ')) };
}

interface Sample { variant: string; target: Target; mode: Mode; clients: number; rep: number; tps: number; load1: number; proxyCpuS: number; leaderCpuS: number; clientCpuS: number }

/** CPU seconds (user + system) used so far by every process of a pod of this bed (marks are `<run>:<pod>/<container>`). */
function podCpuSeconds(bed: Testbed, pod: string): number {
  const prefix = `${bed.supervisor.runMark}:${pod}/`;
  let ticks = 0;
  for (const p of markedTree((m) => m.startsWith(prefix))) {
    try {
      const s = fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      // utime + stime, and cutime + cstime: the time of exited children it reaped (backends reaped by the postmaster).
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch { /* exited */ }
  }
  return ticks / 100;
}

/**
 * Runs pgbench to completion; `clientCpuS` is pgbench's own CPU time, read half a second before the
 * end of a -T run (its /proc entry is gone after), so it covers SECONDS - 0.5 s of the run.
 */
async function pgbench(bed: Testbed, name: string, conn: { host: string; port: number }, app: { user: string; password: string; database: string }, args: string[]): Promise<{ out: string; clientCpuS: number }> {
  const bin = `/usr/lib/postgresql/${bed.root.pgVersion()}/bin/pgbench`;
  const logFile = path.join(bed.runDir, 'bench', `${name}.log`);
  fs.rmSync(logFile, { force: true });
  const started = bed.supervisor.start(name, 'bench/pgbench', bin, ['-h', conn.host, '-p', String(conn.port), '-U', app.user, ...args, app.database], {
    env: { PGPASSWORD: app.password, PGSSLMODE: 'require', PGSSLCERT: '/nonexistent', PGSSLKEY: '/nonexistent', HOME: '/tmp', PATH: '/usr/bin:/bin' },
    root: bed.root.path,
    logFile,
  });
  // The supervisor does not keep Node's event loop alive: a timer does, until pgbench exits.
  const keepAlive = setInterval(() => undefined, 1000);
  let clientCpuS = NaN;
  const sample = setTimeout(() => { clientCpuS = podCpuSeconds(bed, 'bench'); }, (SECONDS - 0.5) * 1000);
  const code = await started.exited.finally(() => { clearInterval(keepAlive); clearTimeout(sample); });
  const out = fs.readFileSync(logFile, 'utf8');
  if (code !== 0) throw new Error(`pgbench ${args.join(' ')} against ${conn.host}:${conn.port} exited ${code}:\n${out.slice(-2000)}`);
  return { out, clientCpuS };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function main(): Promise<void> {
  const t0 = Date.now();
  const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-bench-router-'));
  const settings = { POOLER: 'true', ROUTER_REPLICAS: '1', POOLER_REPLICAS: '1' };
  const r = spawnSync('npm', ['run', '--silent', 'synth'], { cwd: path.join(__dirname, '..', '..'), env: { ...env, ...settings, CDK8S_OUTDIR: dist }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`synth failed: ${r.stdout}${r.stderr}`);
  const bed = new Testbed({ distDir: dist, addressBlock: addressBlock() });
  const samples: Sample[] = [];
  try {
    await bed.start();
    await bed.patroni.waitHealthy({ timeoutMs: 240000 });
    const job = initJobName(bed);
    const jr = await bed.jobs.run(job);
    if (jr.code !== 0) throw new Error(`init Job failed (${jr.code}):\n${jr.output}`);
    const app = appCreds(bed, job);
    const podOf = (component: string): LocalPod => bed.cluster.pods.find((p) => !p.deleted && p.identity.labels['app.kubernetes.io/component'] === component)!;
    const routerPod = podOf('router');
    const poolerPod = podOf('pooler');
    await waitFor('router and pooler ready', async () => routerPod.ready && poolerPod.ready, { timeoutMs: 60000 });
    const leader = await waitFor('leader', () => bed.patroni.leaderPod(), { timeoutMs: 30000 });
    const writePort = Number(routerPod.workload.spec.template.spec.containers[0].ports.find((p: { name: string }) => p.name === 'write').containerPort);
    const conns: Record<Target, { host: string; port: number }> = {
      direct: bed.patroni.pgAddress(leader),
      haproxy: { host: routerPod.ip, port: writePort },
      pooler: { host: poolerPod.ip, port: 6432 },
    };
    log(`BENCH router: leader ${leader.name} ${conns.direct.host}, router ${routerPod.name} ${routerPod.ip}:${writePort}, pooler ${poolerPod.name} ${poolerPod.ip}:6432`);
    await pgbench(bed, 'init', conns.direct, app, ['-i', '-q', '-s', String(SCALE)]);

    const haproxy = routerPod.containerOf('haproxy');
    const cfgPath = path.join(routerPod.dir, 'haproxy.cfg');
    const shippedCfg = fs.readFileSync(cfgPath, 'utf8');
    const leaderPod = leader.name;
    const run = async (variant: string, target: Target, mode: Mode, clients: number, rep: number) => {
      // CPU of the proxies in the path (the pooler's path also crosses the router) and of the leader.
      const proxies = target === 'haproxy' ? [routerPod.name] : target === 'pooler' ? [poolerPod.name, routerPod.name] : [];
      const cpu = () => ({ proxy: proxies.reduce((t, p) => t + podCpuSeconds(bed, p), 0), leader: podCpuSeconds(bed, leaderPod) });
      const c0 = cpu();
      const load1 = os.loadavg()[0];
      const { out, clientCpuS } = await pgbench(bed, `${variant}-${target}-${mode}-${clients}-${rep}`, conns[target], app, ['-n', '-c', String(clients), '-j', '2', '-T', String(SECONDS), ...MODE_ARGS[mode]]);
      const c1 = cpu();
      const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1]);
      samples.push({ variant, target, mode, clients, rep, tps, load1, proxyCpuS: c1.proxy - c0.proxy, leaderCpuS: c1.leader - c0.leader, clientCpuS });
      log(`BENCH ${variant} ${target} ${mode} c=${clients} #${rep}: ${tps.toFixed(0)} tps, CPU s: proxies ${(c1.proxy - c0.proxy).toFixed(2)}, leader ${(c1.leader - c0.leader).toFixed(2)}, pgbench ${clientCpuS.toFixed(2)}; load ${load1.toFixed(2)}`);
    };
    for (const variant of VARIANTS) {
      if (variant.name !== 'shipped') {
        fs.writeFileSync(cfgPath, shippedCfg.replace(/^global\n/m, `global\n${variant.globalLines.map((l) => `    ${l}`).join('\n')}\n`));
        log(`BENCH haproxy variant ${variant.name}: ${variant.globalLines.join('; ')}`);
        await haproxy.stop('SIGUSR1', 10000, true);
        haproxy.resume();
        await waitFor('router ready again', async () => routerPod.ready, { timeoutMs: 60000 });
        await sleep(3000);
      }
      // The full matrix with the shipped haproxy.cfg; each variant against direct in VARIANT_MODES only.
      const modes = variant.name === 'shipped' ? MODES : VARIANT_MODES;
      const clientCounts = variant.name === 'shipped' ? CLIENTS : VARIANT_CLIENTS;
      const targets = variant.name === 'shipped' ? TARGETS : (['direct', 'haproxy'] as Target[]);
      for (let rep = 1; rep <= REPEAT; rep++) {
        for (const mode of modes) for (const clients of clientCounts) for (const target of targets) await run(variant.name, target, mode, clients, rep);
      }
    }
  } finally {
    await bed.stop();
    fs.rmSync(dist, { recursive: true, force: true });
  }
  const root = path.join(__dirname, '..', '..');
  const resultsFile = path.join(root, '.e2e', `bench-router-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
  fs.writeFileSync(resultsFile, JSON.stringify(samples, null, 2));
  const text = report(samples, (Date.now() - t0) / 1000);
  process.stdout.write(text);
  const docs = env.BENCH_DOCS ?? 'docs/BENCHMARKS.md';
  if (docs) writeBenchSection(path.isAbsolute(docs) ? docs : path.join(root, docs), 'router-bench', 'What the router costs (e2e test bed)', text);
}

function report(samples: Sample[], wallS: number): string {
  const loads = samples.map((s) => s.load1);
  const lines = [
    `Run ${new Date().toISOString().slice(0, 16)} UTC by \`npm run bench:router\`: pgbench ${SECONDS} s per run, median of ${REPEAT} runs (targets interleaved), scale ${SCALE}, ` +
      `TLS (sslmode=require), SCRAM; ratios: median of each repetition's target / direct; ${os.cpus().length} cores (1-minute load average during the runs, pgbench and the bed included: min ${Math.min(...loads).toFixed(1)}, ` +
      `median ${median(loads).toFixed(1)}, max ${Math.max(...loads).toFixed(1)}); wall ${wallS.toFixed(0)} s. CPU ms per transaction: the proxies in the path ` +
      '(HAProxy; PgBouncer + HAProxy) and the leader pod (PostgreSQL, Patroni, exporter), from /proc.',
    '',
    '| haproxy.cfg | workload | clients | direct tps | HAProxy tps (/ direct) | pooler tps (/ direct) | CPU ms/tx direct: leader, pgbench | via HAProxy: HAProxy, leader, pgbench | via pooler: PgBouncer + HAProxy, leader, pgbench |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const pick = (variant: string, target: Target, mode: Mode, clients: number) => samples.filter((s) => s.variant === variant && s.target === target && s.mode === mode && s.clients === clients);
  const fmt = (x: number, digits = 0) => (Number.isNaN(x) ? 'n/a' : x.toFixed(digits));
  for (const variant of VARIANTS.map((v) => v.name)) {
    const modes = variant === 'shipped' ? MODES : VARIANT_MODES;
    for (const mode of modes) {
      for (const clients of variant === 'shipped' ? CLIENTS : VARIANT_CLIENTS) {
        const med = (t: Target, f: (x: Sample) => number) => { const xs = pick(variant, t, mode, clients); return xs.length ? median(xs.map(f)) : NaN; };
        const tps = (t: Target) => med(t, (x) => x.tps);
        const perTx = (t: Target, cpu: (x: Sample) => number) => med(t, (x) => (1000 * cpu(x)) / (x.tps * SECONDS));
        const clientPerTx = (t: Target) => med(t, (x) => (1000 * x.clientCpuS) / (x.tps * (SECONDS - 0.5)));
        const cpus = (t: Target) => (Number.isNaN(tps(t)) ? 'n/a' : [
          ...(t === 'direct' ? [] : [perTx(t, (x) => x.proxyCpuS)]), perTx(t, (x) => x.leaderCpuS), clientPerTx(t),
        ].map((x) => fmt(x, 3)).join(', '));
        const direct = tps('direct');
        // The ratio of each repetition (the target and direct ran back to back, under the same load), then the median.
        const ratio = (t: Target) => median(pick(variant, t, mode, clients).map((x) => x.tps / (pick(variant, 'direct', mode, clients).find((d) => d.rep === x.rep)?.tps ?? NaN)));
        const cell = (t: Target) => (Number.isNaN(tps(t)) ? 'n/a' : `${fmt(tps(t))} (${ratio(t).toFixed(2)})`);
        lines.push(`| ${variant} | ${MODE_NAMES[mode]} | ${clients} | ${fmt(direct)} | ${cell('haproxy')} | ${cell('pooler')} | ${cpus('direct')} | ${cpus('haproxy')} | ${cpus('pooler')} |`);
      }
    }
  }
  const variants = VARIANTS.filter((v) => v.globalLines.length);
  if (variants.length) lines.push('', `haproxy.cfg variants (lines added to \`global\`): ${variants.map((v) => `${v.name}: \`${v.globalLines.join('; ')}\``).join(', ')}.`);
  return `${lines.join('\n')}\n`;
}

main().catch((e) => {
  process.stderr.write(`bench:router failed: ${(e as Error).stack}\n`);
  process.exitCode = 1;
});
