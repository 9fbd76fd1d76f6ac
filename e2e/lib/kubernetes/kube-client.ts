/*
 * The bed's two ways to the API server, both as the cluster's admin (system:masters):
 *   - kubectl, the client users run (the same build as the components), for applies, exec, logs;
 *   - a small REST client for the bed's own polling (pods, PVCs, Jobs) without a process per call.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import { KUBERNETES_BINARY } from './components';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string; generation?: number; deletionTimestamp?: string; ownerReferences?: any[] }; spec?: any; status?: any; [k: string]: any };

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class KubeClient {
  private readonly agent: https.Agent;
  private readonly url: URL;
  private readonly ca: Buffer;

  constructor(readonly server: string, readonly kubeconfig: string, tls: { ca: string; cert: string; key: string }) {
    this.url = new URL(server);
    this.ca = fs.readFileSync(tls.ca);
    this.agent = new https.Agent({ ca: fs.readFileSync(tls.ca), cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key), keepAlive: true, maxSockets: 4 });
  }

  /** kubectl with the admin kubeconfig; never throws (the result says what happened). */
  kubectl(args: string[], input?: string, timeoutMs = 120000): Promise<KubectlResult> {
    return new Promise((resolve) => {
      const child = spawn(KUBERNETES_BINARY, ['kubectl', `--kubeconfig=${this.kubeconfig}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.end(input ?? '');
    });
  }

  /** kubectl that must succeed: its stdout. */
  async run(args: string[], input?: string): Promise<string> {
    const r = await this.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  request<T = any>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: T }> {
    return this.send<T>(method, path, body, contentType);
  }

  /** A request as a pod makes it: with a ServiceAccount's bearer token instead of the admin's certificate (the API server's CA verified). */
  requestAs<T = any>(token: string, method: string, path: string): Promise<{ status: number; body: T }> {
    return this.send<T>(method, path, undefined, 'application/json', token);
  }

  private send<T>(method: string, path: string, body: unknown, contentType: string, token?: string): Promise<{ status: number; body: T }> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const auth = token ? { agent: false as const, ca: this.ca, headers: { Authorization: `Bearer ${token}` } } : { agent: this.agent, ca: undefined, headers: {} };
      const req = https.request(
        { host: this.url.hostname, port: this.url.port, path, method, agent: auth.agent, ca: auth.ca, timeout: 10000, headers: { Accept: 'application/json', ...auth.headers, ...(data ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(data) } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: any = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              /* not JSON */
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout ${method} ${path}`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  /**
   * A watch on a collection (`?watch=1`), every event as the API server sends it, from the list's
   * resourceVersion on (so no change between the list and the watch is missed). Returns a stop
   * function. The bed uses it where polling could miss a short-lived state (a Lease's holder).
   */
  async watch(collection: string, onEvent: (type: string, o: KubeObject) => void, fieldSelector?: string): Promise<() => void> {
    const sel = fieldSelector ? `fieldSelector=${encodeURIComponent(fieldSelector)}` : '';
    const listed = await this.get<{ items: KubeObject[]; metadata: { resourceVersion: string } }>(`${collection}${sel ? `?${sel}` : ''}`);
    for (const o of listed?.items ?? []) onEvent('LISTED', o);
    let resourceVersion = listed?.metadata.resourceVersion ?? '0';
    let stopped = false;
    let current: ReturnType<typeof https.request> | undefined;
    const connect = (): void => {
      if (stopped) return;
      const path = `${collection}?watch=1&allowWatchBookmarks=false&timeoutSeconds=300&resourceVersion=${resourceVersion}${sel ? `&${sel}` : ''}`;
      let buffered = '';
      current = https.request({ host: this.url.hostname, port: this.url.port, path, method: 'GET', agent: this.agent, headers: { Accept: 'application/json' } }, (res) => {
        res.on('data', (c: Buffer) => {
          buffered += c.toString('utf8');
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (!line) continue;
            const ev = JSON.parse(line) as { type: string; object: KubeObject };
            // an ERROR event (e.g. 410 Gone) is passed on: the caller's record then has a gap it can see
            if (ev.type !== 'ERROR') resourceVersion = ev.object.metadata?.resourceVersion ?? resourceVersion;
            onEvent(ev.type, ev.object);
          }
        });
        res.on('end', () => setTimeout(connect, 100));
        res.on('error', () => setTimeout(connect, 500));
      });
      current.on('error', () => setTimeout(connect, 500));
      current.end();
    };
    connect();
    return () => {
      stopped = true;
      current?.destroy();
    };
  }

  async get<T = KubeObject>(path: string): Promise<T | undefined> {
    const r = await this.request<T>('GET', path);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async list(path: string): Promise<KubeObject[]> {
    return (await this.get<{ items: KubeObject[] }>(path))?.items ?? [];
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The REST path of a namespaced or cluster-wide collection. */
export function resourcePath(resource: string, namespace?: string, group = ''): string {
  const base = group ? `/apis/${group}` : '/api/v1';
  return namespace ? `${base}/namespaces/${namespace}/${resource}` : `${base}/${resource}`;
}
