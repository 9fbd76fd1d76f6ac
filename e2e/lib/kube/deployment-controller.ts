/*
 * The Deployment and ReplicaSet controllers' behaviour on the bed's pods. A pod belongs to the
 * ReplicaSet `<deployment>-<pod-template-hash>` and is named `<replicaset>-<5 random chars>`.
 * - RollingUpdate: maxSurge (default 25%, rounded up) and maxUnavailable (default 25%, rounded
 *   down) of replicas: new pods are started while the total stays <= replicas + maxSurge; old
 *   pods are stopped (not-Ready ones first) while the Ready count stays >= replicas -
 *   maxUnavailable; repeated as pods become Ready, until only new pods are left.
 * - Recreate: every old pod stopped, then the new ones started.
 * - A deleted pod is replaced by a new one from the same ReplicaSet.
 */
import * as crypto from 'crypto';
import { PodView } from './cluster-state';
import { ApiObject, ObjectStore } from './object-store';
import { PodRuntime, PodToStart } from './pod-runtime';
import { deploymentTemplateHash } from './revision-hash';
import { ControllerOptions, KeyedQueue, waitUntil } from './wait';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** An int-or-percent of a total; percentages round up or down as the Deployment controller does. */
export function intOrPercent(v: number | string | undefined, fallback: string, total: number, roundUp: boolean): number {
  const value = v ?? fallback;
  if (typeof value === 'number') return value;
  const m = /^(\d+)%$/.exec(value);
  if (!m) return Number(value);
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

export class DeploymentController {
  /** Pod templates by pod-template-hash (the ReplicaSets). */
  private readonly templates = new Map<string, any>();

  /** create/update/remove of one workload run one after the other. */
  private readonly queue = new KeyedQueue();

  constructor(private readonly store: ObjectStore, private readonly runtime: PodRuntime, private readonly opts: ControllerOptions = {}) {}

  podsOf(d: ApiObject): PodView[] {
    return this.runtime.pods().filter((p) => p.owner?.kind === 'ReplicaSet' && p.owner.name.startsWith(`${d.metadata.name}-`) && p.namespace === d.metadata.namespace);
  }

  private podSpec(d: ApiObject, hash: string): PodToStart {
    const template = this.templates.get(hash) ?? d.spec.template;
    const rs = `${d.metadata.name}-${hash}`;
    const suffix = Array.from(crypto.randomBytes(5), (b) => 'bcdfghjklmnpqrstvwxz2456789'[b % 27]).join('');
    return {
      namespace: d.metadata.namespace ?? 'default',
      name: `${rs}-${suffix}`,
      labels: { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash },
      annotations: { ...(template.metadata?.annotations ?? {}) },
      owner: { kind: 'ReplicaSet', name: rs },
      serviceAccountName: template.spec?.serviceAccountName,
      spec: template.spec ?? {},
    };
  }

  private record(d: ApiObject): ApiObject {
    this.templates.set(deploymentTemplateHash(d), d.spec.template);
    return this.store.put(d);
  }

  private key(o: ApiObject): string {
    return `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
  }

  create(d: ApiObject): Promise<void> {
    return this.update(d);
  }

  update(next: ApiObject): Promise<void> {
    return this.queue.run(this.key(next), () => this.updateNow(next));
  }

  remove(d: ApiObject): Promise<void> {
    return this.queue.run(this.key(d), () => this.removeNow(d));
  }

  private async updateNow(next: ApiObject): Promise<void> {
    const d = this.record(next);
    const hash = deploymentTemplateHash(d);
    const replicas = d.spec?.replicas ?? 1;
    const isNew = (p: PodView): boolean => p.labels['pod-template-hash'] === hash;
    if (d.spec?.strategy?.type === 'Recreate' && this.podsOf(d).some((p) => !isNew(p))) {
      for (const p of this.podsOf(d).filter((x) => !isNew(x))) await this.runtime.stopPod(p.namespace, p.name);
    }
    const surge = intOrPercent(d.spec?.strategy?.rollingUpdate?.maxSurge, '25%', replicas, true);
    const unavailable = intOrPercent(d.spec?.strategy?.rollingUpdate?.maxUnavailable, '25%', replicas, false);
    const minReady = Math.max(0, replicas - unavailable);
    for (;;) {
      const pods = this.podsOf(d);
      const fresh = pods.filter(isNew);
      const old = pods.filter((p) => !isNew(p));
      if (old.length === 0 && fresh.length === replicas && fresh.every((p) => p.ready)) return;
      let changed = false;
      // scale down a surplus of new pods (replicas lowered)
      for (const p of fresh.slice(replicas)) {
        await this.runtime.stopPod(p.namespace, p.name);
        changed = true;
      }
      let total = pods.length;
      for (let n = fresh.length; n < replicas && total < replicas + Math.max(surge, old.length === 0 ? replicas : 0); n++, total++) {
        await this.runtime.startPod(this.podSpec(d, hash));
        changed = true;
      }
      const ready = this.podsOf(d).filter((p) => p.ready).length;
      let removable = ready - minReady;
      for (const p of [...old].sort((a, b) => Number(a.ready) - Number(b.ready))) {
        if (p.ready && removable <= 0) break;
        this.opts.log?.(`Deployment ${d.metadata.name}: stopping old pod ${p.name}`);
        await this.runtime.stopPod(p.namespace, p.name);
        if (p.ready) removable--;
        changed = true;
      }
      if (!changed) {
        const before = JSON.stringify(this.podsOf(d).map((p) => [p.name, p.ready]));
        await waitUntil(() => JSON.stringify(this.podsOf(d).map((p) => [p.name, p.ready])) !== before, `Deployment ${d.metadata.name}: a pod to change state`, this.opts);
      }
    }
  }

  private async removeNow(d: ApiObject): Promise<void> {
    for (const p of this.podsOf(d)) await this.runtime.stopPod(p.namespace, p.name);
    this.store.delete('Deployment', d.metadata.namespace ?? 'default', d.metadata.name);
  }

  /** A pod was deleted or evicted: its ReplicaSet starts a replacement (if it is still wanted). */
  async recreate(namespace: string, _podName: string, replicaSet: string): Promise<void> {
    const d = this.store.list('Deployment', namespace).find((x) => replicaSet.startsWith(`${x.metadata.name}-`));
    if (!d) return;
    const hash = replicaSet.slice(d.metadata.name.length + 1);
    const current = deploymentTemplateHash(d);
    const ofCurrent = this.podsOf(d).filter((p) => p.labels['pod-template-hash'] === current).length;
    if (hash === current && ofCurrent >= (d.spec?.replicas ?? 1)) return;
    if (hash !== current) return; // an old ReplicaSet being scaled down is not refilled
    await this.runtime.startPod(this.podSpec(d, hash));
  }
}
