/*
 * The API objects a cluster holds apart from pods: what `apply` put there from dist/ (Roles,
 * StatefulSets, PodDisruptionBudgets, ...) and what clients created (the credentials Secret).
 * Each write gets a new resourceVersion, as etcd-backed storage would; a spec change bumps
 * metadata.generation.
 */
import * as crypto from 'crypto';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** An API object as stored and served (dist/ objects are assignable to it). */
export interface ApiObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [field: string]: any };
  [field: string]: any;
}

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'StorageClass', 'CustomResourceDefinition']);

export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

export function namespaceOf(o: ApiObject): string {
  return isClusterScoped(o.kind) ? '' : o.metadata.namespace ?? 'default';
}

export function objectKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

export function keyOf(o: ApiObject): string {
  return objectKey(o.kind, namespaceOf(o), o.metadata.name);
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export class ObjectStore {
  private readonly objects = new Map<string, ApiObject>();
  private revision = 1;

  /** A copy: callers never change stored objects in place. */
  get(kind: string, namespace: string, name: string): ApiObject | undefined {
    const o = this.objects.get(objectKey(kind, isClusterScoped(kind) ? '' : namespace, name));
    return o && clone(o);
  }

  /** Every object of a kind, in one namespace or (namespace undefined) in all. */
  list(kind: string, namespace?: string): ApiObject[] {
    return [...this.objects.values()]
      .filter((o) => o.kind === kind && (namespace === undefined || namespaceOf(o) === namespace))
      .sort((a, b) => keyOf(a).localeCompare(keyOf(b)))
      .map(clone);
  }

  all(): ApiObject[] {
    return [...this.objects.values()].map(clone);
  }

  /** Creates or replaces; keeps uid and creationTimestamp of an existing object; returns the stored copy. */
  put(o: ApiObject): ApiObject {
    const old = this.objects.get(keyOf(o));
    const next = clone(o);
    const specChanged = !old || JSON.stringify(old.spec) !== JSON.stringify(next.spec);
    next.metadata = {
      ...next.metadata,
      namespace: isClusterScoped(o.kind) ? undefined : namespaceOf(o),
      uid: old?.metadata.uid ?? crypto.randomUUID(),
      creationTimestamp: old?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      resourceVersion: String(++this.revision),
      generation: (old?.metadata.generation ?? 0) + (specChanged ? 1 : 0),
    };
    if (next.metadata.namespace === undefined) delete next.metadata.namespace;
    this.objects.set(keyOf(next), next);
    return clone(next);
  }

  delete(kind: string, namespace: string, name: string): boolean {
    return this.objects.delete(objectKey(kind, isClusterScoped(kind) ? '' : namespace, name));
  }

  /** Every change anywhere gets a higher number (list responses carry it as metadata.resourceVersion). */
  get resourceVersion(): string {
    return String(this.revision);
  }
}
