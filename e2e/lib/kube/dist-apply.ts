/*
 * Applying a dist/ to a running cluster, as `kubectl apply` plus the controllers behind it, in
 * Argo CD's order:
 * - objects go in sync-wave order (argocd.argoproj.io/sync-wave, default 0), within a wave by
 *   kind (Namespace, ServiceAccount, Secret, ConfigMap, Role, RoleBinding, Service, Deployment,
 *   StatefulSet, Job, ...); a wave's rollouts and Jobs finish before the next wave starts, and a
 *   failed Job stops the apply there (Argo CD's sync, which the cluster is deployed with);
 *   PostSync hooks (argocd.argoproj.io/hook: PostSync) come after every wave of the sync, in their
 *   own wave order;
 * - an object equal to what was last applied is untouched ("unchanged");
 * - a change the API server forbids (update-validation.ts) is refused with its message and that
 *   object is left as it was; the other objects still apply, as with kubectl;
 * - a Job is run when its name is new (names carry a content hash); a changed Job of the same
 *   name is refused (its template is immutable);
 * - objects applied before and absent now are deleted (workloads stop their pods), after the
 *   waves, last wave first; objects clients created (the credentials Secret) are never pruned.
 */
import { ApiObject, keyOf, ObjectStore } from './object-store';
import { canonicalJson } from './revision-hash';
import { validateObject, validateUpdate } from './update-validation';
import { WorkloadControllers } from './workload-controllers';

export interface ApplyResult {
  created: string[];
  configured: string[];
  unchanged: string[];
  deleted: string[];
  jobs: Array<{ name: string; succeeded: boolean; message: string; output?: string }>;
  /** Objects the API server would refuse, with its message; they keep their previous state. */
  rejected: Array<{ object: string; message: string }>;
  /** True when nothing was refused and every Job succeeded. */
  ok: boolean;
}

const KIND_ORDER = ['Namespace', 'NetworkPolicy', 'ResourceQuota', 'LimitRange', 'PodDisruptionBudget', 'ServiceAccount', 'Secret', 'ConfigMap',
  'StorageClass', 'PersistentVolume', 'PersistentVolumeClaim', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding',
  'Lease', 'Service', 'DaemonSet', 'Pod', 'ReplicaSet', 'Deployment', 'HorizontalPodAutoscaler', 'StatefulSet', 'Job', 'CronJob', 'Ingress'];

export interface ApplyOptions {
  /** 'argocd' (default): sync waves and hooks, as the cluster is deployed; 'kubectl': everything at once. */
  order?: 'argocd' | 'kubectl';
}

export function syncWave(o: ApiObject): number {
  return Number(o.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
}

/** Where an object's wave falls: PostSync hooks after every wave of the Sync phase. */
const POSTSYNC_AFTER = 1_000_000;
function applyStep(o: ApiObject): number {
  return syncWave(o) + (o.metadata.annotations?.['argocd.argoproj.io/hook'] === 'PostSync' ? POSTSYNC_AFTER : 0);
}

function kindRank(kind: string): number {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

export function applyOrder(objects: ApiObject[]): ApiObject[] {
  return [...objects].sort((a, b) => applyStep(a) - applyStep(b) || kindRank(a.kind) - kindRank(b.kind) || a.metadata.name.localeCompare(b.metadata.name));
}

const label = (o: ApiObject): string => `${o.kind}/${o.metadata.name}`;

export class DistApplier {
  /** What was last applied, by object key (kubectl keeps it in the last-applied-configuration annotation). */
  private readonly lastApplied = new Map<string, ApiObject>();

  constructor(private readonly store: ObjectStore, private readonly controllers: WorkloadControllers, private readonly log: (line: string) => void = () => undefined) {}

  async apply(objects: ApiObject[], opts: ApplyOptions = {}): Promise<ApplyResult> {
    const r: ApplyResult = { created: [], configured: [], unchanged: [], deleted: [], jobs: [], rejected: [], ok: true };
    const wanted = new Set(objects.map(keyOf));
    const stepOf = opts.order === 'kubectl' ? () => 0 : applyStep;
    const steps = [...new Set(applyOrder(objects).map(stepOf))];
    for (const step of steps) {
      const wave = step % POSTSYNC_AFTER;
      const work: Array<Promise<void>> = [];
      for (const o of applyOrder(objects).filter((x) => stepOf(x) === step)) {
        const before = this.lastApplied.get(keyOf(o));
        if (before && canonicalJson(before) === canonicalJson(o)) {
          r.unchanged.push(label(o));
          continue;
        }
        const refusal = before ? validateUpdate(before, o) : validateObject(o);
        if (refusal) {
          r.rejected.push({ object: label(o), message: refusal.message });
          this.log(`apply: ${label(o)} refused: ${refusal.message}`);
          continue;
        }
        (before ? r.configured : r.created).push(label(o));
        this.lastApplied.set(keyOf(o), o);
        work.push(this.carryOut(o, before, r));
      }
      await Promise.all(work);
      if (r.jobs.some((j) => !j.succeeded)) {
        this.log(`apply: a Job failed in sync wave ${wave}; later waves are not applied`);
        break;
      }
    }
    if (!r.jobs.some((j) => !j.succeeded)) await this.prune(wanted, r);
    r.ok = r.rejected.length === 0 && r.jobs.every((j) => j.succeeded);
    return r;
  }

  private async carryOut(o: ApiObject, before: ApiObject | undefined, r: ApplyResult): Promise<void> {
    const c = this.controllers;
    if (o.kind === 'StatefulSet') return before ? c.statefulSets.update(o) : c.statefulSets.create(o);
    if (o.kind === 'Deployment') return before ? c.deployments.update(o) : c.deployments.create(o);
    this.store.put(o);
    if (o.kind === 'Job' && !before) {
      this.log(`apply: running Job ${o.metadata.name}`);
      const outcome = await c.runtime.runJob(o);
      r.jobs.push({ name: o.metadata.name, ...outcome });
      this.log(`apply: Job ${o.metadata.name} ${outcome.succeeded ? 'succeeded' : 'failed'}: ${outcome.message}`);
    }
  }

  private async prune(wanted: Set<string>, r: ApplyResult): Promise<void> {
    const gone = applyOrder([...this.lastApplied.values()].filter((o) => !wanted.has(keyOf(o)))).reverse();
    for (const o of gone) {
      const ns = o.metadata.namespace ?? 'default';
      if (o.kind === 'StatefulSet') await this.controllers.statefulSets.remove(o);
      else if (o.kind === 'Deployment') await this.controllers.deployments.remove(o);
      else this.store.delete(o.kind, ns, o.metadata.name);
      this.lastApplied.delete(keyOf(o));
      r.deleted.push(label(o));
    }
  }
}
