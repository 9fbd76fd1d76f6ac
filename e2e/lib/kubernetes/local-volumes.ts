/*
 * The bed's storage: a dynamic provisioner for `local` PersistentVolumes, the job
 * rancher's local-path-provisioner or a cloud's CSI driver does in a user's cluster.
 *
 * StorageClass `bed-local` (the default) binds WaitForFirstConsumer: the scheduler picks the node,
 * writes it on the claim (`volume.kubernetes.io/selected-node`), and this provisioner creates a
 * directory for it on that node and a `local` PV pinned to the node (node affinity) and bound to
 * the claim. A pod whose node is lost cannot move: its data is on that node, as with local disks.
 * `local` volumes get the pod's fsGroup from the kubelet (hostPath volumes would not).
 * Released volumes are deleted with their directory (reclaimPolicy Delete).
 * Growth (allowVolumeExpansion): what a CSI driver's external-resizer does, see grow().
 */
import * as fs from 'fs';
import * as path from 'path';
import { log } from '../log';
import { KubeClient, KubeObject, resourcePath } from './kube-client';

export const STORAGE_CLASS = 'bed-local';
export const PROVISIONER = 'e2e.pg-ha/local-volume';
const SELECTED_NODE = 'volume.kubernetes.io/selected-node';
const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';

export function storageClassManifest(): string {
  return `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ${STORAGE_CLASS}
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: ${PROVISIONER}
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
allowVolumeExpansion: true
`;
}

export class LocalVolumeProvisioner {
  private timer?: NodeJS.Timeout;
  private busy = false;
  private stopped = false;

  constructor(private readonly client: KubeClient, private readonly volumesDir: string) {}

