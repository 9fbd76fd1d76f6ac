/*
 * PATCH bodies as the API server applies them: JSON merge patch (RFC 7386: objects merge, null
 * deletes a key, anything else replaces) and strategic merge patch, which for the maps the
 * stand-in lets clients patch (labels, annotations, Secret data) behaves the same; Spilo's role
 * callback sends `application/strategic-merge-patch+json` with `{"metadata":{"labels":{...}}}`,
 * and `null` as the label value on stop, which removes the label. JSON patch (RFC 6902, what
 * `kubectl patch --type=json` sends): add, remove, replace, test. Strategic merge of lists by key
 * and `$patch` directives are not implemented: such a body is refused with 400, not ignored.
 */
import { ApiError, badRequest } from './api-status';

/* eslint-disable @typescript-eslint/no-explicit-any */
export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';

/** RFC 6902 on a copy; a failed `test` or a missing path is a 422 / 400 as the API server answers. */
export function jsonPatch(target: any, ops: any): any {
  if (!Array.isArray(ops)) throw badRequest('json patch: the body must be a JSON array of operations');
  const doc = JSON.parse(JSON.stringify(target));
  for (const op of ops) {
    const keys = String(op.path ?? '').split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop();
    if (last === undefined) throw badRequest(`json patch: path "${op.path}" must point below the object`);
    let parent = doc;
    for (const k of keys) {
      parent = parent?.[k];
      if (parent === undefined || parent === null || typeof parent !== 'object') throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: doc is missing path: "${op.path}"`);
    }
    const index = Array.isArray(parent) ? (last === '-' ? parent.length : Number(last)) : undefined;
    switch (op.op) {
      case 'add':
        if (index !== undefined) parent.splice(index, 0, op.value);
        else parent[last] = op.value;
        break;
      case 'replace':
      case 'remove':
        if (!(last in parent)) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${op.op} operation does not apply: doc is missing path: "${op.path}"`);
        if (op.op === 'replace') parent[last] = op.value;
        else if (index !== undefined) parent.splice(index, 1);
        else delete parent[last];
        break;
      case 'test':
        if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: testing value ${op.path} failed`);
        break;
      default:
        throw badRequest(`json patch: operation "${op.op}" is not implemented by the API stand-in (add, remove, replace, test are)`);
    }
  }
  return doc;
}

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
  if (type === JSON_PATCH) return jsonPatch(target, body);
  if (type === STRATEGIC_MERGE_PATCH) {
    if (hasDirective(body)) throw badRequest('strategic merge patch directives ($patch, $retainKeys, ...) are not implemented by the API stand-in');
    return mergePatch(target, body);
  }
  throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${JSON_PATCH}, ${MERGE_PATCH}, ${STRATEGIC_MERGE_PATCH} (the API stand-in implements these three)`);
}
