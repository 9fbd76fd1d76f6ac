/*
 * Bring up the real-Kubernetes bed by hand: `npx tsx e2e/up.ts [--hold] [--no-dist]`.
 * Starts the control plane and three nodes, syncs dist/ (or $E2E_DIST) in Argo CD's order, waits
 * for a healthy Patroni cluster and prints a `READY {...}` line with the kubeconfig, so
 *   kubectl --kubeconfig <kubeconfig> get pods -A
 *   kubectl --kubeconfig <kubeconfig> -n pg-ha logs pg-ha-0 -c postgres
 *   kubectl --kubeconfig <kubeconfig> -n pg-ha exec pg-ha-0 -c postgres -- patronictl list
 *   kubectl --kubeconfig <kubeconfig> apply -f dist/
 * work against it (the kubectl built with the cluster: /var/cache/pg-ha-e2e/bin/kubectl). With
 * --hold it stays up until ^C (SIGINT/SIGTERM/SIGHUP), then tears everything down; without, it
 * tears down at once. E2E_KUBERNETES_BLOCK picks the address block (0..31).
 */
import { log } from './lib/log';
import { handleStopSignal } from './lib/process-supervisor';
import { bedBlock, distUnderTest } from './lib/kubernetes/bed-options';
import { KubernetesCluster } from './lib/kubernetes/cluster';
import { KUBERNETES_BINARY } from './lib/kubernetes/components';
import { DeployedPgHa } from './lib/kubernetes/deployed-pg-ha';

async function main(): Promise<void> {
  const cluster = new KubernetesCluster({ block: bedBlock(0) });
  const t0 = Date.now();
  try {
    await cluster.up();
    const ready: Record<string, unknown> = { pid: process.pid, block: cluster.opts.block, kubeconfig: cluster.kubeconfig, kubectl: KUBERNETES_BINARY.replace(/kubernetes$/, 'kubectl'), apiServer: cluster.controlPlane.server, nodes: cluster.nodes.map((n) => `${n.name} ${n.address}`) };
    if (!process.argv.includes('--no-dist')) {
      const deployed = new DeployedPgHa(cluster, distUnderTest());
      const r = await deployed.sync();
      if (!r.ok) throw new Error(`dist/ did not sync: ${r.failure}`);
      const members = await deployed.waitHealthy();
      ready.namespace = deployed.namespace;
      ready.members = members.map((m) => `${m.name} ${m.role} ${m.state} ${m.host}`);
    }
    ready.seconds = Number(((Date.now() - t0) / 1000).toFixed(1));
    process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
    if (process.argv.includes('--hold')) {
      log(`holding the cluster; \`${ready.kubectl} --kubeconfig ${cluster.kubeconfig} get pods -A\`; ^C tears it down`);
      const keepAlive = setInterval(() => undefined, 1 << 30);
      const sig = await new Promise<NodeJS.Signals>((resolve) => handleStopSignal(resolve));
      clearInterval(keepAlive);
      log(`${sig}: tearing down`);
    }
  } finally {
    await cluster.down();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
