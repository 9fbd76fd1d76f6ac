/*
 * A benchmark's real-Kubernetes bed: the cluster up on its address block, a dist/ synthesized as a
 * user makes it (`npm run synth` over the dist/ under test, with pg-ha.env and the given settings)
 * and synced in Argo CD's order, Patroni healthy. Everything is torn down when `use` returns or throws.
 */
import { log } from '../lib/log';
import { KubernetesCluster } from '../lib/kubernetes/cluster';
import { distUnderTest } from '../lib/kubernetes/bed-options';
import { DeployedPgHa } from '../lib/kubernetes/deployed-pg-ha';
import { upAndSynced } from '../lib/kubernetes/synced-bed';
import { removeVariant, synthVariant } from '../lib/synth-variant';

export interface BenchBed {
  cluster: KubernetesCluster;
  deployed: DeployedPgHa;
  /** seconds from the start to a synced, healthy cluster */
  bringUpS: number;
}

export async function withBenchBed<T>(block: number, settings: Record<string, string>, use: (bed: BenchBed) => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const dist = Object.keys(settings).length ? synthVariant(distUnderTest(), settings) : undefined;
  const cluster = new KubernetesCluster({ block });
  try {
    const deployed = new DeployedPgHa(cluster, dist ?? distUnderTest());
    await upAndSynced(cluster, deployed);
    const bringUpS = (Date.now() - t0) / 1000;
    log(`BENCH bed ${block} up, synced and healthy in ${bringUpS.toFixed(0)} s (${JSON.stringify(settings)})`);
    return await use({ cluster, deployed, bringUpS });
  } finally {
    await cluster.down();
    if (dist) removeVariant(dist);
  }
}
