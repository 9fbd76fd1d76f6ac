/*
 * Failover benchmark: `npm run bench:failover`.
 *
 * For each timing profile (default: the shipped SPILO_CONFIGURATION, then
 * Spilo's default timings ttl 30 / loop_wait 10 / retry_timeout 10), brings
 * up a fresh test bed from dist/ and repeats graceful and hard failovers
 * BENCH_RUNS times under continuous writes through the write Service.
 * Prints min / median / max of: seconds from the kill to the first write
 * acknowledged through the router, seconds until the old leader serves
 * again as a replica, and acknowledged writes lost.
 *
 * Environment:
 *   BENCH_RUNS=3                       failovers of each kind per profile
 *   BENCH_PROFILES=shipped,spilo-defaults
 *       a profile is `shipped`, `spilo-defaults`, or
 *       `name:ttl=..:loop_wait=..:retry_timeout=..` (overrides bootstrap.dcs timings), and
 *       `:haproxy=downinter_250ms` appends options to HAProxy's default-server (_ = space)
 *   BENCH_KINDS=graceful,hard          also: restart (SIGTERM, runit restarts Patroni 1 s later),
 *                                      crash (SIGKILL of Patroni + postgres, runit restart 1 s later)
 *   BENCH_SOAK_S=0                     per profile, also run a false-failover soak of this many
 *                                      seconds: pgbench through the write Service plus one CPU-burning
 *                                      process per core; counts leader changes (should be 0)
 *   BENCH_DOCS=docs/BENCHMARKS.md      write the results section there (BENCH_DOCS= to skip)
 *   E2E_DIST=dist                      manifests
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { appCreds, AppCreds, ensureWriteTable, initJobName, serviceConn } from '../lib/app-client';
import { DebianRoot } from '../lib/debian-root';
import { failover, FailoverKind, FailoverResult } from '../lib/failover';
import { log } from '../lib/log';
import type { DcsTiming } from '../lib/patroni-client';
import { sleep } from '../lib/poll';
import { routerPlan, RouterPlan } from '../lib/router';
import { addressBlock } from '../lib/address-plan';
import { Testbed, TestbedOptions } from '../lib/testbed';

/* eslint-disable @typescript-eslint/no-explicit-any */

interface Profile {
  name: string;
  describe: string;
  override?: TestbedOptions['spiloOverride'];
  haproxyExtra?: string;
}

function parseProfile(spec: string): Profile {
  if (spec === 'shipped') return { name: 'shipped', describe: 'SPILO_CONFIGURATION as shipped in dist/' };
  const strip = (keys: string[]) => (u: Record<string, any>) => {
    const dcs = u.bootstrap?.dcs;
    if (dcs) for (const k of keys) delete dcs[k];
    return u;
  };
  if (spec === 'spilo-defaults') {
    return {
      name: 'spilo-defaults',
      describe: "Spilo's default timings (ttl 30, loop_wait 10, retry_timeout 10)",
      override: { describe: "bench: Spilo's default timings: ttl/loop_wait/retry_timeout removed", apply: strip(['ttl', 'loop_wait', 'retry_timeout']) },
    };
  }
  const [name, ...kv] = spec.split(':');
  const values: Record<string, number | string> = {};
  let haproxyExtra: string | undefined;
  for (const p of kv) {
    const [k, v] = p.split('=');
    if (k === 'haproxy') haproxyExtra = v.replace(/_/g, ' ');
    else values[k] = /^\d+$/.test(v) ? Number(v) : v;
  }
  const desc = [...Object.entries(values).map(([k, v]) => `${k} ${v}`), ...(haproxyExtra ? [`HAProxy default-server + "${haproxyExtra}"`] : [])].join(', ');
  return {
    name,
    describe: desc,
    haproxyExtra,
    override: {
      describe: `bench profile ${name}: ${desc}`,
      apply: (u) => {
        u.bootstrap ??= {};
        u.bootstrap.dcs ??= {};
        for (const [k, v] of Object.entries(values)) {
          if (k.includes('.')) {
            // e.g. postgresql.parameters.wal_retrieve_retry_interval=1s
            const parts = k.split('.');
            let o = u.bootstrap.dcs;
            for (const x of parts.slice(0, -1)) o = o[x] ??= {};
            o[parts[parts.length - 1]] = v;
          } else u.bootstrap.dcs[k] = v;
        }
        return u;
      },
    },
  };
}

const stats = (xs: number[]): { min: number; median: number; max: number } => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { min: s[0], median: mid, max: s[s.length - 1] };
};

const fmt = (x: { min: number; median: number; max: number }, d = 2): string => `${x.min.toFixed(d)} / ${x.median.toFixed(d)} / ${x.max.toFixed(d)}`;

interface SoakResult {
  seconds: number;
  leaderChanges: number;
  leaders: string[];
  pgbenchTps?: string;
  hogs: number;
}

interface ProfileResult {
  profile: Profile;
  timing: DcsTiming;
  results: FailoverResult[];
  bringUpS: number;
  failures: string[];
  soak?: SoakResult;
}

