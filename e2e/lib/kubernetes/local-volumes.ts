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
 * Growth: the kubelet cannot grow a `local` volume, so a larger request is granted as an external
 * resizer without a node step does: the PV's capacity and the claim's status.capacity are raised
 * (a directory has no size of its own).
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
      for (const claim of claims) {
        if (claim.status?.phase === 'Pending' && claim.metadata.annotations?.[SELECTED_NODE] && this.ours(claim)) await this.provision(claim);
        if (claim.status?.phase === 'Bound' && this.ours(claim)) await this.grow(claim, volumes);
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

  private async grow(claim: KubeObject, volumes: KubeObject[]): Promise<void> {
    const wanted = claim.spec.resources.requests.storage;
    if (claim.status?.capacity?.storage === wanted) return;
    const pv = volumes.find((v) => v.metadata.name === claim.spec.volumeName);
    if (!pv || pv.metadata.annotations?.[PROVISIONED_BY] !== PROVISIONER) return;
    if (pv.spec.capacity.storage !== wanted) {
      await this.client.request('PATCH', `${resourcePath('persistentvolumes')}/${pv.metadata.name}`, { spec: { capacity: { storage: wanted } } }, 'application/merge-patch+json');
    }
    const r = await this.client.request('PATCH', `${resourcePath('persistentvolumeclaims', claim.metadata.namespace)}/${claim.metadata.name}/status`, { status: { capacity: { storage: wanted }, allocatedResources: { storage: wanted }, conditions: null } }, 'application/merge-patch+json');
    log(`local volumes: ${claim.metadata.namespace}/${claim.metadata.name} grown to ${wanted} (${r.status})`);
  }

  private async remove(v: KubeObject): Promise<void> {
    const dir = v.spec.local?.path as string | undefined;
    if (dir?.startsWith(this.volumesDir + path.sep)) fs.rmSync(dir, { recursive: true, force: true });
    await this.client.request('DELETE', `${resourcePath('persistentvolumes')}/${v.metadata.name}`);
    log(`local volumes: ${v.metadata.name} released and deleted`);
  }
}
