/*
 * The start every suite and benchmark on the real-Kubernetes bed shares: the cluster up, dist/
 * synced in Argo CD's order, Patroni healthy, the application's credentials (from the Secret the
 * Jobs keep), the router's plan (its Services), and the write Service taking writes into the fault
 * table (faults.ts).
 */
import { log } from '../log';
import { PgConn } from '../pg';
import { waitFor } from '../poll';
import type { KubernetesCluster } from './cluster';
import type { DeployedPgHa } from './deployed-pg-ha';
import { ensureFaultTable } from './faults';
import { LiveRouterPlan, liveRouterPlan } from './observations';

export interface SyncedBed {
  app: { user: string; password: string; database: string };
  plan: LiveRouterPlan;
  /** the application's connection through the write Service's cluster IP */
  writeConn(): PgConn;
}

/** `beforeSync`: what a user creates before the first apply (an EXISTING_SECRET). */
export async function upAndSynced(cluster: KubernetesCluster, deployed: DeployedPgHa, beforeSync?: () => Promise<void>): Promise<SyncedBed> {
  await cluster.up();
  await beforeSync?.();
  const r = await deployed.sync();
  if (!r.ok) throw new Error(`dist/ did not sync: ${r.failure}`);
  await deployed.waitHealthy(300000);
  const app = await deployed.appCredentials();
  const plan = await liveRouterPlan(deployed);
  log(`router: writes on ${plan.write.name} ${plan.write.host}:${plan.write.port} (${plan.writeProxy}), reads on ${plan.read.name} ${plan.read.host}:${plan.read.port} (${plan.readProxy}), read fallback to the leader: ${plan.readFallsBackToLeader}`);
  const writeConn = (): PgConn => ({ host: plan.write.host, port: plan.write.port, ...app, sslmode: 'require' });
  await waitFor('the write Service takes writes', async () => ensureFaultTable(writeConn()).then(() => true, () => false), { timeoutMs: 60000, intervalMs: 1000 });
  return { app, plan, writeConn };
}
