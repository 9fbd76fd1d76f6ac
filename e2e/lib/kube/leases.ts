/*
 * coordination.k8s.io/v1 Leases as the API server serves them: get/list, create (409 AlreadyExists),
 * update (PUT: the body's resourceVersion must be the stored one, else 409 Conflict; without one the
 * update is unconditional, as the Lease strategy allows), merge/JSON patch, delete. The spec is
 * validated as the API server does: MicroTime fields in RFC 3339 with microseconds (a decoding error,
 * 400), leaseDurationSeconds and leaseTransitions not negative (422). Every stored version is kept in
 * `history` (who held it and when), the evidence tests read about who held the Lease when.
 */
import { alreadyExists, ApiError, badRequest, conflict, invalid, methodNotSupported, notFound } from './api-status';
import { ApiObject, ObjectStore } from './object-store';
import { applyPatch } from './object-patch';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface LeaseVersion {
  /** when the stand-in stored it (ms since the epoch) */
  at: number;
  namespace: string;
  name: string;
  resourceVersion: string;
  holder: string | undefined;
  renewTime: string | undefined;
}

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export class LeaseHandlers {
  readonly history: LeaseVersion[] = [];

  constructor(private readonly store: ObjectStore) {}

  handle(verb: string, namespace: string, name: string, body: any, contentType?: string): { code: number; body: any } {
    const existing = name ? this.store.get('Lease', namespace, name) : undefined;
    if (verb === 'create') {
      const next = this.validated(body, namespace, body?.metadata?.name);
      if (this.store.get('Lease', namespace, next.metadata.name)) throw alreadyExists('leases', 'coordination.k8s.io', next.metadata.name);
      return { code: 201, body: this.stored(next) };
    }
    if (!existing) throw notFound('leases', 'coordination.k8s.io', name);
    if (verb === 'delete') {
      this.store.delete('Lease', namespace, name);
      return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: 'coordination.k8s.io', kind: 'leases' }, code: 200 } };
    }
    let next: ApiObject;
    if (verb === 'update') {
      next = this.validated(body, namespace, name);
      if (next.metadata.name !== name) throw badRequest('the name of the object does not match the name on the URL');
    } else if (verb === 'patch') {
      next = this.validated(applyPatch(contentType, existing, body), namespace, name);
    } else throw methodNotSupported(`the API stand-in does not serve ${verb} on leases`);
    const rv = next.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== existing.metadata.resourceVersion) throw conflict('leases', 'coordination.k8s.io', name);
    return { code: 200, body: this.stored(next) };
  }

  private stored(o: ApiObject): ApiObject {
    const s = this.store.put(o);
    this.record(s);
    return s;
  }

  private record(o: ApiObject): void {
    this.history.push({
      at: Date.now(), namespace: o.metadata.namespace ?? 'default', name: o.metadata.name, resourceVersion: o.metadata.resourceVersion ?? '',
      holder: o.spec?.holderIdentity || undefined, renewTime: o.spec?.renewTime,
    });
  }

  private validated(body: any, namespace: string, name: string | undefined): ApiObject {
    if (!body || typeof body !== 'object') throw badRequest('the request body is not a JSON object');
    if (!name) throw invalid('Lease', 'coordination.k8s.io', '', [{ field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    if (body.metadata?.namespace && body.metadata.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const spec = body.spec ?? {};
    for (const field of ['acquireTime', 'renewTime']) {
      const v = spec[field];
      if (v !== undefined && v !== null && (typeof v !== 'string' || !MICRO_TIME.test(v))) {
        throw new ApiError(400, 'BadRequest', `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse`);
      }
    }
    const causes: Array<{ field: string; message: string }> = [];
    for (const field of ['leaseDurationSeconds', 'leaseTransitions']) {
      const v = spec[field];
      if (v === undefined || v === null) continue;
      if (!Number.isInteger(v)) throw new ApiError(400, 'BadRequest', `Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal ${typeof v} into Go struct field LeaseSpec.spec.${field} of type int32`);
      if (field === 'leaseDurationSeconds' ? v <= 0 : v < 0) causes.push({ field: `spec.${field}`, message: `Invalid value: ${v}: must be ${field === 'leaseDurationSeconds' ? 'greater than 0' : 'greater than or equal to 0'}` });
    }
    if (spec.holderIdentity !== undefined && spec.holderIdentity !== null && typeof spec.holderIdentity !== 'string') {
      throw new ApiError(400, 'BadRequest', 'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal into Go struct field LeaseSpec.spec.holderIdentity of type string');
    }
    if (causes.length) throw invalid('Lease', 'coordination.k8s.io', name, causes);
    const cleanSpec = Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== null && v !== undefined));
    return { ...body, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { ...body.metadata, name, namespace }, spec: cleanSpec };
  }
}
