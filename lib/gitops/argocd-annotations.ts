/**
 * Argo CD annotations on the cluster's objects: sync waves in dependency order, Jobs as Sync hooks,
 * and objects Kubernetes creates on the app's behalf kept out of pruning.
 *
 * Everything here is annotations, so `kubectl apply -f dist/` behaves exactly as without Argo CD.
 */
import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import { IConstruct } from 'constructs';

/** Annotation keys Argo CD reads. */
export const ARGOCD = {
  syncWave: 'argocd.argoproj.io/sync-wave',
  hook: 'argocd.argoproj.io/hook',
  hookDeletePolicy: 'argocd.argoproj.io/hook-delete-policy',
  syncOptions: 'argocd.argoproj.io/sync-options',
  compareOptions: 'argocd.argoproj.io/compare-options',
} as const;

/**
 * Sync waves, in dependency order. Argo CD applies a wave only when every object of the previous
 * wave is healthy, so Patroni never starts before etcd answers, the router never starts before
 * the members exist, and the init Job runs once the write Service can reach a leader.
 */
export const SYNC_WAVES = {
  /** The Namespace everything else lives in. */
  namespace: -3,
  /** ServiceAccount, Role, RoleBinding and script of the secrets Job. */
  secretsPrerequisites: -2,
  /** Before any pod starts, so every pod starts under its policy (the secrets Job's egress is allowed). */
  networkPolicies: -2,
  /** The secrets Job: every pod reads the Secret it creates. */
  secretsJob: -1,
  etcd: 0,
  /** The cert-manager Certificate of PostgreSQL's TLS: Ready (its Secret exists) before the members start. */
  certificates: 0,
  postgres: 1,
  router: 2,
  /** The init Job (a Sync hook) and its ConfigMap. */
  init: 3,
  /** The converge Job's ConfigMap and ServiceAccount (the Job itself is a PostSync hook). */
  converge: 3,
  /**
   * Last: Argo CD reports an Ingress Progressing until a controller publishes its address,
   * which would hold back every later wave; monitoring objects need nothing after them either.
   * PodDisruptionBudgets too: created before their pods, a PDB allows no disruption and may not
   * report healthy; here their pods already run.
   */
  extras: 4,
  /**
   * The rollout Job, a PostSync hook (waves order hooks within their phase): it runs once every
   * object of the sync is healthy, i.e. after the StatefulSet's new template is stored.
   */
  rollout: 5,
} as const;

/** The Argo CD hooks the chart's Jobs are: Sync (in wave order) or PostSync (after everything is healthy). */
export type JobHook = 'Sync' | 'PostSync';

/** Annotations that make a Job an Argo CD hook, Sync unless said otherwise (see `annotateForArgoCd`). */
export function syncHookAnnotations(wave: number, hook: JobHook = 'Sync'): Record<string, string> {
  return {
    [ARGOCD.hook]: hook,
    [ARGOCD.hookDeletePolicy]: 'BeforeHookCreation',
    [ARGOCD.syncWave]: String(wave),
  };
}

/**
 * Annotations for objects Kubernetes creates on the app's behalf (the generated credentials
 * Secret, the StatefulSets' PVCs). They are not in git, yet they carry the app's
 * `app.kubernetes.io/instance` label; under Argo CD's label tracking (the default before 3.0) they
 * would be listed as extraneous and pruned. These make Argo CD ignore them and never delete them,
 * neither when pruning nor when the Application is deleted.
 */
export const KEEP_UNTRACKED_ANNOTATIONS: Readonly<Record<string, string>> = {
  [ARGOCD.syncOptions]: 'Prune=false,Delete=false',
  [ARGOCD.compareOptions]: 'IgnoreExtraneous',
};

/**
 * Sync options of the Namespace: deleting it deletes every PVC and the generated Secret in it, so
 * neither pruning (e.g. after CREATE_NAMESPACE=false) nor deleting the Application removes it.
 */
export const NAMESPACE_SYNC_OPTIONS = 'Prune=false,Delete=false';

/** Which part of the topology a group of constructs is, for `annotateForArgoCd`. */
export interface SyncWaveGroup {
  /** Every ApiObject under this construct gets `wave` (unless a later group claims it). */
  readonly scope: IConstruct;
  readonly wave: number;
  /**
   * The hook its Jobs are.
   * @default 'Sync'
   */
  readonly hook?: JobHook;
}

/**
 * Writes sync waves on every ApiObject of `chart`, turns every Job into a Sync hook (or the hook
 * its group says), and marks the Namespace and the PVCs of every StatefulSet as never pruned or
 * deleted by Argo CD.
 *
 * The converge and rollout Jobs are PostSync hooks: they change the running cluster to what the
 * sync applied (Patroni's configuration; pods on the new template and grown volumes), so they run
 * once every resource is healthy, converge first (their waves order them within the phase).
 *
 * Why the other Jobs are Sync hooks (not PreSync/PostSync, not plain resources):
 * - a plain Job deleted by `ttlSecondsAfterFinished` would leave the app OutOfSync forever (and
 *   self-heal would re-run it every hour); hooks are not part of the compared state;
 * - Sync hooks run inside the Sync phase in wave order, so the secrets Job (wave -1) runs after its
 *   RBAC (wave -2) and the init Job (wave 3) after the router (wave 2). A PreSync hook would run before
 *   its ServiceAccount exists on the first sync; a PostSync hook waits for every resource to be
 *   healthy, including an Ingress that may never get an address (that holds back the PostSync
 *   Jobs too: docs/day-2.md);
 * - `BeforeHookCreation` deletes the previous Job of the same name before creating it again, so a
 *   re-sync never fails on a Job's immutable pod template; a changed Job has a new (hashed) name
 *   anyway, which is also what keeps `kubectl apply -f dist/` re-runs working (hook annotations mean
 *   nothing to kubectl).
 *
 * Objects under none of `groups` get wave 0 (Argo CD's default), written explicitly so a reviewer
 * sees it; a test checks that every object is in the wave its component belongs to.
 */
export function annotateForArgoCd(chart: Chart, groups: readonly SyncWaveGroup[]): void {
  const groupOf = new Map<IConstruct, SyncWaveGroup>();
  for (const group of groups) {
    for (const child of group.scope.node.findAll()) groupOf.set(child, group);
  }
  for (const child of chart.node.findAll()) {
    if (!(child instanceof ApiObject)) continue;
    const wave = groupOf.get(child)?.wave ?? 0;
    if (child.kind === 'Job') {
      for (const [key, value] of Object.entries(syncHookAnnotations(wave, groupOf.get(child)?.hook))) child.metadata.addAnnotation(key, value);
      continue;
    }
    child.metadata.addAnnotation(ARGOCD.syncWave, String(wave));
    if (child.kind === 'StatefulSet') keepClaimsUntracked(child);
    if (child.kind === 'Namespace') child.metadata.addAnnotation(ARGOCD.syncOptions, NAMESPACE_SYNC_OPTIONS);
  }
}

/**
 * Adds KEEP_UNTRACKED_ANNOTATIONS to every volumeClaimTemplate (the StatefulSet controller copies
 * them onto the PVCs it creates). volumeClaimTemplates are immutable after creation, so this has to
 * be there from the first apply.
 */
function keepClaimsUntracked(statefulSet: ApiObject): void {
  const templates: unknown[] = statefulSet.toJson().spec?.volumeClaimTemplates ?? [];
  templates.forEach((_, i) => {
    statefulSet.addJsonPatch(JsonPatch.add(`/spec/volumeClaimTemplates/${i}/metadata/annotations`, { ...KEEP_UNTRACKED_ANNOTATIONS }));
  });
}
