/**
 * The StatefulSets' PersistentVolumeClaims in the API stand-in: created from dist/'s
 * volumeClaimTemplates, and resized only as the API server allows (grow, where the StorageClass
 * allows expansion). What growing the volumes (a day-2 change) will be proven against.
 */
import { ApiObject } from '../../e2e/lib/kube/object-store';
import { call, clusterFromDist, distObjects, NS, ServedCluster, servedCluster } from './cluster-fixture';

let c: ServedCluster;
beforeEach(async () => { c = await servedCluster(); });
afterEach(async () => { await c.close(); });

const claim = (name: string): string => `/api/v1/namespaces/${NS}/persistentvolumeclaims/${name}`;
const resize = (name: string, storage: string): Promise<{ code: number; body: any }> =>
  call(c.api, c.api.adminToken, 'PATCH', claim(name), { spec: { resources: { requests: { storage } } } }, 'application/merge-patch+json');
const expandable = (): ApiObject => c.store.put({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', allowVolumeExpansion: true,
  metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'e2e' });

test('each StatefulSet pod has its claim <template>-<statefulset>-<ordinal>, Bound at the requested size, labelled with the selector', async () => {
  const r = await call(c.api, c.api.adminToken, 'GET', `/api/v1/namespaces/${NS}/persistentvolumeclaims`);
  expect(r.body.items.map((p: any) => p.metadata.name).sort()).toEqual([
    'data-pg-ha-etcd-0', 'data-pg-ha-etcd-1', 'data-pg-ha-etcd-2', 'pgdata-pg-ha-0', 'pgdata-pg-ha-1', 'pgdata-pg-ha-2']);
  const pg0 = r.body.items.find((p: any) => p.metadata.name === 'pgdata-pg-ha-0');
  expect(pg0.status).toMatchObject({ phase: 'Bound', capacity: { storage: '10Gi' } });
  expect(pg0.metadata.labels).toEqual(distObjects().find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'pg-ha')!.spec.selector.matchLabels);
});

test('growing a claim without an expandable StorageClass is forbidden (403), as the resize admission check says', async () => {
  const r = await resize('pgdata-pg-ha-0', '20Gi');
  expect(r.code).toBe(403);
  expect(r.body.message).toBe('persistentvolumeclaims "pgdata-pg-ha-0" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize');
});

test('with allowVolumeExpansion the claim grows; shrinking or changing anything else in spec is refused (422)', async () => {
  expandable();
  const grown = await resize('pgdata-pg-ha-0', '20Gi');
  expect(grown.code).toBe(200);
  expect(grown.body.status.capacity.storage).toBe('20Gi');
  const shrunk = await resize('pgdata-pg-ha-0', '15Gi');
  expect(shrunk.code).toBe(422);
  expect(shrunk.body.message).toBe('PersistentVolumeClaim "pgdata-pg-ha-0" is invalid: spec.resources.requests.storage: Forbidden: field can not be less than status.capacity');
  const modes = await call(c.api, c.api.adminToken, 'PATCH', claim('pgdata-pg-ha-1'), { spec: { accessModes: ['ReadWriteMany'] } }, 'application/merge-patch+json');
  expect(modes.code).toBe(422);
  expect(modes.body.message).toContain('spec: Forbidden: spec is immutable after creation except resources.requests');
});

test('claims outlive their StatefulSet under whenDeleted: Retain (dist/), and are deleted under Delete', async () => {
  const retained = await clusterFromDist();
  await retained.applier.apply(distObjects().filter((o) => !(o.kind === 'StatefulSet' && o.metadata.name === 'pg-ha')));
  expect(retained.store.list('PersistentVolumeClaim', NS).map((p) => p.metadata.name)).toContain('pgdata-pg-ha-0');

  const withDelete = distObjects();
  withDelete.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'pg-ha')!.spec.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Delete', whenScaled: 'Retain' };
  const deleting = await clusterFromDist(withDelete);
  await deleting.applier.apply(withDelete.filter((o) => !(o.kind === 'StatefulSet' && o.metadata.name === 'pg-ha')));
  expect(deleting.store.list('PersistentVolumeClaim', NS).map((p) => p.metadata.name).filter((n) => n.startsWith('pgdata-'))).toEqual([]);
});
