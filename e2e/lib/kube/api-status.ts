/*
 * Kubernetes-shaped error answers: every refusal is a `Status` object with the reason and the
 * message wording the real API server uses, so clients (python scripts, curl | jq, kubectl) see
 * what they would see in a cluster.
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string; causes?: Array<{ reason?: string; message: string; field?: string }> };
  code: number;
}

/** An API answer other than success: thrown by handlers, sent as a Status body with its code. */
export class ApiError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: StatusBody['details']) {
    super(message);
  }

  body(): StatusBody {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, details: this.details, code: this.code };
  }
}

/** `secrets` + `""` -> `secrets`; `statefulsets` + `apps` -> `statefulsets.apps` (how messages name a resource). */
export function qualifiedResource(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource;
}

export const unauthorized = (): ApiError => new ApiError(401, 'Unauthorized', 'Unauthorized');

export const notFound = (resource: string, group: string, name: string): ApiError =>
  new ApiError(404, 'NotFound', `${qualifiedResource(resource, group)} "${name}" not found`, { name, group: group || undefined, kind: resource });

export const alreadyExists = (resource: string, group: string, name: string): ApiError =>
  new ApiError(409, 'AlreadyExists', `${qualifiedResource(resource, group)} "${name}" already exists`, { name, group: group || undefined, kind: resource });

export const conflict = (resource: string, group: string, name: string): ApiError =>
  new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(resource, group)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: group || undefined, kind: resource });

/** 422 as the API server's validation phrases it: `StatefulSet.apps "pg-ha" is invalid: spec: Forbidden: ...`. */
export function invalid(kind: string, group: string, name: string, causes: Array<{ field: string; message: string }>): ApiError {
  const kindGroup = group ? `${kind}.${group}` : kind;
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const text = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${kindGroup} "${name}" is invalid: ${text}`, {
    name, group: group || undefined, kind, causes: causes.map((c) => ({ reason: c.message.split(':')[0], message: c.message, field: c.field })),
  });
}

export const badRequest = (message: string): ApiError => new ApiError(400, 'BadRequest', message);

export const methodNotSupported = (message: string): ApiError => new ApiError(405, 'MethodNotAllowed', message);