/**
 * False-failover soak: pgbench through the write Service and one busy loop per core (all started
 * by the test bed's supervisor, so teardown kills them), while the leader is polled twice a second.
 */
async function soak(bed: Testbed, router: RouterPlan, app: AppCreds, seconds: number): Promise<SoakResult> {
  await bed.patroni.waitHealthy();
  const hogs = os.cpus().length;
  const env = { PATH: '/usr/bin:/bin', PGPASSWORD: app.password, PGSSLMODE: 'require' };
  const pgbench = `/usr/lib/postgresql/${bed.root.pgVersion()}/bin/pgbench`;
  const conn = ['-h', router.writeService.host, '-p', String(router.writeService.port), '-U', app.user, app.database];
  const opts = (file: string) => ({ env, root: bed.root.path, logFile: path.join(bed.runDir, 'soak', file) });
  const sup = bed.supervisor;
  const init = sup.start('pgbench-init', 'soak/pgbench', pgbench, ['-i', '-q', '-s', '5', ...conn], opts('pgbench-init.log'));
  await init.exited;
  const bench = sup.start('pgbench', 'soak/pgbench', pgbench, ['-c', '4', '-j', '2', '-T', String(seconds), '-n', ...conn], opts('pgbench.log'));
  for (let i = 0; i < hogs; i++) sup.start(`cpu-hog-${i}`, 'soak/hog', '/bin/sh', ['-c', 'while :; do :; done'], opts('hog.log'));
  const leaders: string[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const l = await bed.patroni.leaderPod();
    const name = l?.name ?? '(none)';
    if (leaders[leaders.length - 1] !== name) leaders.push(name);
    await sleep(500);
  }
  await sup.killPod('soak/hog');
  await Promise.race([bench.exited, sleep(15000)]);
  await sup.killPod('soak/pgbench');
  const out = fs.readFileSync(path.join(bed.runDir, 'soak', 'pgbench.log'), 'utf8');
  const m = /tps = ([\d.]+)/.exec(out);
  const tps = m ? Number(m[1]).toFixed(0) : undefined;
  log(`BENCH soak ${seconds} s: leaders seen ${leaders.join(' -> ')}, pgbench tps ${tps ?? '?'}`);
  return { seconds, leaderChanges: leaders.length - 1, leaders, pgbenchTps: tps, hogs };
}

async function runProfile(distDir: string, profile: Profile, runs: number, kinds: FailoverKind[]): Promise<ProfileResult> {
  const bed = new Testbed({ distDir, addressBlock: addressBlock(), spiloOverride: profile.override, haproxyDefaultServerExtra: profile.haproxyExtra });
  const results: FailoverResult[] = [];
  const failures: string[] = [];
  const t0 = Date.now();
  try {
    await bed.start();
    await bed.patroni.waitHealthy({ timeoutMs: 180000 });
    const bringUpS = (Date.now() - t0) / 1000;
    const job = initJobName(bed);
    const jr = await bed.jobs.run(job);
    if (jr.code !== 0) throw new Error(`init Job failed (${jr.code}):\n${jr.output}`);
    const app = appCreds(bed, job);
    const router = routerPlan(bed);
    await ensureWriteTable(serviceConn(router.writeService, app));
    const timing = bed.patroni.timing();
    log(`BENCH profile ${profile.name}: ttl ${timing.ttl}, loop_wait ${timing.loop_wait}, retry_timeout ${timing.retry_timeout}`);
    for (let i = 1; i <= runs; i++) {
      for (const kind of kinds) {
        try {
          const r = await failover(bed, router, app, kind);
          results.push(r);
          log(`BENCH ${profile.name} ${kind} #${i}: outage ${r.outageS.toFixed(2)} s, rejoin ${r.rejoinS.toFixed(2)} s, lost ${r.lost}`);
        } catch (e) {
          failures.push(`${kind} #${i}: ${(e as Error).message}`);
          log(`BENCH ${profile.name} ${kind} #${i} FAILED: ${(e as Error).message}`);
        }
      }
    }
    const soakS = Number(process.env.BENCH_SOAK_S ?? 0);
    const soakResult = soakS > 0 ? await soak(bed, router, app, soakS) : undefined;
    return { profile, timing, results, bringUpS, failures, soak: soakResult };
  } finally {
    await bed.stop();
  }
}

function machine(): Record<string, string> {
  const cpu = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const free = execFileSync('free', ['-h'], { encoding: 'utf8' }).split('\n')[1].trim().split(/\s+/);
  const root = new DebianRoot();
  const deb = root.packageVersions(['etcd-server', 'patroni', `postgresql-${root.pgVersion()}`, 'haproxy', 'prometheus-postgres-exporter']);
  const os_ = /PRETTY_NAME="(.+)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.type();
  return { os: os_, kernel: os.release(), nproc: String(os.cpus().length), cpu, memory: `${free[1]} total, ${free[6] ?? '?'} available`, packages: deb, node: process.version };
}

