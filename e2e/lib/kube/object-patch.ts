/*
 * PATCH bodies as the API server applies them: JSON merge patch (RFC 7386: objects merge, null
 * deletes a key, anything else replaces) and strategic merge patch, which for the maps the
 * stand-in lets clients patch (labels, annotations, Secret data) behaves the same; Spilo's role
 * callback sends `application/strategic-merge-patch+json` with `{"metadata":{"labels":{...}}}`,
 * and `null` as the label value on stop, which removes the label. Strategic merge of lists by key
 * and `$patch` directives are not implemented: such a body is refused with 415/400, not ignored.
 */
import { ApiError, badRequest } from './api-status';

/* eslint-disable @typescript-eslint/no-explicit-any */
export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';

export function mergePatch(target: any, patch: any): any {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, any> = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function hasDirective(v: any): boolean {
  if (!v || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.some(hasDirective);
  return Object.keys(v).some((k) => k.startsWith('$') || hasDirective(v[k]));
}

/** Applies a PATCH body of the given Content-Type to an object (a copy is returned). */
export function applyPatch(contentType: string | undefined, target: any, body: any): any {
  const type = (contentType ?? '').split(';')[0].trim();
  if (type === MERGE_PATCH) return mergePatch(target, body);
  if (type === STRATEGIC_MERGE_PATCH) {
    if (hasDirective(body)) throw badRequest('strategic merge patch directives ($patch, $retainKeys, ...) are not implemented by the API stand-in');
    return mergePatch(target, body);
  }
  throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${MERGE_PATCH}, ${STRATEGIC_MERGE_PATCH} (the API stand-in implements these two)`);
}
