/*
 * The scenarios on one test bed: brought up once for the suite (bring-up is
 * the first scenario); the scenarios run in order and leave the cluster
 * healthy for the next one. Each scenario holds for any member counts, names,
 * ports and timings the settings accept: it reads them from the manifests and
 * the running cluster, never assumes the defaults.
 */
import type { AppCreds } from '../lib/app-client';
import type { ApiObject } from '../lib/kube/object-store';
import { log } from '../lib/log';
import { routerPlan, RouterPlan } from '../lib/router';
import { Testbed } from '../lib/testbed';
import { bringUp } from './bring-up';
import { convergeParameters } from './converge-parameters';
import { etcdMemberDown } from './etcd-member-down';
import { etcdQuorumLoss } from './etcd-quorum-loss';
import { etcdSecurity } from './etcd-security';
import { failoverThroughPooler } from './failover-through-pooler';
import { failoverUnderWrites } from './failover-under-writes';
import { kubernetesApi, roleLabelsFollowFailover } from './kubernetes-api';
import { monitoring } from './monitoring';
import { oneReplicaDown } from './one-replica-down';
import { routing } from './routing';

export interface SuiteContext {
  bed: Testbed;
  router: RouterPlan;
  /** set by the bring-up scenario once the init Job has run */
  app: AppCreds;
  /** the leader the spilo-role label named at bring-up */
  labelledLeader?: string;
  /** the variables (over pg-ha.env) the bed's dist/ was synthesized from; unset: a dist/ that cannot be re-synthesized */
  variables?: Record<string, string>;
}

export interface SuiteOptions {
  distDir: () => string;
  addressBlock: number;
  /** the variables over pg-ha.env that synthesize the same dist/ (the day-2 scenarios change some and synthesize again) */
  variables?: Record<string, string>;
  /** the manifests have the PgBouncer pooler (POOLER=true), and its scenario runs */
  pooler?: boolean;
  /**
   * the manifests run etcd on TLS only with authentication (not the first step of the move from
   * plain etcd, ETCD_TLS_MIGRATION=true, which still serves http and keeps auth off), and the etcd
   * security scenario runs
   */
  etcdSecured?: boolean;
  /** objects put into the API stand-in before dist/ is applied, as a user creates them first (an EXISTING_SECRET) */
  seed?: (bed: Testbed) => ApiObject[];
  /** the scenarios to run, in order (default: every scenario these options call for) */
  scenarios?: Array<(ctx: SuiteContext) => void>;
}

export function scenarioSuite(title: string, options: SuiteOptions): void {
  const ctx = { variables: options.variables } as SuiteContext;
  const t0 = Date.now();

  beforeAll(async () => {
    ctx.bed = new Testbed({ distDir: options.distDir(), addressBlock: options.addressBlock });
    for (const o of options.seed?.(ctx.bed) ?? []) ctx.bed.store.put(o);
    await ctx.bed.start();
    ctx.router = routerPlan(ctx.bed);
    const r = ctx.router;
    log(`router: write port ${r.writePort} (Service ${r.writeService.name}), read port ${r.readPort} (Service ${r.readService.name}), read falls back to leader: ${r.readFallsBackToLeader}`);
  }, 240000);

  afterAll(async () => {
    await ctx.bed?.stop();
    log(`${title}: e2e total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 60000);

  describe(title, () => {
    if (options.scenarios) {
      for (const scenario of options.scenarios) scenario(ctx);
      return;
    }
    bringUp(ctx);
    kubernetesApi(ctx);
    if (options.etcdSecured) etcdSecurity(ctx);
    routing(ctx);
    monitoring(ctx);
    failoverUnderWrites(ctx);
    if (options.pooler) failoverThroughPooler(ctx);
    roleLabelsFollowFailover(ctx);
    oneReplicaDown(ctx);
    etcdMemberDown(ctx);
    etcdQuorumLoss(ctx);
    if (options.variables) convergeParameters(ctx);
  });
}
