/*
 * PersistentVolumeClaims of StatefulSets: created from volumeClaimTemplates as
 * `<template>-<statefulset>-<ordinal>` (with the selector's labels, as the controller does), kept
 * or deleted per persistentVolumeClaimRetentionPolicy, and the only change the API server allows
 * on a bound claim: a larger spec.resources.requests.storage, when the claim's StorageClass has
 * allowVolumeExpansion (the PersistentVolumeClaimResize admission check). The stand-in completes
 * a resize at once (status.capacity = the request); a real volume driver takes a while and
 * reports progress in status.conditions, which is not modelled.
 */
import { ApiError, invalid } from './api-status';
import { ApiObject, ObjectStore } from './object-store';
import { canonicalJson } from './revision-hash';

/* eslint-disable @typescript-eslint/no-explicit-any */
const UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5 };

/** A resource.Quantity (`10Gi`, `500M`, `1073741824`) in bytes; NaN when it is not one. */
export function quantityBytes(q: string | number | undefined): number {
  const m = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(String(q ?? ''));
  return m && m[2] in UNITS ? Number(m[1]) * UNITS[m[2]] : NaN;
}

export function claimName(template: string, statefulSet: string, ordinal: number): string {
  return `${template}-${statefulSet}-${ordinal}`;
}

/** The claims pod `ordinal` of the StatefulSet uses, Bound at the requested size. */
export function claimsOf(sts: ApiObject, ordinal: number): ApiObject[] {
  return (sts.spec?.volumeClaimTemplates ?? []).map((t: any) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: claimName(t.metadata.name, sts.metadata.name, ordinal),
      namespace: sts.metadata.namespace,
      labels: { ...(t.metadata.labels ?? {}), ...(sts.spec?.selector?.matchLabels ?? {}) },
      annotations: t.metadata.annotations,
    },
    spec: { volumeMode: 'Filesystem', ...t.spec },
    status: { phase: 'Bound', accessModes: t.spec?.accessModes, capacity: { storage: t.spec?.resources?.requests?.storage } },
  }));
}

/** Creates the claims of an ordinal that do not exist yet (existing ones are reused, whatever their size). */
export function ensureClaims(store: ObjectStore, sts: ApiObject, ordinal: number): void {
  for (const c of claimsOf(sts, ordinal)) if (!store.get('PersistentVolumeClaim', c.metadata.namespace ?? 'default', c.metadata.name)) store.put(c);
}

export function deleteClaims(store: ObjectStore, sts: ApiObject, ordinal: number): void {
  for (const c of claimsOf(sts, ordinal)) store.delete('PersistentVolumeClaim', c.metadata.namespace ?? 'default', c.metadata.name);
}

function storageClassOf(store: ObjectStore, claim: ApiObject): ApiObject | undefined {
  const name = claim.spec?.storageClassName;
  const classes = store.list('StorageClass');
  if (name) return classes.find((s) => s.metadata.name === name);
  return classes.find((s) => s.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true');
}

/** The API server's answer to a changed claim; undefined when allowed. On success the caller stores `next` with its capacity. */
export function validateClaimUpdate(store: ObjectStore, old: ApiObject, next: ApiObject): ApiError | undefined {
  const name = old.metadata.name;
  const specWithout = (s: any): string => canonicalJson({ ...s, resources: { ...(s?.resources ?? {}), requests: undefined }, volumeAttributesClassName: undefined });
  if (specWithout(old.spec) !== specWithout(next.spec)) {
    return invalid('PersistentVolumeClaim', '', name, [{ field: 'spec', message: 'Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims' }]);
  }
  const before = quantityBytes(old.status?.capacity?.storage ?? old.spec?.resources?.requests?.storage);
  const asked = next.spec?.resources?.requests?.storage;
  const after = quantityBytes(asked);
  if (Number.isNaN(after)) return invalid('PersistentVolumeClaim', '', name, [{ field: 'spec.resources.requests.storage', message: `Invalid value: "${asked}": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'` }]);
  if (after < before) return invalid('PersistentVolumeClaim', '', name, [{ field: 'spec.resources.requests.storage', message: 'Forbidden: field can not be less than status.capacity' }]);
  if (after > before && storageClassOf(store, old)?.allowVolumeExpansion !== true) {
    return new ApiError(403, 'Forbidden', `persistentvolumeclaims "${name}" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize`,
      { name, kind: 'persistentvolumeclaims' });
  }
  return undefined;
}