function report(all: ProfileResult[], runs: number, wallS: number): string {
  const m = machine();
  const lines: string[] = [];
  const settings = Object.entries(process.env)
    .filter(([k]) => k.startsWith('BENCH_') && k !== 'BENCH_DOCS' && k !== 'BENCH_RUNS')
    .map(([k, v]) => `${k}=${v} `)
    .join('');
  lines.push(`Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`BENCH_RUNS=${runs} ${settings}npm run bench:failover\` (${wallS.toFixed(0)} s wall time).`);
  lines.push('');
  lines.push(`Machine: ${m.os}, kernel ${m.kernel}, ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, memory ${m.memory}; Node ${m.node}.`);
  lines.push(`Packages (Debian 13 root): ${m.packages}. Program versions: ${Object.entries(new DebianRoot().programVersions()).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  lines.push('');
  lines.push('| profile | timings | kind | runs | kill → first acknowledged write via router (s) min / median / max | kill → old leader serves as replica (s) | acknowledged writes lost | writes acknowledged |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const p of all) {
    for (const kind of ['graceful', 'hard', 'restart', 'crash'] as const) {
      const rs = p.results.filter((r) => r.kind === kind);
      if (!rs.length) continue;
      const rejoins = rs.map((r) => r.rejoinS).filter((x) => !Number.isNaN(x));
      const kept = rs.length - rejoins.length;
      lines.push(
        `| ${p.profile.name} | ttl ${p.timing.ttl}, loop_wait ${p.timing.loop_wait}, retry_timeout ${p.timing.retry_timeout} | ${kind} | ${rs.length} | ${fmt(stats(rs.map((r) => r.outageS)))} | ${rejoins.length ? fmt(stats(rejoins)) : '-'}${kept ? ` (${kept} of ${rs.length}: old leader kept the role)` : ''} | ${fmt(stats(rs.map((r) => r.lost)), 0)} | ${rs.reduce((a, r) => a + r.acked, 0)} |`,
      );
    }
  }
  lines.push('');
  for (const p of all) {
    const g = p.results.filter((r) => r.kind === 'graceful').map((r) => r.outageS);
    const h = p.results.filter((r) => r.kind === 'hard').map((r) => r.outageS);
    const lost = p.results.reduce((a, r) => a + r.lost, 0);
    const goals: string[] = [];
    if (g.length) goals.push(`graceful median ${stats(g).median.toFixed(2)} s ${stats(g).median < 5 ? '<' : '>='} 5 s`);
    const hardGoal = p.timing.ttl + p.timing.loop_wait + 5;
    if (h.length) goals.push(`hard max ${stats(h).max.toFixed(2)} s ${stats(h).max < hardGoal ? '<' : '>='} ttl + loop_wait + 5 = ${hardGoal} s`);
    goals.push(`${lost} acknowledged writes lost in ${p.results.length} failovers`);
    if (p.soak) goals.push(`soak ${p.soak.seconds} s (pgbench -c 4 through the write Service, ${p.soak.pgbenchTps ?? '?'} tps, plus ${p.soak.hogs} CPU-burning loops): ${p.soak.leaderChanges} leader changes`);
    lines.push(`- ${p.profile.name} (${p.profile.describe}): bring-up ${p.bringUpS.toFixed(1)} s; ${goals.join('; ')}${p.failures.length ? `; FAILED runs: ${p.failures.join(' | ')}` : ''}.`);
  }
  return lines.join('\n');
}

function writeDocs(file: string, section: string): void {
  const start = '<!-- failover-bench:start -->';
  const end = '<!-- failover-bench:end -->';
  const block = `${start}\n${section}\n${end}`;
  let doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  if (doc.includes(start) && doc.includes(end)) {
    doc = doc.slice(0, doc.indexOf(start)) + block + doc.slice(doc.indexOf(end) + end.length);
  } else {
    doc = `${doc.trimEnd()}\n\n## Failover (e2e test bed)\n\n${block}\n`;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, doc);
  log(`results written to ${file}`);
}

async function main(): Promise<void> {
  const root = path.join(__dirname, '..', '..');
  const distDir = process.env.E2E_DIST ?? path.join(root, 'dist');
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error(`BENCH_RUNS must be 1..50 (got ${process.env.BENCH_RUNS})`);
  const profiles = (process.env.BENCH_PROFILES ?? 'shipped,spilo-defaults').split(',').map((s) => parseProfile(s.trim()));
  const kinds = (process.env.BENCH_KINDS ?? 'graceful,hard').split(',').map((s) => s.trim()) as FailoverKind[];
  const t0 = Date.now();
  const all: ProfileResult[] = [];
  for (const p of profiles) all.push(await runProfile(distDir, p, runs, kinds));
  const section = report(all, runs, (Date.now() - t0) / 1000);
  process.stdout.write(`\n${section}\n\n`);
  const docs = process.env.BENCH_DOCS ?? path.join(root, 'docs', 'BENCHMARKS.md');
  if (docs) writeDocs(path.isAbsolute(docs) ? docs : path.join(root, docs), section);
  const resultsFile = path.join(root, '.e2e', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
  fs.writeFileSync(resultsFile, JSON.stringify(all, null, 2));
  log(`raw results: ${resultsFile}`);
  if (all.some((p) => p.failures.length)) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
