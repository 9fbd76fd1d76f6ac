/*
 * What each allowed request does. Pods are the bed's (read through ClusterState, label changes,
 * deletion and eviction handed back to it); Secrets are read and written here; the other kinds
 * are served read-only from what apply put in the store (writes to them come from apply, not
 * from clients, and get 405 here). Leases are read and written by clients too (leases.ts).
 */
import { ApiError, alreadyExists, badRequest, conflict, invalid, methodNotSupported, notFound } from './api-status';
import { renderBudget, renderDeployment, renderList, renderPod, renderStatefulSet, ResourcePath, ResourceType } from './api-resources';
import { ClusterState, PodView } from './cluster-state';
import { budgetStatus, decideEviction } from './disruption-budget';
import { parseLabelSelector } from './label-selector';
import { ApiObject, ObjectStore } from './object-store';
import { applyPatch } from './object-patch';
import { validateClaimUpdate } from './volume-claims';
import { LeaseHandlers } from './leases';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface ApiRequest {
  verb: string;
  path: ResourcePath;
  type: ResourceType;
  query: URLSearchParams;
  contentType?: string;
  body?: any;
}

export interface ApiAnswer {
  code: number;
  body: any;
}

/** Evicted pods stay out of a budget's healthy count until they are gone, or for 2 minutes (the disruption controller's timeout). */
const DISRUPTION_TIMEOUT_MS = 120_000;

export class ApiHandlers {
  private readonly disrupted = new Map<string, { pod: string; at: number }>();
  readonly leases: LeaseHandlers;

  constructor(private readonly store: ObjectStore, private readonly cluster: ClusterState) {
    this.leases = new LeaseHandlers(store);
  }

  handle(r: ApiRequest): Promise<ApiAnswer> | ApiAnswer {
    if (r.verb === 'watch') throw methodNotSupported('watch is not implemented by the API stand-in; poll with get/list');
    if (r.path.resource === 'pods') return this.pods(r);
    if (r.path.subresource) throw notFound(r.path.resource, r.type.group, `${r.path.name}/${r.path.subresource}`);
    if (r.path.resource === 'secrets') return this.secrets(r);
    if (r.path.resource === 'leases' && r.verb !== 'get' && r.verb !== 'list') return this.leases.handle(r.verb, r.path.namespace, r.path.name, r.body, r.contentType);
    if (r.path.resource === 'persistentvolumeclaims' && (r.verb === 'patch' || r.verb === 'update')) return this.resizeClaim(r);
    if (r.verb === 'get' || r.verb === 'list') return this.read(r);
    throw methodNotSupported(`the API stand-in serves ${r.path.resource} read-only (they change through apply): ${r.verb} is not allowed`);
  }

  private livePods(): PodView[] {
    const pods = this.cluster.pods();
    const alive = new Set(pods.map((p) => p.uid));
    for (const [uid, d] of this.disrupted) if (!alive.has(uid) || Date.now() - d.at > DISRUPTION_TIMEOUT_MS) this.disrupted.delete(uid);
    return pods;
  }

  private render(o: ApiObject, pods: PodView[]): ApiObject {
    if (o.kind === 'StatefulSet') return renderStatefulSet(o, pods);
    if (o.kind === 'Deployment') return renderDeployment(o, pods);
    if (o.kind === 'PodDisruptionBudget') {
      const own = pods.filter((p) => p.namespace === o.metadata.namespace);
      const names = Object.fromEntries([...this.disrupted.entries()].filter(([uid]) => own.some((p) => p.uid === uid)).map(([, d]) => [d.pod, new Date(d.at).toISOString()]));
      return renderBudget(o, this.budget(o, pods), names);
    }
    return o;
  }

  private budget(pdb: ApiObject, pods: PodView[]): ReturnType<typeof budgetStatus> {
    const replicasOf = (p: PodView): number | undefined => {
      if (p.owner?.kind === 'StatefulSet') return this.store.get('StatefulSet', p.namespace, p.owner.name)?.spec?.replicas ?? 1;
      if (p.owner?.kind === 'ReplicaSet') {
        const d = this.store.list('Deployment', p.namespace).find((x) => p.owner!.name.startsWith(`${x.metadata.name}-`));
        return d ? d.spec?.replicas ?? 1 : undefined;
      }
      return undefined;
    };
    return budgetStatus(pdb, pods, replicasOf, new Set(this.disrupted.keys()));
  }

