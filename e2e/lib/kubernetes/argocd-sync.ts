/*
 * dist/ applied to the real API server with kubectl, in the order Argo CD syncs it:
 *   - phases PreSync, Sync, PostSync (argocd.argoproj.io/hook); objects without a hook are Sync;
 *   - within a phase, by sync wave (argocd.argoproj.io/sync-wave, default 0), then by kind in
 *     Argo CD's kind order; a wave's objects must be healthy (workloads rolled out and ready,
 *     hook Jobs complete) before the next wave, and a failed hook Job fails the sync there;
 *   - hooks with hook-delete-policy BeforeHookCreation replace an earlier object of their name;
 *   - with prune (`prunable`), the objects the previous revision had and this one has not are
 *     deleted once every wave is healthy (as Argo CD's PruneLast=true); hooks are never pruned
 *     (Argo CD leaves them to their delete policy and ttlSecondsAfterFinished).
 * Everything goes through `kubectl apply` (client-side, as Argo CD does by default) with the
 * cluster's admin identity; what the Jobs and pods then do, they do through their own
 * ServiceAccounts.
 */
import * as YAML from 'yaml';
import { log } from '../log';
import { sleep } from '../poll';
import { KubeClient, KubeObject, resourcePath } from './kube-client';

const HOOK = 'argocd.argoproj.io/hook';
const WAVE = 'argocd.argoproj.io/sync-wave';
const DELETE_POLICY = 'argocd.argoproj.io/hook-delete-policy';
const PHASES = ['PreSync', 'Sync', 'PostSync'] as const;

// Argo CD's kind order within a wave (gitops-engine's sync tasks)
const KIND_ORDER = ['Namespace', 'NetworkPolicy', 'ResourceQuota', 'LimitRange', 'PodSecurityPolicy', 'PodDisruptionBudget', 'Secret', 'ConfigMap', 'StorageClass',
  'PersistentVolume', 'PersistentVolumeClaim', 'ServiceAccount', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Service',
  'DaemonSet', 'Pod', 'ReplicationController', 'ReplicaSet', 'Deployment', 'HorizontalPodAutoscaler', 'StatefulSet', 'Job', 'CronJob', 'IngressClass', 'Ingress', 'APIService'];

export interface HookJobResult {
  name: string;
  succeeded: boolean;
  message: string;
  /** the Job's pod's log when it failed */
  output?: string;
}

export interface SyncResult {
  ok: boolean;
  applied: string[];
  jobs: HookJobResult[];
  /** the first failure (kubectl's message or a hook Job's) */
  failure?: string;
  /** the objects deleted by prune (kind namespace/name) */
  pruned?: string[];
}

export interface SyncOptions {
  /** how long one wave may take to become healthy */
  waveTimeoutMs?: number;
}

const phaseOf = (o: KubeObject): (typeof PHASES)[number] => {
  const hook = o.metadata.annotations?.[HOOK];
  return hook === 'PreSync' || hook === 'PostSync' ? hook : 'Sync';
};
const waveOf = (o: KubeObject): number => Number(o.metadata.annotations?.[WAVE] ?? 0);
const kindRank = (k: string): number => (KIND_ORDER.includes(k) ? KIND_ORDER.indexOf(k) : KIND_ORDER.length);
const describe = (o: KubeObject): string => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

const identity = (o: KubeObject): string => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** What Argo CD's prune deletes when `next` replaces `previous`: the objects `previous` had and `next` has not, hooks excepted. */
export function prunable(previous: KubeObject[], next: KubeObject[]): KubeObject[] {
  const kept = new Set(next.map(identity));
  return previous.filter((o) => !o.metadata.annotations?.[HOOK] && !kept.has(identity(o)));
}

/** Delete the objects prune removes, after a sync that succeeded; what it deleted. */
export async function prune(client: KubeClient, objects: KubeObject[]): Promise<string[]> {
  for (const o of objects) {
    await client.run(['delete', o.kind.toLowerCase(), ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []), o.metadata.name, '--ignore-not-found', '--wait=true']);
    log(`SYNC pruned ${describe(o)}`);
  }
  return objects.map(describe);
}

