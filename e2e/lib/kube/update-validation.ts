/*
 * The API server's validation of a changed object that apply must reproduce: what it refuses
 * with 422 Invalid, in its own words. Checked before anything is changed, per object (as
 * kubectl apply does: a refused object fails, the others still apply).
 * - StatefulSet: only replicas, ordinals, template, updateStrategy, revisionHistoryLimit,
 *   persistentVolumeClaimRetentionPolicy and minReadySeconds may change (ValidateStatefulSetUpdate).
 * - Deployment, StatefulSet, Job: spec.selector is immutable (apps/v1, batch/v1).
 * - Job: spec.template is immutable.
 * - Service: spec.clusterIP, once set, is immutable.
 * On create and update alike: a workload's selector must match its template's labels, and a
 * Deployment may not have maxSurge and maxUnavailable both 0.
 */
import { ApiError, invalid } from './api-status';
import { selectorMatcher } from './label-selector';
import { ApiObject } from './object-store';
import { canonicalJson } from './revision-hash';

/* eslint-disable @typescript-eslint/no-explicit-any */
const GROUP: Record<string, string> = { StatefulSet: 'apps', Deployment: 'apps', Job: 'batch', Service: '' };

export const STATEFULSET_MUTABLE_SPEC = ['replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'];

const same = (a: any, b: any): boolean => canonicalJson(a) === canonicalJson(b);

/** The defaults the API server fills in before it compares (so an explicit default is no change). */
function defaultedStatefulSetSpec(spec: any): any {
  return {
    podManagementPolicy: 'OrderedReady',
    ...spec,
    volumeClaimTemplates: (spec.volumeClaimTemplates ?? []).map((t: any) => ({
      metadata: t.metadata, spec: { volumeMode: 'Filesystem', ...t.spec },
    })),
  };
}

function goValue(v: any): string {
  return canonicalJson(v).slice(0, 200);
}

/** Checks every object gets, new or changed. */
export function validateObject(o: ApiObject): ApiError | undefined {
  const group = GROUP[o.kind] ?? '';
  const name = o.metadata.name;
  if (['StatefulSet', 'Deployment'].includes(o.kind) || (o.kind === 'Job' && o.spec?.selector)) {
    const labels = o.spec?.template?.metadata?.labels ?? {};
    if (!o.spec?.selector && o.kind !== 'Job') return invalid(o.kind, group, name, [{ field: 'spec.selector', message: 'Required value' }]);
    if (!selectorMatcher(o.spec.selector)(labels)) {
      return invalid(o.kind, group, name, [{ field: 'spec.template.metadata.labels', message: `Invalid value: ${goValue(labels)}: \`selector\` does not match template \`labels\`` }]);
    }
  }
  if (o.kind === 'Deployment' && (o.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate') {
    const ru = o.spec?.strategy?.rollingUpdate ?? {};
    const zero = (v: any): boolean => v === 0 || v === '0' || v === '0%';
    if (zero(ru.maxSurge) && zero(ru.maxUnavailable)) {
      return invalid('Deployment', 'apps', name, [{ field: 'spec.strategy.rollingUpdate.maxUnavailable', message: `Invalid value: ${goValue(ru.maxUnavailable)}: may not be 0 when \`maxSurge\` is 0` }]);
    }
  }
  return undefined;
}

/** Checks a change of an existing object; undefined when the API server would accept it. */
export function validateUpdate(old: ApiObject, next: ApiObject): ApiError | undefined {
  const basic = validateObject(next);
  if (basic) return basic;
  const group = GROUP[next.kind] ?? '';
  const name = next.metadata.name;
  const immutable = (field: string, value: any): ApiError => invalid(next.kind, group, name, [{ field, message: `Invalid value: ${goValue(value)}: field is immutable` }]);
  switch (next.kind) {
    case 'StatefulSet': {
      // A selector change is refused by this same rule: selector is not among the mutable fields.
      const strip = (spec: any): any => {
        const d = defaultedStatefulSetSpec(spec ?? {});
        for (const f of STATEFULSET_MUTABLE_SPEC) delete d[f];
        return d;
      };
      if (!same(strip(old.spec), strip(next.spec))) {
        return invalid('StatefulSet', 'apps', name, [{
          field: 'spec',
          message: "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        }]);
      }
      return undefined;
    }
    case 'Deployment':
      return same(old.spec?.selector, next.spec?.selector) ? undefined : immutable('spec.selector', next.spec?.selector);
    case 'Job':
      if (next.spec?.selector !== undefined && !same(old.spec?.selector, next.spec?.selector)) return immutable('spec.selector', next.spec?.selector);
      return same(old.spec?.template, next.spec?.template) ? undefined : immutable('spec.template', next.spec?.template);
    case 'Service':
      if (old.spec?.clusterIP && next.spec?.clusterIP !== undefined && old.spec.clusterIP !== next.spec.clusterIP) return immutable('spec.clusterIP', next.spec.clusterIP);
      return undefined;
  }
  return undefined;
}
