/**
 * A cluster made from the default configuration's manifests (what an unchanged checkout's dist/
 * holds: test/cross-cutting/dist.test.ts) on the in-memory pod runtime: the object store, the
 * workload controllers and the apply engine, optionally with the API stand-in serving it over
 * HTTPS on 127.0.0.1 (a free port). Used by the API and apply tests. The manifests are synthesized
 * here, not read from dist/, so the names these tests use (pg-ha, pg-ha-postgres, ...) hold in a
 * fork whose pg-ha.env names its cluster otherwise.
 */
import { request } from 'https';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { KubeApiServer } from '../../e2e/lib/kube/api-server';
import { DistApplier } from '../../e2e/lib/kube/dist-apply';
import { ApiObject, ObjectStore } from '../../e2e/lib/kube/object-store';
import { WorkloadControllers } from '../../e2e/lib/kube/workload-controllers';
import { InMemoryPods } from './in-memory-pods';
import { synth } from '../support/synth';

export const NS = 'pg-ha';

let defaults: ApiObject[] | undefined;
/** The default configuration's objects, as `kubectl apply` reads them (a new copy each time: tests edit them). */
export function distObjects(): ApiObject[] {
  defaults ??= synth().objects as ApiObject[];
  return structuredClone(defaults);
}

export interface Cluster {
  store: ObjectStore;
  pods: InMemoryPods;
  controllers: WorkloadControllers;
  applier: DistApplier;
}

export async function clusterFromDist(objects: ApiObject[] = distObjects()): Promise<Cluster> {
  const store = new ObjectStore();
  const pods = new InMemoryPods();
  const controllers = new WorkloadControllers(store, pods, { pollMs: 5, readyTimeoutMs: 2000 });
  const applier = new DistApplier(store, controllers);
  const result = await applier.apply(objects);
  if (!result.ok) throw new Error(`dist/ did not apply: ${JSON.stringify(result.rejected)}`);
  return { store, pods, controllers, applier };
}

export interface ServedCluster extends Cluster {
  api: KubeApiServer;
  dir: string;
  close(): Promise<void>;
}

export async function servedCluster(log?: (line: string) => void): Promise<ServedCluster> {
  const c = await clusterFromDist();
  const dir = mkdtempSync(join(tmpdir(), 'kube-api-'));
  const api = new KubeApiServer({ host: '127.0.0.1', port: 0, dir: join(dir, 'pki'), store: c.store, cluster: c.controllers.clusterState(), log });
  await api.start();
  return { ...c, api, dir, close: async () => { await api.stop(); await c.controllers.settled(); rmSync(dir, { recursive: true, force: true }); } };
}

export interface Answer {
  code: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** One HTTPS call verified against the stand-in's CA, as a pod would make it. */
export function call(api: KubeApiServer, token: string | undefined, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, api.url);
    const req = request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method, ca: api.caCert, servername: undefined,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), 'Content-Type': contentType },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}