  private selected<T extends { metadata: { labels?: Record<string, string>; name: string } }>(items: T[], q: URLSearchParams): T[] {
    const match = parseLabelSelector(q.get('labelSelector') ?? undefined);
    const fields = (q.get('fieldSelector') ?? '').split(',').filter((f) => f);
    return items.filter((o) => match(o.metadata.labels ?? {}) && fields.every((f) => {
      const m = /^metadata\.name(==|=|!=)(.*)$/.exec(f);
      if (!m) throw badRequest(`field label not supported by the API stand-in: ${f.split(/[=!]/)[0]} (only metadata.name)`);
      return m[1] === '!=' ? o.metadata.name !== m[2] : o.metadata.name === m[2];
    }));
  }

  private read(r: ApiRequest): ApiAnswer {
    const { path: p, type: t } = r;
    const pods = this.livePods();
    if (r.verb === 'get') {
      const o = this.store.get(t.kind, p.namespace, p.name);
      if (!o) throw notFound(p.resource, t.group, p.name);
      return { code: 200, body: this.render(o, pods) };
    }
    const items = this.selected(this.store.list(t.kind, t.namespaced ? p.namespace || undefined : undefined), r.query).map((o) => this.render(o, pods));
    return { code: 200, body: renderList(t.kind, t.group, t.version, items, this.store.resourceVersion) };
  }

  private async pods(r: ApiRequest): Promise<ApiAnswer> {
    const { path: p } = r;
    const pods = this.livePods();
    const rv = this.store.resourceVersion;
    if (r.verb === 'list') {
      const items = this.selected(pods.filter((x) => !p.namespace || x.namespace === p.namespace).map((x) => renderPod(x, rv)), r.query);
      return { code: 200, body: renderList('Pod', '', 'v1', items, rv) };
    }
    const pod = pods.find((x) => x.namespace === p.namespace && x.name === p.name);
    if (!pod) throw notFound('pods', '', p.name);
    if (p.subresource === 'eviction' && r.verb === 'create') return this.evict(pod, r);
    if (p.subresource) throw notFound('pods', '', `${p.name}/${p.subresource}`);
    if (r.verb === 'get') return { code: 200, body: renderPod(pod, rv) };
    if (r.verb === 'delete') {
      await this.cluster.onDeletePod(pod.namespace, pod.name);
      return { code: 200, body: { ...renderPod(pod, rv), metadata: { ...renderPod(pod, rv).metadata, deletionTimestamp: new Date().toISOString() } } };
    }
    if (r.verb === 'patch') {
      const before = renderPod(pod, rv);
      const after = applyPatch(r.contentType, before, r.body);
      const stripMeta = (o: any): string => JSON.stringify({ ...o, metadata: { ...o.metadata, labels: undefined, annotations: undefined } });
      if (stripMeta(after) !== stripMeta(before)) {
        throw invalid('Pod', '', pod.name, [{ field: 'spec', message: 'Forbidden: the API stand-in lets a pod PATCH change only metadata.labels and metadata.annotations' }]);
      }
      this.cluster.setPodMetadata(pod.namespace, pod.name, after.metadata.labels ?? {}, after.metadata.annotations ?? {});
      return { code: 200, body: after };
    }
    throw methodNotSupported(`the API stand-in does not serve ${r.verb} on pods`);
  }

