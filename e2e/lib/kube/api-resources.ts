/*
 * The REST paths and resources the stand-in knows, and how it renders pods, StatefulSets,
 * Deployments and PodDisruptionBudgets with a live `status` (pods from the bed, the rest from
 * the applied objects plus the pods).
 */
import { ApiError } from './api-status';
import { PodView } from './cluster-state';
import { BudgetStatus } from './disruption-budget';
import { deploymentTemplateHash, statefulSetRevision } from './revision-hash';
import { ApiObject } from './object-store';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface ResourceType {
  kind: string;
  group: string;
  version: string;
  namespaced: boolean;
}

export const RESOURCES: Record<string, ResourceType> = {
  pods: { kind: 'Pod', group: '', version: 'v1', namespaced: true },
  secrets: { kind: 'Secret', group: '', version: 'v1', namespaced: true },
  configmaps: { kind: 'ConfigMap', group: '', version: 'v1', namespaced: true },
  services: { kind: 'Service', group: '', version: 'v1', namespaced: true },
  serviceaccounts: { kind: 'ServiceAccount', group: '', version: 'v1', namespaced: true },
  namespaces: { kind: 'Namespace', group: '', version: 'v1', namespaced: false },
  persistentvolumeclaims: { kind: 'PersistentVolumeClaim', group: '', version: 'v1', namespaced: true },
  storageclasses: { kind: 'StorageClass', group: 'storage.k8s.io', version: 'v1', namespaced: false },
  statefulsets: { kind: 'StatefulSet', group: 'apps', version: 'v1', namespaced: true },
  deployments: { kind: 'Deployment', group: 'apps', version: 'v1', namespaced: true },
  jobs: { kind: 'Job', group: 'batch', version: 'v1', namespaced: true },
  poddisruptionbudgets: { kind: 'PodDisruptionBudget', group: 'policy', version: 'v1', namespaced: true },
  networkpolicies: { kind: 'NetworkPolicy', group: 'networking.k8s.io', version: 'v1', namespaced: true },
  roles: { kind: 'Role', group: 'rbac.authorization.k8s.io', version: 'v1', namespaced: true },
  rolebindings: { kind: 'RoleBinding', group: 'rbac.authorization.k8s.io', version: 'v1', namespaced: true },
  leases: { kind: 'Lease', group: 'coordination.k8s.io', version: 'v1', namespaced: true },
};

export interface ResourcePath {
  group: string;
  version: string;
  namespace: string;
  resource: string;
  name: string;
  subresource: string;
}

/** `/api/v1/namespaces/ns/pods/name/eviction`, `/apis/apps/v1/namespaces/ns/statefulsets/name`; undefined for other paths. */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  let m = /^\/api\/(v1)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?\/?$/.exec(pathname);
  if (m) return { group: '', version: m[1], namespace: m[2] ?? '', resource: m[3], name: m[4] ?? '', subresource: m[5] ?? '' };
  m = /^\/apis\/([^/]+)\/([^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?\/?$/.exec(pathname);
  if (m) return { group: m[1], version: m[2], namespace: m[3] ?? '', resource: m[4], name: m[5] ?? '', subresource: m[6] ?? '' };
  return undefined;
}

/** The RBAC verb of a request, as the API server's RequestInfo derives it. */
export function requestVerb(method: string, p: ResourcePath, watch: boolean): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (watch) return 'watch';
      return p.name ? 'get' : 'list';
    case 'POST': return 'create';
    case 'PUT': return 'update';
    case 'PATCH': return 'patch';
    case 'DELETE': return p.name ? 'delete' : 'deletecollection';
  }
  throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method})`);
}

function ownerReference(pod: PodView): any[] | undefined {
  if (!pod.owner) return undefined;
  const apiVersion = pod.owner.kind === 'Job' ? 'batch/v1' : 'apps/v1';
  return [{ apiVersion, kind: pod.owner.kind, name: pod.owner.name, controller: true, blockOwnerDeletion: true }];
}

export function renderPod(p: PodView, resourceVersion: string): ApiObject {
  const condition = (type: string, ok: boolean): any => ({ type, status: ok ? 'True' : 'False' });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name, namespace: p.namespace, uid: p.uid, resourceVersion, creationTimestamp: p.startedAt,
      labels: { ...p.labels }, annotations: p.annotations ? { ...p.annotations } : undefined, ownerReferences: ownerReference(p),
    },
    spec: { ...(p.spec ?? {}), serviceAccountName: p.serviceAccountName ?? p.spec?.serviceAccountName },
    status: {
      phase: p.phase, podIP: p.podIP, podIPs: p.podIP ? [{ ip: p.podIP }] : undefined, startTime: p.startedAt,
      conditions: [condition('PodScheduled', true), condition('Initialized', true), condition('ContainersReady', p.ready), condition('Ready', p.ready)],
    },
  };
}

/** StatefulSet with status: updateRevision from its template, currentRevision as the controller recorded it (else the same). */
export function renderStatefulSet(sts: ApiObject, pods: PodView[]): ApiObject {
  const own = pods.filter((p) => p.owner?.kind === 'StatefulSet' && p.owner.name === sts.metadata.name && p.namespace === sts.metadata.namespace);
  const updateRevision = statefulSetRevision(sts);
  const currentRevision = sts.status?.currentRevision ?? updateRevision;
  const rev = (p: PodView): string | undefined => p.labels['controller-revision-hash'];
  return {
    ...sts,
    status: {
      observedGeneration: sts.metadata.generation,
      replicas: own.length,
      readyReplicas: own.filter((p) => p.ready).length,
      availableReplicas: own.filter((p) => p.ready).length,
      currentReplicas: own.filter((p) => rev(p) === currentRevision).length,
      updatedReplicas: own.filter((p) => rev(p) === updateRevision).length,
      currentRevision,
      updateRevision,
      collisionCount: 0,
    },
  };
}

export function renderDeployment(d: ApiObject, pods: PodView[]): ApiObject {
  const hash = deploymentTemplateHash(d);
  const own = pods.filter((p) => p.owner?.kind === 'ReplicaSet' && p.owner.name.startsWith(`${d.metadata.name}-`) && p.namespace === d.metadata.namespace);
  const ready = own.filter((p) => p.ready).length;
  return {
    ...d,
    status: {
      observedGeneration: d.metadata.generation, replicas: own.length, readyReplicas: ready, availableReplicas: ready,
      updatedReplicas: own.filter((p) => p.labels['pod-template-hash'] === hash).length, unavailableReplicas: Math.max(0, (d.spec?.replicas ?? 1) - ready),
    },
  };
}

export function renderBudget(pdb: ApiObject, s: BudgetStatus, disrupted: Record<string, string>): ApiObject {
  return {
    ...pdb,
    status: {
      observedGeneration: pdb.metadata.generation, expectedPods: s.expectedPods, desiredHealthy: s.desiredHealthy,
      currentHealthy: s.currentHealthy, disruptionsAllowed: s.disruptionsAllowed, disruptedPods: disrupted,
    },
  };
}

/** List responses carry items without kind/apiVersion, as the API server sends them. */
export function renderList(kind: string, group: string, version: string, items: ApiObject[], resourceVersion: string): any {
  return {
    kind: `${kind}List`, apiVersion: group ? `${group}/${version}` : version, metadata: { resourceVersion },
    items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest),
  };
}
