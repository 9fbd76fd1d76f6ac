/*
 * What the router costs: `npm run bench:router`, on the real-Kubernetes bed (e2e/lib/kubernetes).
 *
 * Brings up a bed (block E2E_KUBERNETES_BLOCK + 8) with a dist/ synthesized with the pooler on
 * (POOLER=true, ROUTER_REPLICAS=1, POOLER_REPLICAS=1: each path has exactly one proxy process),
 * synced in Argo CD's order (the init Job creates the application role and its Secret), loads
 * pgbench's tables (scale BENCH_SCALE) and runs pgbench (the Debian root's) over TLS
 * (sslmode=require, SCRAM) as the application role, with the credentials of the `<scope>-app`
 * Secret, from the host against:
 *   direct  -> the leader pod's IP, PostgreSQL's port
 *   haproxy -> the router pod's IP, its write port (TCP passthrough to the leader)
 *   service -> the write Service's cluster IP: kube-proxy's iptables DNAT -> the router pod -> the leader
 *   pooler  -> the pooler pod's IP (PgBouncer, transaction mode) -> the write Service -> the router -> the leader
 * for select-only (-S), TPC-B-like (the default script) and select-only with a new connection per
 * transaction (-S -C), at each client count, BENCH_REPEAT times, the targets interleaved so that the
 * machine's load drifts over all of them alike. Prints the median tps, the ratios to direct, the CPU
 * each proxy container (its cgroup's cpuacct), the leader pod and pgbench used per transaction, and
 * the load average; writes the `router-bench` section of docs/BENCHMARKS.md.
 *
 * HAProxy variants (BENCH_HAPROXY, comma list): `shipped` is the router ConfigMap's haproxy.cfg; any
 * other `name:line;line` adds those lines to its `global` section (`_` = space), e.g.
 * `nbthread1:nbthread_1`; the ConfigMap is applied and the router Deployment rolled out with each one.
 *
 * Environment: BENCH_SECONDS=10, BENCH_REPEAT=3, BENCH_CLIENTS=8,64, BENCH_SCALE=10,
 * BENCH_TARGETS=direct,haproxy,service,pooler, BENCH_MODES=select,tpcb,connect, BENCH_HAPROXY=shipped,
 * BENCH_VARIANT_MODES=select, BENCH_VARIANT_CLIENTS=8, BENCH_DOCS=docs/BENCHMARKS.md (BENCH_DOCS= to
 * skip); E2E_KUBERNETES_BLOCK, E2E_DIST as for the bed (e2e/lib/kubernetes/bed-options.ts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { log } from '../lib/log';
import { waitFor } from '../lib/poll';
import { bedBlock } from '../lib/kubernetes/bed-options';
import type { KubernetesCluster } from '../lib/kubernetes/cluster';
import { KUBERNETES_VERSION } from '../lib/kubernetes/components';
import type { DeployedPgHa, LivePod } from '../lib/kubernetes/deployed-pg-ha';
import type { KubeObject } from '../lib/kubernetes/kube-client';
import { cgroupCpuSeconds, cpuCgroup } from '../lib/kubernetes/pod-cpu';
import { withBenchBed } from './bed';
import { LoadSampler, machineLine, median, writeBenchSection } from './report';

const env = process.env;
const SECONDS = Number(env.BENCH_SECONDS ?? 10);
const REPEAT = Number(env.BENCH_REPEAT ?? 3);
const CLIENTS = (env.BENCH_CLIENTS ?? '8,64').split(',').map(Number);
const SCALE = Number(env.BENCH_SCALE ?? 10);
const TARGETS = (env.BENCH_TARGETS ?? 'direct,haproxy,service,pooler').split(',') as Target[];
const MODES = (env.BENCH_MODES ?? 'select,tpcb,connect').split(',') as Mode[];
const VARIANTS = (env.BENCH_HAPROXY ?? 'shipped').split(',').map(parseVariant);
const VARIANT_MODES = (env.BENCH_VARIANT_MODES ?? 'select').split(',') as Mode[];
const VARIANT_CLIENTS = (env.BENCH_VARIANT_CLIENTS ?? '8').split(',').map(Number);
const SETTINGS = { POOLER: 'true', ROUTER_REPLICAS: '1', POOLER_REPLICAS: '1' };

type Target = 'direct' | 'haproxy' | 'service' | 'pooler';
type Mode = 'select' | 'tpcb' | 'connect';
const MODE_ARGS: Record<Mode, string[]> = { select: ['-S'], tpcb: [], connect: ['-S', '-C'] };
const MODE_NAMES: Record<Mode, string> = { select: 'select-only', tpcb: 'TPC-B-like', connect: 'select-only, new connection per transaction (-C)' };
const PROXIES: Record<Target, string> = { direct: '', haproxy: 'HAProxy', service: 'HAProxy', pooler: 'PgBouncer + HAProxy' };

interface Variant { name: string; globalLines: string[] }
function parseVariant(spec: string): Variant {
  if (spec === 'shipped') return { name: 'shipped', globalLines: [] };
  const [name, lines = ''] = spec.split(':');
  return { name, globalLines: lines.split(';').filter(Boolean).map((l) => l.replace(/_/g, ' ')) };
}

interface Sample { variant: string; target: Target; mode: Mode; clients: number; rep: number; tps: number; load1: number; proxyCpuS: number; leaderCpuS: number; clientCpuS: number }
interface Endpoint { host: string; port: number }
interface App { user: string; password: string; database: string }

/** Where each target is, and the cgroups of the proxies on its path. */
interface Paths { conns: Record<Target, Endpoint>; proxyCgroups: Record<Target, string[]>; leaderCgroup: string; placement: string }