  private async evict(pod: PodView, r: ApiRequest): Promise<ApiAnswer> {
    const b = r.body ?? {};
    if (b.metadata?.name && b.metadata.name !== pod.name) throw badRequest(`name in URL does not match name in Eviction object`);
    const pods = this.livePods();
    const budgets = this.store.list('PodDisruptionBudget', pod.namespace);
    const decision = decideEviction(pod, budgets, (pdb) => this.budget(pdb, pods));
    if (!decision.allowed) {
      const reason = decision.code === 429 ? 'TooManyRequests' : 'InternalError';
      throw new ApiError(decision.code, reason, decision.message, decision.cause ? { causes: [{ reason: 'DisruptionBudget', message: decision.cause }] } : undefined);
    }
    const dryRun = r.query.getAll('dryRun').includes('All') || (b.deleteOptions?.dryRun ?? []).includes('All');
    if (!dryRun) {
      if (decision.budget) this.disrupted.set(pod.uid, { pod: pod.name, at: Date.now() });
      await this.cluster.onEvictPod(pod.namespace, pod.name);
    }
    return { code: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } };
  }

  /** A claim's PATCH/PUT: only growing the storage request, where its StorageClass allows expansion. */
  private resizeClaim(r: ApiRequest): ApiAnswer {
    const { path: p } = r;
    const existing = this.store.get('PersistentVolumeClaim', p.namespace, p.name);
    if (!existing) throw notFound('persistentvolumeclaims', '', p.name);
    const next: ApiObject = r.verb === 'patch' ? applyPatch(r.contentType, existing, r.body) : { ...r.body, kind: 'PersistentVolumeClaim', apiVersion: 'v1' };
    if (r.verb === 'update' && next.metadata?.resourceVersion !== existing.metadata.resourceVersion) throw conflict('persistentvolumeclaims', '', p.name);
    const refusal = validateClaimUpdate(this.store, existing, next);
    if (refusal) throw refusal;
    const storage = next.spec?.resources?.requests?.storage;
    return { code: 200, body: this.store.put({ ...next, metadata: { ...next.metadata, name: p.name, namespace: p.namespace }, status: { ...existing.status, capacity: { ...existing.status?.capacity, storage } } }) };
  }

  private secrets(r: ApiRequest): ApiAnswer {
    const { path: p } = r;
    if (r.verb === 'get' || r.verb === 'list') return this.read(r);
    const existing = p.name ? this.store.get('Secret', p.namespace, p.name) : undefined;
    if (r.verb === 'create') {
      const body = this.secretBody(r.body, p.namespace);
      if (this.store.get('Secret', p.namespace, body.metadata.name)) throw alreadyExists('secrets', '', body.metadata.name);
      return { code: 201, body: this.store.put(body) };
    }
    if (!existing) throw notFound('secrets', '', p.name);
    if (r.verb === 'delete') {
      this.store.delete('Secret', p.namespace, p.name);
      return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: p.name, kind: 'secrets', uid: existing.metadata.uid }, code: 200 } };
    }
    let next: ApiObject;
    if (r.verb === 'update') {
      next = this.secretBody(r.body, p.namespace);
      if (next.metadata.name !== p.name) throw badRequest('the name of the object does not match the name on the URL');
      if (!next.metadata.resourceVersion) throw invalid('Secret', '', p.name, [{ field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' }]);
    } else if (r.verb === 'patch') {
      next = this.secretBody(applyPatch(r.contentType, existing, r.body), p.namespace);
    } else throw methodNotSupported(`the API stand-in does not serve ${r.verb} on secrets`);
    if (next.metadata.resourceVersion && next.metadata.resourceVersion !== existing.metadata.resourceVersion) throw conflict('secrets', '', p.name);
    if (existing.immutable && JSON.stringify(existing.data ?? {}) !== JSON.stringify(next.data ?? {})) {
      throw invalid('Secret', '', p.name, [{ field: 'data', message: 'Forbidden: field is immutable when `immutable` is set' }]);
    }
    return { code: 200, body: this.store.put(next) };
  }

  /** Validates a Secret body and folds stringData into data, as the API server does. */
  private secretBody(body: any, namespace: string): ApiObject {
    if (!body || typeof body !== 'object') throw badRequest('the request body is not a JSON object');
    const name = body.metadata?.name;
    if (!name) throw invalid('Secret', '', '', [{ field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    if (body.metadata.namespace && body.metadata.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const data: Record<string, string> = { ...(body.data ?? {}) };
    for (const [k, v] of Object.entries<string>(body.stringData ?? {})) data[k] = Buffer.from(v).toString('base64');
    for (const [k, v] of Object.entries(data)) {
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw invalid('Secret', '', name, [{ field: `data[${k}]`, message: 'Invalid value: not base64' }]);
    }
    const { stringData: _s, ...rest } = body;
    return { ...rest, apiVersion: 'v1', kind: 'Secret', type: body.type ?? 'Opaque', metadata: { ...body.metadata, namespace }, data };
  }
}
