/*
 * Failover on the real-Kubernetes bed: `npm run bench:failover`.
 *
 * For each timing profile, brings up a bed (block E2E_KUBERNETES_BLOCK + 9) with a dist/
 * synthesized with that profile's Patroni timings (PATRONI_TTL, PATRONI_LOOP_WAIT,
 * PATRONI_RETRY_TIMEOUT over pg-ha.env, as a user sets them), synced in Argo CD's order, then
 * repeats BENCH_RUNS times, under a write load through the write Service's cluster IP
 * (kube-proxy -> HAProxy -> leader; one INSERT at a time, reconnect on any error):
 *   - pod-deleted: the leader's pod deleted (Kubernetes' SIGTERM, Patroni's handover, the
 *     StatefulSet's new pod), graceful;
 *   - node-lost: the leader's whole node lost (kubelet, containerd, kube-proxy and every container
 *     killed at once), then started again, hard.
 * Prints min / median / max of the seconds from the fault to the first write the new leader
 * acknowledged, the seconds without acknowledged writes, and the acknowledged writes lost; writes
 * the `failover-bench` section of docs/BENCHMARKS.md. The timings reported are the leader's
 * (Patroni's GET /config), not the settings asked for.
 *
 *   BENCH_RUNS=3                        faults of each kind per profile
 *   BENCH_PROFILES=shipped,spilo-defaults
 *       `shipped` (dist/'s timings), `spilo-defaults` (Spilo's ttl 30, loop_wait 10, retry_timeout 10),
 *       or `name:ttl=..:loop_wait=..:retry_timeout=..` (any of the three)
 *   BENCH_KINDS=pod-deleted,node-lost
 *   BENCH_DOCS=docs/BENCHMARKS.md       where to write the section (BENCH_DOCS= to skip)
 *   E2E_DIST, E2E_KUBERNETES_BLOCK as for the bed (e2e/lib/kubernetes/bed-options.ts)
 */
import * as fs from 'fs';
import * as path from 'path';
import { log } from '../lib/log';
import { httpJson } from '../lib/poll';
import { bedBlock, distUnderTest } from '../lib/kubernetes/bed-options';
import { KUBERNETES_VERSION } from '../lib/kubernetes/components';
import { deleteLeaderPod, ensureFaultTable, FaultResult, loseLeaderNode } from '../lib/kubernetes/faults';
import { withBenchBed } from './bed';
import { LoadSampler, machineLine, minMedianMax, writeBenchSection } from './report';

type Kind = FaultResult['kind'];
const KIND_NAMES: Record<Kind, string> = { 'pod-deleted': "leader's pod deleted (graceful)", 'node-lost': "leader's node lost (hard)" };
const VARIABLES: Record<string, string> = { ttl: 'PATRONI_TTL', loop_wait: 'PATRONI_LOOP_WAIT', retry_timeout: 'PATRONI_RETRY_TIMEOUT' };

interface Profile { name: string; settings: Record<string, string> }

function parseProfile(spec: string): Profile {
  if (spec === 'shipped') return { name: spec, settings: {} };
  if (spec === 'spilo-defaults') return { name: spec, settings: { PATRONI_TTL: '30', PATRONI_LOOP_WAIT: '10', PATRONI_RETRY_TIMEOUT: '10' } };
  const [name, ...pairs] = spec.split(':');
  const settings: Record<string, string> = {};
  for (const pair of pairs) {
    const [k, v] = pair.split('=');
    if (!VARIABLES[k] || !/^\d+$/.test(v ?? '')) throw new Error(`BENCH_PROFILES: ${JSON.stringify(pair)} in ${JSON.stringify(spec)} is not ttl=N, loop_wait=N or retry_timeout=N`);
    settings[VARIABLES[k]] = v;
  }
  if (!name || !pairs.length) throw new Error(`BENCH_PROFILES: ${JSON.stringify(spec)} is not shipped, spilo-defaults or name:ttl=..:loop_wait=..:retry_timeout=..`);
  return { name, settings };
}

interface ProfileResult { profile: Profile; timings: string; bringUpS: number; results: FaultResult[]; failures: string[] }