  start(intervalMs = 1000): void {
    fs.mkdirSync(this.volumesDir, { recursive: true });
    this.timer = setInterval(() => void this.pass(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  private async pass(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const claims = await this.client.list(resourcePath('persistentvolumeclaims'));
      const volumes = await this.client.list(resourcePath('persistentvolumes'));
      const classes = await this.client.list(resourcePath('storageclasses', undefined, 'storage.k8s.io/v1'));
      for (const claim of claims) {
        if (claim.status?.phase === 'Pending' && claim.metadata.annotations?.[SELECTED_NODE] && this.ours(claim)) await this.provision(claim);
        if (claim.status?.phase === 'Bound' && this.ours(claim)) await this.grow(claim, volumes, classes);
      }
      for (const v of volumes) if (v.status?.phase === 'Released' && v.metadata.annotations?.[PROVISIONED_BY] === PROVISIONER) await this.remove(v);
    } catch (e) {
      if (!this.stopped) log(`local volumes: ${(e as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  private ours(claim: KubeObject): boolean {
    return (claim.spec.storageClassName ?? '') === STORAGE_CLASS;
  }

  private async provision(claim: KubeObject): Promise<void> {
    const node = claim.metadata.annotations![SELECTED_NODE];
    const name = `pvc-${claim.metadata.uid}`;
    const dir = path.join(this.volumesDir, node, name);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    const pv = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name, annotations: { [PROVISIONED_BY]: PROVISIONER } },
      spec: {
        capacity: { storage: claim.spec.resources.requests.storage },
        accessModes: claim.spec.accessModes,
        persistentVolumeReclaimPolicy: 'Delete',
        storageClassName: STORAGE_CLASS,
        volumeMode: 'Filesystem',
        local: { path: dir },
        claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: claim.metadata.namespace, name: claim.metadata.name, uid: claim.metadata.uid },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } },
      },
    };
    const r = await this.client.request('POST', resourcePath('persistentvolumes'), pv);
    if (r.status === 201) log(`local volumes: ${name} (${claim.spec.resources.requests.storage}) on ${node} for ${claim.metadata.namespace}/${claim.metadata.name}`);
    else if (r.status !== 409) log(`local volumes: creating ${name} failed: ${r.status} ${JSON.stringify(r.body)}`);
  }

  /**
   * What a CSI driver's external-resizer does for a volume without a node step (the controller
   * expands it, NodeExpansionRequired false): a bound claim whose request is above its
   * status.capacity, of a StorageClass with allowVolumeExpansion, is marked Resizing
   * (allocatedResourceStatuses ControllerResizeInProgress, allocatedResources the new size), its
   * PV's capacity is raised, then the claim's status.capacity; the condition and the in-progress
   * status are cleared, and events say so (`kubectl describe pvc`). A smaller request is left alone
   * (the API server refuses it anyway). Emulated: a `local` volume is a directory of the node's
   * file system, with no size of its own, so nothing grows underneath and `df` in the pod shows the
   * node's file system before and after.
   */
  private async grow(claim: KubeObject, volumes: KubeObject[], classes: KubeObject[]): Promise<void> {
    const wanted = claim.spec.resources.requests.storage as string;
    const have = claim.status?.capacity?.storage as string | undefined;
    if (!have || have === wanted || quantityBytes(wanted) <= quantityBytes(have)) return;
    const pv = volumes.find((v) => v.metadata.name === claim.spec.volumeName);
    if (!pv || pv.metadata.annotations?.[PROVISIONED_BY] !== PROVISIONER) return;
    if (!classes.find((c) => c.metadata.name === STORAGE_CLASS)?.allowVolumeExpansion) return;
    const claimPath = `${resourcePath('persistentvolumeclaims', claim.metadata.namespace)}/${claim.metadata.name}`;
    const status = (s: Record<string, unknown>) => this.client.request('PATCH', `${claimPath}/status`, { status: s }, 'application/merge-patch+json');
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await status({ conditions: [{ type: 'Resizing', status: 'True', lastTransitionTime: now }], allocatedResources: { storage: wanted }, allocatedResourceStatuses: { storage: 'ControllerResizeInProgress' } });
    await this.event(claim, 'Resizing', `External resizer is resizing volume ${pv.metadata.name}`);
    if (pv.spec.capacity.storage !== wanted) {
      const r = await this.client.request('PATCH', `${resourcePath('persistentvolumes')}/${pv.metadata.name}`, { spec: { capacity: { storage: wanted } } }, 'application/merge-patch+json');
      if (r.status !== 200) throw new Error(`raising ${pv.metadata.name}'s capacity to ${wanted}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const r = await status({ capacity: { storage: wanted }, allocatedResources: { storage: wanted }, allocatedResourceStatuses: null, conditions: null });
    if (r.status !== 200) throw new Error(`status of ${claim.metadata.namespace}/${claim.metadata.name}: ${r.status} ${JSON.stringify(r.body)}`);
    await this.event(claim, 'VolumeResizeSuccessful', 'Resize volume succeeded');
    log(`local volumes: ${claim.metadata.namespace}/${claim.metadata.name} grown ${have} -> ${wanted} (PV ${pv.metadata.name})`);
  }

  private async event(claim: KubeObject, reason: string, message: string): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await this.client.request('POST', resourcePath('events', claim.metadata.namespace), {
      apiVersion: 'v1', kind: 'Event', metadata: { generateName: `${claim.metadata.name}.` },
      involvedObject: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: claim.metadata.namespace, name: claim.metadata.name, uid: claim.metadata.uid },
      reason, message, type: 'Normal', source: { component: PROVISIONER }, firstTimestamp: now, lastTimestamp: now, count: 1,
    });
  }

  private async remove(v: KubeObject): Promise<void> {
    const dir = v.spec.local?.path as string | undefined;
    if (dir?.startsWith(this.volumesDir + path.sep)) fs.rmSync(dir, { recursive: true, force: true });
    await this.client.request('DELETE', `${resourcePath('persistentvolumes')}/${v.metadata.name}`);
    log(`local volumes: ${v.metadata.name} released and deleted`);
  }
}

const UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };

/** A storage quantity (`10Gi`, `500M`, `1073741824`) in bytes. */
export function quantityBytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)([kMGTP]i?|)$/.exec(q.trim());
  if (!m || !(m[2] in UNITS)) throw new Error(`not a storage quantity: ${q}`);
  return Number(m[1]) * UNITS[m[2]];
}
