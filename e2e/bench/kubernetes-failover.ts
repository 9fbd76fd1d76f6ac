/*
 * Failover on the real-Kubernetes bed: `npm run bench:kubernetes-failover`.
 *
 * Brings up the bed (e2e/lib/kubernetes), syncs dist/ in Argo CD's order, then repeats, under a
 * write load through the write Service's cluster IP (kube-proxy -> HAProxy -> leader):
 *   - the leader's pod deleted (Kubernetes' SIGTERM, Patroni's handover, the StatefulSet's new pod);
 *   - the leader's whole node lost (kubelet, containerd, containers killed), then restarted.
 * Prints min / median / max of the seconds from the fault to the first acknowledged write, the
 * seconds without acknowledged writes, and the acknowledged writes lost; writes the section
 * "Failover on real Kubernetes" of docs/BENCHMARKS.md.
 *
 *   BENCH_RUNS=3                   faults of each kind
 *   BENCH_DOCS=docs/BENCHMARKS.md  where to write the section (BENCH_DOCS= to skip)
 *   E2E_DIST, E2E_KUBERNETES_BLOCK as for the bed (e2e/lib/kubernetes/bed-options.ts)
 */
import * as os from 'os';
import * as path from 'path';
import { log } from '../lib/log';
import { bedBlock, distUnderTest } from '../lib/kubernetes/bed-options';
import { KubernetesCluster } from '../lib/kubernetes/cluster';
import { KUBERNETES_VERSION } from '../lib/kubernetes/components';
import { DeployedPgHa } from '../lib/kubernetes/deployed-pg-ha';
import { deleteLeaderPod, ensureFaultTable, FaultResult, loseLeaderNode } from '../lib/kubernetes/faults';
import { writeBenchSection } from './report';

const runs = Number(process.env.BENCH_RUNS ?? 3);

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(2);
  return s.length ? `${f(s[0])} / ${f(s[Math.floor((s.length - 1) / 2)])} / ${f(s[s.length - 1])}` : '-';
}

async function main(): Promise<void> {
  const cluster = new KubernetesCluster({ block: bedBlock(0) });
  const results: FaultResult[] = [];
  try {
    await cluster.up();
    const deployed = new DeployedPgHa(cluster, distUnderTest());
    const sync = await deployed.sync();
    if (!sync.ok) throw new Error(`dist/ did not sync: ${sync.failure}`);
    const app = await deployed.appCredentials();
    const w = deployed.routerService('write');
    const conn = { host: await deployed.serviceAddress(w.name), port: w.port, ...app, sslmode: 'require' as const };
    await deployed.waitHealthy();
    await ensureFaultTable(conn);
    for (let i = 0; i < runs; i++) {
      results.push(await deleteLeaderPod(cluster, deployed, conn));
      results.push(await loseLeaderNode(cluster, deployed, conn));
    }
  } finally {
    await cluster.down();
  }
  const rows = (['pod-deleted', 'node-lost'] as const).map((kind) => {
    const rs = results.filter((r) => r.kind === kind);
    const what = kind === 'pod-deleted' ? "leader's pod deleted (graceful)" : "leader's node lost (hard)";
    return `| ${what} | ${rs.length} | ${stats(rs.map((r) => r.firstWriteS))} | ${stats(rs.map((r) => r.unavailableS))} | ${rs.reduce((n, r) => n + r.lost, 0)} |`;
  });
  const section = [
    `Kubernetes ${KUBERNETES_VERSION} on this machine (3 nodes, containerd, kube-proxy in iptables mode, CoreDNS; ${os.cpus().length} cores),`,
    `\`${path.relative(path.join(__dirname, '..', '..'), distUnderTest()) || 'dist'}\` synced in Argo CD's order; writes through the write Service's cluster IP. \`BENCH_RUNS=${runs} npm run bench:kubernetes-failover\`, ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| Fault | Runs | First write on the new leader after (s, min / median / max) | Without writes (s) | Acknowledged writes lost |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  process.stdout.write(`${section}\n`);
  const docs = process.env.BENCH_DOCS ?? path.join(__dirname, '..', '..', 'docs', 'BENCHMARKS.md');
  if (docs) writeBenchSection(docs, 'bench-kubernetes-failover', 'Failover on real Kubernetes', section);
  log(`done: ${results.length} faults`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
