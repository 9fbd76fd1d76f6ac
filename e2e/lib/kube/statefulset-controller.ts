/*
 * The StatefulSet controller's behaviour on the bed's pods. Pods are `<name>-<ordinal>` with the
 * template's labels plus `controller-revision-hash` (see revision-hash.ts), pod-name and
 * pod-index labels.
 * - Create/scale up: Parallel starts every missing ordinal at once; OrderedReady one at a time,
 *   each waiting Ready. Scale down stops the highest ordinals first.
 * - RollingUpdate: from the highest ordinal down to the partition (default 0), one pod at a time:
 *   wait until every pod is Ready, stop the outdated pod, start it at updateRevision, wait Ready.
 *   currentRevision becomes updateRevision when no pod is left on another revision.
 * - OnDelete: a template change touches no pod; a pod deleted (API delete, eviction) comes back at
 *   updateRevision. With RollingUpdate a deleted pod below the partition comes back at
 *   currentRevision, as newVersionedStatefulSetPod decides.
 * - Claims from volumeClaimTemplates are created before a pod first starts and kept or deleted
 *   per persistentVolumeClaimRetentionPolicy (volume-claims.ts).
 * (spec.updateStrategy.rollingUpdate.maxUnavailable, an alpha feature, is not implemented.)
 */
import { PodView } from './cluster-state';
import { ApiObject, ObjectStore } from './object-store';
import { PodRuntime, PodToStart } from './pod-runtime';
import { statefulSetRevision } from './revision-hash';
import { deleteClaims, ensureClaims } from './volume-claims';
import { ControllerOptions, KeyedQueue, waitUntil } from './wait';

/* eslint-disable @typescript-eslint/no-explicit-any */
export class StatefulSetController {
  /** Pod templates by revision name (the ControllerRevisions). */
  private readonly templates = new Map<string, any>();

  /** create/update/remove of one workload run one after the other. */
  private readonly queue = new KeyedQueue();

  constructor(private readonly store: ObjectStore, private readonly runtime: PodRuntime, private readonly opts: ControllerOptions = {}) {}

  private stored(ns: string, name: string): ApiObject {
    const sts = this.store.get('StatefulSet', ns, name);
    if (!sts) throw new Error(`StatefulSet ${ns}/${name} does not exist`);
    return sts;
  }

  podsOf(sts: ApiObject): PodView[] {
    return this.runtime.pods().filter((p) => p.owner?.kind === 'StatefulSet' && p.owner.name === sts.metadata.name && p.namespace === sts.metadata.namespace);
  }

  private ordinals(sts: ApiObject): number[] {
    const start = sts.spec?.ordinals?.start ?? 0;
    return Array.from({ length: sts.spec?.replicas ?? 1 }, (_, i) => start + i);
  }

  /** The pod to start for an ordinal; its claims are created first if they do not exist. */
  private podSpec(sts: ApiObject, ordinal: number, revision: string): PodToStart {
    ensureClaims(this.store, sts, ordinal);
    const template = this.templates.get(revision) ?? sts.spec.template;
    const name = `${sts.metadata.name}-${ordinal}`;
    return {
      namespace: sts.metadata.namespace ?? 'default',
      name,
      labels: {
        ...(template.metadata?.labels ?? {}),
        'controller-revision-hash': revision,
        'statefulset.kubernetes.io/pod-name': name,
        'apps.kubernetes.io/pod-index': String(ordinal),
      },
      annotations: { ...(template.metadata?.annotations ?? {}) },
      owner: { kind: 'StatefulSet', name: sts.metadata.name },
      serviceAccountName: template.spec?.serviceAccountName,
      spec: template.spec ?? {},
    };
  }

  /** The revision a (re)created pod of this ordinal gets. */
  private revisionFor(sts: ApiObject, ordinal: number): string {
    const update = statefulSetRevision(sts);
    const current = sts.status?.currentRevision ?? update;
    const strategy = sts.spec?.updateStrategy ?? { type: 'RollingUpdate' };
    if (strategy.type === 'OnDelete') return update;
    const partition = strategy.rollingUpdate?.partition ?? 0;
    return ordinal < (sts.spec?.ordinals?.start ?? 0) + partition ? current : update;
  }

  private async waitReady(sts: ApiObject, names: string[]): Promise<void> {
    await waitUntil(() => names.every((n) => this.podsOf(sts).some((p) => p.name === n && p.ready)),
      `${sts.metadata.name}: pods ${names.join(', ')} Ready`, this.opts);
  }

  /** Records the StatefulSet (status.currentRevision kept, or set for a new one) and its template revision. */
  private record(sts: ApiObject, previous?: ApiObject): ApiObject {
    const rev = statefulSetRevision(sts);
    this.templates.set(rev, sts.spec.template);
    return this.store.put({ ...sts, status: { currentRevision: previous?.status?.currentRevision ?? rev } });
  }