/**
 * Runs the Debian root's pgbench to completion (a process of the bed's Supervisor: torn down with
 * it) under a shell whose `times` gives pgbench's own CPU time (user + system of the reaped child).
 */
async function pgbench(cluster: KubernetesCluster, name: string, conn: Endpoint, app: App, args: string[]): Promise<{ out: string; clientCpuS: number }> {
  const bin = `/usr/lib/postgresql/${cluster.root.pgVersion()}/bin/pgbench`;
  const logFile = path.join(cluster.runDir, 'bench', `${name}.log`);
  fs.rmSync(logFile, { force: true });
  const started = cluster.supervisor.start(name, 'bench', '/bin/sh', ['-c', '"$0" "$@"; s=$?; times; exit $s', bin, '-h', conn.host, '-p', String(conn.port), '-U', app.user, ...args, app.database], {
    env: { PGPASSWORD: app.password, PGSSLMODE: 'require', PGSSLCERT: '/nonexistent', PGSSLKEY: '/nonexistent', HOME: '/tmp', PATH: '/usr/bin:/bin' },
    root: cluster.root.path,
    logFile,
  });
  // The supervisor does not keep Node's event loop alive: a timer does, until pgbench exits.
  const keepAlive = setInterval(() => undefined, 1000);
  const code = await started.exited.finally(() => clearInterval(keepAlive));
  const out = fs.readFileSync(logFile, 'utf8');
  if (code !== 0) throw new Error(`pgbench ${args.join(' ')} against ${conn.host}:${conn.port} exited ${code}:\n${out.slice(-2000)}`);
  // `times`: the shell's user and system time, then its children's (pgbench)
  const times = [...out.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)].pop();
  const clientCpuS = times ? 60 * Number(times[1]) + Number(times[2]) + 60 * Number(times[3]) + Number(times[4]) : NaN;
  return { out, clientCpuS };
}

/** The one ready, running pod of a Deployment (after a rollout: the new one alone). */
async function onlyPod(deployed: DeployedPgHa, workload: KubeObject, differentFrom?: string): Promise<LivePod> {
  return waitFor(`one ready pod of ${workload.metadata.name}${differentFrom ? ` other than ${differentFrom}` : ''}`, async () => {
    const pods = await deployed.pods(workload);
    return pods.length === 1 && pods[0].ready && !pods[0].deleting && pods[0].uid !== differentFrom ? pods[0] : undefined;
  }, { timeoutMs: 180000, intervalMs: 500 });
}

const containerPort = (workload: KubeObject, name: string): number => {
  const port = (workload.spec.template.spec.containers as Array<{ ports?: Array<{ name: string; containerPort: number }> }>).flatMap((c) => c.ports ?? []).find((p) => p.name === name);
  if (!port) throw new Error(`${workload.metadata.name} has no container port named ${name}`);
  return port.containerPort;
};

