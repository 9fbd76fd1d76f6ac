/*
 * The Kubernetes API stand-in: an HTTPS server on the loopback address and port the caller
 * gives, with its own CA (made with openssl at start). Each ServiceAccount gets a bearer token;
 * the bed writes token, ca.crt and namespace where the pod expects
 * /var/run/secrets/kubernetes.io/serviceaccount. Each request is authenticated (unknown token:
 * 401), authorized by RBAC from the Roles and RoleBindings in the store (403 with the API
 * server's wording), then served by ApiHandlers; every answer is JSON, errors as Status objects.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as https from 'https';
import { AddressInfo } from 'net';
import * as path from 'path';
import { ApiHandlers } from './api-handlers';
import { LeaseVersion } from './leases';
import { parseResourcePath, requestVerb, RESOURCES } from './api-resources';
import { ApiError, badRequest, notFound, unauthorized } from './api-status';
import { ClusterState } from './cluster-state';
import { ObjectStore } from './object-store';
import { RbacAuthorizer, RequestAttributes, serviceAccountUser, UserInfo } from './rbac';
import { makeServingCerts } from './serving-certs';

export interface KubeApiOptions {
  /** Loopback address to listen on (also the certificate's IP subjectAltName). */
  host: string;
  port: number;
  /** Private directory for the CA and serving key. */
  dir: string;
  store: ObjectStore;
  cluster: ClusterState;
  clusterDomain?: string;
  log?: (line: string) => void;
}

export interface RequestRecord {
  user: string;
  method: string;
  path: string;
  code: number;
}

/** Paths any caller may read, as the system:public-info-viewer ClusterRole allows. */
const PUBLIC_PATHS: Record<string, unknown> = {
  '/healthz': 'ok', '/livez': 'ok', '/readyz': 'ok',
  '/version': { major: '1', minor: '33', gitVersion: 'v1.33.0+e2e-api-stand-in', platform: 'linux/amd64' },
};

export class KubeApiServer {
  /** Requests served, newest last (user, method, path, answer code): what tests and the bed's log read. */
  readonly requests: RequestRecord[] = [];
  private readonly tokens = new Map<string, UserInfo>();
  private readonly saTokens = new Map<string, string>();
  private readonly authorizer: RbacAuthorizer;
  private readonly handlers: ApiHandlers;
  private server?: https.Server;
  private ca = '';
  /** Every version of every Lease clients wrote, oldest first (who held it, when). */
  get leaseHistory(): LeaseVersion[] {
    return this.handlers.leases.history;
  }

  /** A token in group system:masters (cluster-admin), for the bed's own calls; never given to a pod. */
  readonly adminToken = crypto.randomBytes(32).toString('base64url');

  constructor(private readonly opts: KubeApiOptions) {
    this.authorizer = new RbacAuthorizer(opts.store);
    this.handlers = new ApiHandlers(opts.store, opts.cluster);
    this.tokens.set(this.adminToken, { username: 'e2e-test-bed', groups: ['system:masters', 'system:authenticated'] });
  }

  private boundPort = 0;

  /** `https://<host>:<port>`; with port 0 in the options, the port the system chose. */
  get url(): string {
    return `https://${this.opts.host}:${this.boundPort || this.opts.port}`;
  }

  /** PEM of the CA that signed the serving certificate (a pod's ca.crt). */
  get caCert(): string {
    return this.ca;
  }

  async start(): Promise<void> {
    const certs = makeServingCerts(this.opts.dir, this.opts.host, this.opts.clusterDomain);
    this.ca = certs.caCert;
    const server = https.createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
        if (body.length > 3 * 1024 * 1024) req.destroy();
      });
      req.on('end', () => {
        void this.serve(req.method ?? 'GET', req.url ?? '/', req.headers, body).then(({ code, body: out, user }) => {
          const pathname = (req.url ?? '/').split('?')[0];
          this.requests.push({ user, method: req.method ?? '', path: pathname, code });
          this.opts.log?.(`kube-api ${user} ${req.method} ${req.url} -> ${code}`);
          res.writeHead(code, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(out));
        });
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.boundPort = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** The ServiceAccount's bearer token (one per account, stable for the server's life). */
  tokenFor(namespace: string, serviceAccount: string): string {
    const key = `${namespace}/${serviceAccount}`;
    let t = this.saTokens.get(key);
    if (!t) {
      t = crypto.randomBytes(32).toString('base64url');
      this.saTokens.set(key, t);
      this.tokens.set(t, serviceAccountUser(namespace, serviceAccount));
    }
    return t;
  }

  /** Writes token, ca.crt and namespace as a pod's /var/run/secrets/kubernetes.io/serviceaccount holds them. */
  writeServiceAccountDir(dir: string, namespace: string, serviceAccount: string): void {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(dir, 'token'), this.tokenFor(namespace, serviceAccount), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'ca.crt'), this.ca);
    fs.writeFileSync(path.join(dir, 'namespace'), namespace);
  }

  /** A token is valid while its ServiceAccount exists (deleting the account invalidates it, as in a cluster). */
  private authenticate(authorization: string | undefined): UserInfo {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    const user = m ? this.tokens.get(m[1]) : undefined;
    if (!user) throw unauthorized();
    const sa = /^system:serviceaccount:([^:]+):(.+)$/.exec(user.username);
    if (sa && !this.opts.store.get('ServiceAccount', sa[1], sa[2])) throw unauthorized();
    return user;
  }

  private async serve(method: string, rawUrl: string, headers: Record<string, string | string[] | undefined>, rawBody: string):
    Promise<{ code: number; body: unknown; user: string }> {
    let user = '-';
    try {
      const url = new URL(rawUrl, 'https://stand-in');
      if (method === 'GET' && url.pathname in PUBLIC_PATHS) return { code: 200, body: PUBLIC_PATHS[url.pathname], user };
      const who = this.authenticate(headers.authorization as string | undefined);
      user = who.username;
      const p = parseResourcePath(url.pathname);
      const type = p && RESOURCES[p.resource];
      if (!p || !type || type.group !== p.group) throw notFound(p?.resource ?? url.pathname, p?.group ?? '', p?.name ?? '');
      const verb = requestVerb(method, p, url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1');
      const attrs: RequestAttributes = { verb, apiGroup: p.group, resource: p.resource, subresource: p.subresource, namespace: p.namespace, name: p.name };
      if (!this.authorizer.allowed(who, attrs)) {
        throw new ApiError(403, 'Forbidden', RbacAuthorizer.forbiddenMessage(who, attrs), { name: p.name || undefined, group: p.group || undefined, kind: p.resource });
      }
      let body: unknown;
      if (rawBody) {
        try {
          body = JSON.parse(rawBody);
        } catch (e) {
          throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
        }
      }
      const answer = await this.handlers.handle({ verb, path: p, type, query: url.searchParams, contentType: headers['content-type'] as string | undefined, body });
      return { ...answer, user };
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', `the API stand-in failed: ${(e as Error).message}`);
      return { code: err.code, body: err.body(), user };
    }
  }
}