export async function syncLikeArgoCd(client: KubeClient, objects: KubeObject[], opts: SyncOptions = {}): Promise<SyncResult> {
  const result: SyncResult = { ok: true, applied: [], jobs: [] };
  for (const phase of PHASES) {
    const inPhase = objects.filter((o) => phaseOf(o) === phase);
    for (const wave of [...new Set(inPhase.map(waveOf))].sort((a, b) => a - b)) {
      const step = inPhase.filter((o) => waveOf(o) === wave).sort((a, b) => kindRank(a.kind) - kindRank(b.kind) || a.metadata.name.localeCompare(b.metadata.name));
      const t0 = Date.now();
      for (const hook of step.filter((o) => o.metadata.annotations?.[HOOK] && (o.metadata.annotations?.[DELETE_POLICY] ?? 'BeforeHookCreation').includes('BeforeHookCreation'))) {
        await client.kubectl(['delete', hook.kind.toLowerCase(), '-n', hook.metadata.namespace ?? 'default', hook.metadata.name, '--ignore-not-found', '--wait=true', '--cascade=foreground']);
      }
      const r = await client.kubectl(['apply', '-f', '-'], step.map((o) => YAML.stringify(o)).join('---\n'));
      if (r.code !== 0) return { ...result, ok: false, failure: `kubectl apply of ${phase} wave ${wave} failed: ${r.stderr.trim()}` };
      result.applied.push(...step.map(describe));
      const unhealthy = await waitHealthy(client, step, opts.waveTimeoutMs ?? 300000, result);
      log(`SYNC ${phase} wave ${wave}: ${step.length} objects in ${((Date.now() - t0) / 1000).toFixed(1)} s${unhealthy ? `: FAILED: ${unhealthy}` : ''}`);
      if (unhealthy) return { ...result, ok: false, failure: unhealthy };
    }
  }
  return result;
}

/** Wait until every workload and hook Job of the step is healthy; the failure, or undefined. */
async function waitHealthy(client: KubeClient, step: KubeObject[], timeoutMs: number, result: SyncResult): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  const pending = step.filter((o) => ['StatefulSet', 'Deployment', 'Job'].includes(o.kind));
  while (pending.length) {
    for (const o of [...pending]) {
      const health = await healthOf(client, o);
      if (health === 'Progressing') continue;
      pending.splice(pending.indexOf(o), 1);
      if (o.kind === 'Job') {
        const job: HookJobResult = { name: o.metadata.name, succeeded: health === 'Healthy', message: health === 'Healthy' ? 'complete' : 'failed' };
        if (!job.succeeded) job.output = (await client.kubectl(['logs', '-n', o.metadata.namespace!, `job/${o.metadata.name}`, '--all-containers', '--tail=200'])).stdout;
        result.jobs.push(job);
        if (!job.succeeded) return `Job ${o.metadata.name} failed:\n${job.output ?? ''}`;
      } else if (health !== 'Healthy') return `${describe(o)} is ${health}`;
    }
    if (!pending.length) break;
    if (Date.now() > deadline) return `not healthy after ${timeoutMs / 1000} s: ${pending.map(describe).join(', ')}`;
    await sleep(500);
  }
  return undefined;
}

/** Argo CD's health of a workload or Job: Healthy, Progressing or Degraded. */
export async function healthOf(client: KubeClient, o: KubeObject): Promise<'Healthy' | 'Progressing' | 'Degraded'> {
  const group = o.kind === 'Job' ? 'batch/v1' : 'apps/v1';
  const live = await client.get(`${resourcePath(`${o.kind.toLowerCase()}s`, o.metadata.namespace, group)}/${o.metadata.name}`);
  if (!live) return 'Progressing';
  const s = live.status ?? {};
  const wanted = live.spec.replicas ?? 1;
  if (o.kind === 'Job') {
    const done = (s.conditions ?? []).find((c: { type: string; status: string }) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    return !done ? 'Progressing' : done.type === 'Complete' ? 'Healthy' : 'Degraded';
  }
  if ((s.observedGeneration ?? 0) < (live.metadata.generation ?? 0)) return 'Progressing';
  if (o.kind === 'Deployment') return (s.updatedReplicas ?? 0) >= wanted && (s.availableReplicas ?? 0) >= wanted && (s.replicas ?? 0) === wanted ? 'Healthy' : 'Progressing';
  // StatefulSet: every replica ready; with RollingUpdate, every one at the update revision (OnDelete: ready is enough)
  const ready = (s.readyReplicas ?? 0) >= wanted;
  if (live.spec.updateStrategy?.type === 'OnDelete') return ready ? 'Healthy' : 'Progressing';
  return ready && (s.updatedReplicas ?? 0) >= wanted && s.currentRevision === s.updateRevision ? 'Healthy' : 'Progressing';
}