  private key(o: ApiObject): string {
    return `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
  }

  create(sts: ApiObject): Promise<void> {
    return this.queue.run(this.key(sts), () => this.scale(this.record(sts)));
  }

  update(next: ApiObject): Promise<void> {
    return this.queue.run(this.key(next), () => this.updateNow(next));
  }

  remove(sts: ApiObject): Promise<void> {
    return this.queue.run(this.key(sts), () => this.removeNow(sts));
  }

  private async updateNow(next: ApiObject): Promise<void> {
    const previous = this.stored(next.metadata.namespace ?? 'default', next.metadata.name);
    const sts = this.record(next, previous);
    await this.scale(sts);
    if ((sts.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') await this.rollingUpdate(sts);
    this.settleRevision(sts);
  }

  private ordinalOf(sts: ApiObject, podName: string): number {
    return Number(podName.slice(sts.metadata.name.length + 1));
  }

  /** Stops every pod; deletes the claims only under persistentVolumeClaimRetentionPolicy.whenDeleted: Delete. */
  private async removeNow(sts: ApiObject): Promise<void> {
    for (const p of this.podsOf(sts).sort((a, b) => b.name.localeCompare(a.name, undefined, { numeric: true }))) {
      await this.runtime.stopPod(p.namespace, p.name);
      if (sts.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete') deleteClaims(this.store, sts, this.ordinalOf(sts, p.name));
    }
    this.store.delete('StatefulSet', sts.metadata.namespace ?? 'default', sts.metadata.name);
  }

  /** Starts missing ordinals and stops those beyond replicas. */
  private async scale(sts: ApiObject): Promise<void> {
    const wanted = this.ordinals(sts);
    const existing = new Set(this.podsOf(sts).map((p) => p.name));
    const extra = this.podsOf(sts).filter((p) => !wanted.some((o) => `${sts.metadata.name}-${o}` === p.name))
      .sort((a, b) => b.name.localeCompare(a.name, undefined, { numeric: true }));
    for (const p of extra) {
      await this.runtime.stopPod(p.namespace, p.name);
      if (sts.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled === 'Delete') deleteClaims(this.store, sts, this.ordinalOf(sts, p.name));
    }
    const missing = wanted.filter((o) => !existing.has(`${sts.metadata.name}-${o}`));
    if (sts.spec?.podManagementPolicy === 'Parallel') {
      await Promise.all(missing.map((o) => this.runtime.startPod(this.podSpec(sts, o, this.revisionFor(sts, o)))));
      await this.waitReady(sts, wanted.map((o) => `${sts.metadata.name}-${o}`));
      return;
    }
    for (const o of missing) {
      await this.runtime.startPod(this.podSpec(sts, o, this.revisionFor(sts, o)));
      await this.waitReady(sts, [`${sts.metadata.name}-${o}`]);
    }
  }

  private async rollingUpdate(sts: ApiObject): Promise<void> {
    const update = statefulSetRevision(sts);
    const partition = sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    const start = sts.spec?.ordinals?.start ?? 0;
    const all = (): string[] => this.ordinals(sts).map((o) => `${sts.metadata.name}-${o}`);
    for (const o of [...this.ordinals(sts)].reverse()) {
      if (o < start + partition) break;
      const name = `${sts.metadata.name}-${o}`;
      const revisionOf = (): string | undefined => this.podsOf(sts).find((p) => p.name === name)?.labels['controller-revision-hash'];
      if (revisionOf() === update) continue;
      await this.waitReady(sts, all());
      const pod = this.podsOf(sts).find((p) => p.name === name);
      if (pod && revisionOf() === update) continue; // recreated at updateRevision meanwhile (deleted through the API)
      this.opts.log?.(`StatefulSet ${sts.metadata.name}: rolling ${name} to ${update}`);
      if (pod) await this.runtime.stopPod(pod.namespace, pod.name);
      await this.runtime.startPod(this.podSpec(sts, o, update));
      await this.waitReady(sts, [name]);
    }
  }

  /** currentRevision := updateRevision once every pod runs it. */
  private settleRevision(sts: ApiObject): void {
    const update = statefulSetRevision(sts);
    const pods = this.podsOf(sts);
    if (pods.length === this.ordinals(sts).length && pods.every((p) => p.labels['controller-revision-hash'] === update)) {
      const latest = this.stored(sts.metadata.namespace ?? 'default', sts.metadata.name);
      if (latest.status?.currentRevision !== update) this.store.put({ ...latest, status: { currentRevision: update } });
    }
  }

  /** A pod of this StatefulSet was deleted or evicted (and is gone): start it again, as the controller does. */
  async recreate(namespace: string, podName: string, owner: string): Promise<void> {
    const sts = this.stored(namespace, owner);
    const ordinal = this.ordinalOf(sts, podName);
    if (!this.ordinals(sts).includes(ordinal)) return;
    if (this.podsOf(sts).some((p) => p.name === podName)) return;
    await this.runtime.startPod(this.podSpec(sts, ordinal, this.revisionFor(sts, ordinal)));
    this.settleRevision(sts);
  }
}