async function paths(cluster: KubernetesCluster, deployed: DeployedPgHa, previousRouter?: string): Promise<Paths> {
  const pooler = deployed.one('Deployment', (d) => /pgbouncer/.test(d.spec.template.spec.containers[0].image), 'pooler Deployment (POOLER=true)');
  const leader = await deployed.leader();
  const routerPod = await onlyPod(deployed, deployed.router, previousRouter);
  const poolerPod = await onlyPod(deployed, pooler);
  const write = deployed.routerService('write');
  const ns = deployed.namespace;
  const haproxy = await cpuCgroup(cluster, ns, routerPod.name, deployed.router.spec.template.spec.containers[0].name);
  const pgbouncer = await cpuCgroup(cluster, ns, poolerPod.name, pooler.spec.template.spec.containers[0].name);
  return {
    conns: {
      direct: { host: leader.ip, port: deployed.postgresPort },
      haproxy: { host: routerPod.ip, port: containerPort(deployed.router, 'write') },
      service: { host: await deployed.serviceAddress(write.name), port: write.port },
      pooler: { host: poolerPod.ip, port: containerPort(pooler, 'pgbouncer') },
    },
    proxyCgroups: { direct: [], haproxy: [haproxy], service: [haproxy], pooler: [pgbouncer, haproxy] },
    leaderCgroup: await cpuCgroup(cluster, ns, leader.name),
    placement: `leader ${leader.name} on ${leader.node}, router ${routerPod.name} on ${routerPod.node}, pooler ${poolerPod.name} on ${poolerPod.node}`,
  };
}