async function runProfile(profile: Profile, runs: number, kinds: Kind[]): Promise<ProfileResult> {
  return withBenchBed(bedBlock(9), profile.settings, async ({ cluster, deployed, bringUpS }) => {
    const app = await deployed.appCredentials();
    const w = deployed.routerService('write');
    const conn = { host: await deployed.serviceAddress(w.name), port: w.port, ...app, sslmode: 'require' as const };
    const leader = await deployed.leader();
    const config = await httpJson<Record<string, number>>(leader.ip, deployed.patroniPort, '/config', 5000);
    const timings = config ? `ttl ${config.ttl}, loop_wait ${config.loop_wait}, retry_timeout ${config.retry_timeout}` : 'unknown';
    log(`BENCH profile ${profile.name}: ${timings}`);
    await ensureFaultTable(conn);
    const results: FaultResult[] = [];
    const failures: string[] = [];
    const faults: Record<Kind, () => Promise<FaultResult>> = {
      'pod-deleted': () => deleteLeaderPod(cluster, deployed, conn),
      'node-lost': () => loseLeaderNode(cluster, deployed, conn),
    };
    for (let i = 1; i <= runs; i++) {
      for (const kind of kinds) {
        // a failed run is reported, not hidden: the next one starts from a healthy cluster again (or fails too)
        try {
          results.push(await faults[kind]());
        } catch (e) {
          failures.push(`${kind} #${i}: ${(e as Error).message.split('\n')[0]}`);
          log(`BENCH ${profile.name} ${kind} #${i} FAILED: ${(e as Error).message}`);
        }
      }
    }
    return { profile, timings, bringUpS, results, failures };
  });
}

function report(all: ProfileResult[], runs: number, loadRange: string, wallS: number): string {
  const settings = ['BENCH_PROFILES', 'BENCH_KINDS'].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]} `).join('');
  const rows = all.flatMap((p) => (Object.keys(KIND_NAMES) as Kind[]).map((kind) => {
    const rs = p.results.filter((r) => r.kind === kind);
    if (!rs.length) return [];
    return [`| ${p.profile.name} | ${p.timings} | ${KIND_NAMES[kind]} | ${rs.length} | ${minMedianMax(rs.map((r) => r.firstWriteS))} | ${minMedianMax(rs.map((r) => r.unavailableS))} | ${rs.reduce((n, r) => n + r.lost, 0)} | ${rs.reduce((n, r) => n + r.acknowledged, 0)} |`];
  }).flat());
  return [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`BENCH_RUNS=${runs} ${settings}npm run bench:failover\` (${wallS.toFixed(0)} s wall time) on the real-Kubernetes bed:`,
    `Kubernetes ${KUBERNETES_VERSION} (3 nodes, containerd, kube-proxy in iptables mode, CoreDNS), \`${path.relative(path.join(__dirname, '..', '..'), distUnderTest()) || 'dist'}\` with each profile's timings synced in Argo CD's order;`,
    `writes through the write Service's cluster IP. ${machineLine()}. 1-minute load average during the run (min / median / max, the bed included): ${loadRange}.`,
    '',
    '| Profile | Patroni timings (the leader\'s /config) | Fault | Runs | First write on the new leader after (s, min / median / max) | Without writes (s) | Acknowledged writes lost | Writes acknowledged |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    ...all.map((p) => `- ${p.profile.name}: bed up, \`dist/\` synced and Patroni healthy in ${p.bringUpS.toFixed(0)} s; ${p.results.reduce((n, r) => n + r.lost, 0)} acknowledged writes lost in ${p.results.length} faults; leaders: ${p.results.map((r) => `${r.oldLeader} -> ${r.newLeader}`).join(', ')}${p.failures.length ? `; FAILED: ${p.failures.join(' | ')}` : ''}.`),
  ].join('\n');
}

async function main(): Promise<void> {
  const root = path.join(__dirname, '..', '..');
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error(`BENCH_RUNS must be 1..50 (got ${process.env.BENCH_RUNS})`);
  const profiles = (process.env.BENCH_PROFILES ?? 'shipped,spilo-defaults').split(',').map((s) => parseProfile(s.trim()));
  const kinds = (process.env.BENCH_KINDS ?? 'pod-deleted,node-lost').split(',').map((s) => s.trim()) as Kind[];
  const unknown = kinds.filter((k) => !KIND_NAMES[k]);
  if (unknown.length) throw new Error(`BENCH_KINDS: ${unknown.join(', ')} unknown (pod-deleted, node-lost)`);
  const t0 = Date.now();
  const load = new LoadSampler();
  const all: ProfileResult[] = [];
  for (const p of profiles) all.push(await runProfile(p, runs, kinds));
  const section = report(all, runs, load.stop(), (Date.now() - t0) / 1000);
  process.stdout.write(`\n${section}\n\n`);
  const docs = process.env.BENCH_DOCS ?? path.join(root, 'docs', 'BENCHMARKS.md');
  if (docs) writeBenchSection(path.isAbsolute(docs) ? docs : path.join(root, docs), 'failover-bench', 'Failover (real Kubernetes)', section);
  const resultsFile = path.join(root, '.e2e', `bench-failover-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
  fs.writeFileSync(resultsFile, JSON.stringify(all, null, 2));
  log(`raw results: ${resultsFile}`);
  if (all.some((p) => p.failures.length)) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