/** The router's ConfigMap with lines added to haproxy.cfg's `global` section, applied, and the router rolled out. */
async function applyVariant(cluster: KubernetesCluster, deployed: DeployedPgHa, variant: Variant): Promise<void> {
  const volume = (deployed.router.spec.template.spec.volumes as Array<{ configMap?: { name: string } }>).find((v) => v.configMap);
  const cm = structuredClone(deployed.one('ConfigMap', (c) => c.metadata.name === volume?.configMap?.name && 'haproxy.cfg' in (c.data ?? {}), "router's haproxy.cfg ConfigMap"));
  cm.data['haproxy.cfg'] = cm.data['haproxy.cfg'].replace(/^global\n/m, `global\n${variant.globalLines.map((l) => `    ${l}`).join('\n')}\n`);
  await cluster.api.run(['apply', '-f', '-'], JSON.stringify(cm));
  await cluster.api.run(['rollout', 'restart', '-n', deployed.namespace, `deployment/${deployed.router.metadata.name}`]);
  log(`BENCH haproxy variant ${variant.name}: ${variant.globalLines.join('; ')}`);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const samples: Sample[] = [];
  const load = new LoadSampler();
  let placement = '';
  await withBenchBed(bedBlock(8), SETTINGS, async ({ cluster, deployed }) => {
    const app = await deployed.appCredentials();
    let p = await paths(cluster, deployed);
    placement = p.placement;
    log(`BENCH router: ${p.placement}; ${TARGETS.map((t) => `${t} ${p.conns[t].host}:${p.conns[t].port}`).join(', ')}`);
    await pgbench(cluster, 'init', p.conns.direct, app, ['-i', '-q', '-s', String(SCALE)]);
    const run = async (variant: string, target: Target, mode: Mode, clients: number, rep: number) => {
      const cpu = () => ({ proxy: p.proxyCgroups[target].reduce((s, d) => s + cgroupCpuSeconds(d), 0), leader: cgroupCpuSeconds(p.leaderCgroup) });
      const c0 = cpu();
      const load1 = os.loadavg()[0];
      const { out, clientCpuS } = await pgbench(cluster, `${variant}-${target}-${mode}-${clients}-${rep}`, p.conns[target], app, ['-n', '-c', String(clients), '-j', '2', '-T', String(SECONDS), ...MODE_ARGS[mode]]);
      const c1 = cpu();
      const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1]);
      samples.push({ variant, target, mode, clients, rep, tps, load1, proxyCpuS: c1.proxy - c0.proxy, leaderCpuS: c1.leader - c0.leader, clientCpuS });
      log(`BENCH ${variant} ${target} ${mode} c=${clients} #${rep}: ${tps.toFixed(0)} tps, CPU s: proxies ${(c1.proxy - c0.proxy).toFixed(2)}, leader ${(c1.leader - c0.leader).toFixed(2)}, pgbench ${clientCpuS.toFixed(2)}; load ${load1.toFixed(2)}`);
    };
    for (const variant of VARIANTS) {
      if (variant.name !== 'shipped') {
        const before = (await onlyPod(deployed, deployed.router)).uid;
        await applyVariant(cluster, deployed, variant);
        p = await paths(cluster, deployed, before);
      }
      // The full matrix with the shipped haproxy.cfg; each variant against direct in VARIANT_MODES only.
      const shipped = variant.name === 'shipped';
      const targets = shipped ? TARGETS : TARGETS.filter((t) => t === 'direct' || t === 'haproxy');
      for (let rep = 1; rep <= REPEAT; rep++) {
        for (const mode of shipped ? MODES : VARIANT_MODES) {
          for (const clients of shipped ? CLIENTS : VARIANT_CLIENTS) for (const target of targets) await run(variant.name, target, mode, clients, rep);
        }
      }
    }
  });
  const root = path.join(__dirname, '..', '..');
  const resultsFile = path.join(root, '.e2e', `bench-router-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
  fs.writeFileSync(resultsFile, JSON.stringify(samples, null, 2));
  const text = report(samples, placement, load.stop(), (Date.now() - t0) / 1000);
  process.stdout.write(text);
  const docs = env.BENCH_DOCS ?? 'docs/BENCHMARKS.md';
  if (docs) writeBenchSection(path.isAbsolute(docs) ? docs : path.join(root, docs), 'router-bench', 'What the router costs (real Kubernetes)', text);
}

function report(samples: Sample[], placement: string, loadRange: string, wallS: number): string {
  const shown = TARGETS.filter((t) => t !== 'direct');
  const lines = [
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:router\` on the real-Kubernetes bed (Kubernetes ${KUBERNETES_VERSION}, 3 nodes, kube-proxy in iptables mode; ${placement}; pgbench on the host): `
      + `pgbench ${SECONDS} s per run, median of ${REPEAT} runs (targets interleaved), scale ${SCALE}, TLS (sslmode=require), SCRAM; ratios: median of each repetition's target / direct. `
      + `${machineLine()}; 1-minute load average during the run (min / median / max, the bed and pgbench included): ${loadRange}; wall ${wallS.toFixed(0)} s. `
      + 'CPU ms per transaction, from the cgroups (cpuacct): the proxy containers in the path (HAProxy; PgBouncer + HAProxy), the leader pod (PostgreSQL, Patroni, exporter), pgbench.',
    '',
    `| haproxy.cfg | workload | clients | direct tps | ${shown.map((t) => `${t} tps (/ direct)`).join(' | ')} | CPU ms/tx direct: leader, pgbench | ${shown.map((t) => `${t}: ${PROXIES[t]}, leader, pgbench`).join(' | ')} |`,
    `|---|---|---|---|${shown.map(() => '---|').join('')}---|${shown.map(() => '---|').join('')}`,
  ];
  const pick = (variant: string, target: Target, mode: Mode, clients: number) => samples.filter((s) => s.variant === variant && s.target === target && s.mode === mode && s.clients === clients);
  const fmt = (x: number, digits = 0) => (Number.isNaN(x) ? 'n/a' : x.toFixed(digits));
  for (const variant of VARIANTS.map((v) => v.name)) {
    const shipped = variant === 'shipped';
    for (const mode of shipped ? MODES : VARIANT_MODES) {
      for (const clients of shipped ? CLIENTS : VARIANT_CLIENTS) {
        const med = (t: Target, f: (x: Sample) => number) => { const xs = pick(variant, t, mode, clients); return xs.length ? median(xs.map(f)) : NaN; };
        const tps = (t: Target) => med(t, (x) => x.tps);
        const perTx = (t: Target, cpu: (x: Sample) => number) => med(t, (x) => (1000 * cpu(x)) / (x.tps * SECONDS));
        const cpus = (t: Target) => (Number.isNaN(tps(t)) ? 'n/a' : [
          ...(t === 'direct' ? [] : [perTx(t, (x) => x.proxyCpuS)]), perTx(t, (x) => x.leaderCpuS), perTx(t, (x) => x.clientCpuS),
        ].map((x) => fmt(x, 3)).join(', '));
        // The ratio of each repetition (the target and direct ran back to back, under the same load), then the median.
        const ratio = (t: Target) => median(pick(variant, t, mode, clients).map((x) => x.tps / (pick(variant, 'direct', mode, clients).find((d) => d.rep === x.rep)?.tps ?? NaN)));
        const cell = (t: Target) => (Number.isNaN(tps(t)) ? 'n/a' : `${fmt(tps(t))} (${ratio(t).toFixed(2)})`);
        lines.push(`| ${variant} | ${MODE_NAMES[mode]} | ${clients} | ${fmt(tps('direct'))} | ${shown.map(cell).join(' | ')} | ${cpus('direct')} | ${shown.map(cpus).join(' | ')} |`);
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
