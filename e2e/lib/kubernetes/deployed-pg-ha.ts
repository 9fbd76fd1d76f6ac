/*
 * A dist/ deployed on the bed's real Kubernetes, seen as its users see it: the manifests say which
 * StatefulSets, Services, Secrets and Jobs there are; the API says where the pods run and what
 * their addresses are; Patroni's REST API and PostgreSQL answer on those addresses. Nothing here
 * assumes the default names, ports or member counts.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as YAML from 'yaml';
import { PgConn } from '../pg';
import { httpJson, waitFor } from '../poll';
import { healthOf, prune, prunable, SyncResult, syncLikeArgoCd } from './argocd-sync';
import type { KubernetesCluster } from './cluster';
import { KubeObject, resourcePath } from './kube-client';

export interface LivePod {
  name: string;
  uid: string;
  ip: string;
  node: string;
  ready: boolean;
  labels: Record<string, string>;
  phase: string;
  deleting: boolean;
  /** each container's restart count (the kubelet's) */
  restarts: Record<string, number>;
}

export interface PatroniMember {
  name: string;
  role: string;
  state: string;
  host: string;
  timeline?: number;
  lag?: number | string;
}

export function loadManifests(distDir: string): KubeObject[] {
  return fs.readdirSync(distDir).filter((f) => /\.ya?ml$/.test(f)).sort()
    .flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(distDir, f), 'utf8')).map((d) => d.toJSON() as KubeObject))
    .filter((o) => o?.kind);
}

const imageOf = (w: KubeObject): string => w.spec.template.spec.containers[0].image;

export class DeployedPgHa {
  objects: KubeObject[];
  lastSync?: SyncResult;

  constructor(readonly cluster: KubernetesCluster, distDir: string) {
    this.objects = loadManifests(distDir);
  }

  all(kind: string): KubeObject[] {
    return this.objects.filter((o) => o.kind === kind);
  }

  one(kind: string, pred: (o: KubeObject) => boolean, what: string): KubeObject {
    const o = this.all(kind).find(pred);
    if (!o) throw new Error(`dist/ has no ${what}`);
    return o;
  }

  get namespace(): string {
    return this.postgres.metadata.namespace!;
  }

  get postgres(): KubeObject {
    return this.one('StatefulSet', (s) => /spilo/.test(imageOf(s)), 'Spilo StatefulSet');
  }

  get etcd(): KubeObject {
    return this.one('StatefulSet', (s) => /etcd/.test(imageOf(s)), 'etcd StatefulSet');
  }

  get router(): KubeObject {
    return this.one('Deployment', (d) => /haproxy/.test(imageOf(d)), 'HAProxy Deployment');
  }

  /** the Service whose port is the router's write (or read) port, by the router's container port names */
  routerService(kind: 'write' | 'read'): { name: string; ip?: string; port: number } {
    const routerLabels = this.router.spec.template.metadata.labels as Record<string, string>;
    const services = this.all('Service').filter((s) => s.spec.selector && Object.entries(s.spec.selector).every(([k, v]) => routerLabels[k] === v));
    const svc = services.find((s) => s.spec.ports.length === 1 && (kind === 'write' ? /-rw$/ : /-ro$/).test(s.metadata.name));
    if (!svc) throw new Error(`dist/ has no ${kind} Service for the router (among ${services.map((s) => s.metadata.name).join(', ')})`);
    return { name: svc.metadata.name, port: svc.spec.ports[0].port };
  }

  /**
   * Sync `objects` (another dist/'s, for an upgrade) like Argo CD; with `prune`, the objects of the
   * previous dist/ that these lack are deleted once the sync succeeded (hooks excepted).
   */
  async sync(objects = this.objects, opts: { prune?: boolean } = {}): Promise<SyncResult> {
    const gone = opts.prune ? prunable(this.objects, objects) : [];
    this.objects = objects;
    this.lastSync = await syncLikeArgoCd(this.cluster.api, objects);
    if (opts.prune && this.lastSync.ok) this.lastSync.pruned = await prune(this.cluster.api, gone);
    return this.lastSync;
  }

  async pods(workload: KubeObject): Promise<LivePod[]> {
    const selector = Object.entries(workload.spec.selector.matchLabels as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
    const list = await this.cluster.api.list(`${resourcePath('pods', workload.metadata.namespace)}?labelSelector=${encodeURIComponent(selector)}`);
    return list.map((p) => ({
      name: p.metadata.name,
      uid: p.metadata.uid ?? '',
      ip: p.status?.podIP ?? '',
      node: p.spec.nodeName ?? '',
      phase: p.status?.phase ?? '',
      labels: p.metadata.labels ?? {},
      deleting: Boolean(p.metadata.deletionTimestamp),
      restarts: Object.fromEntries(((p.status?.containerStatuses ?? []) as Array<{ name: string; restartCount: number }>).map((c) => [c.name, c.restartCount])),
      ready: (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'),
    })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** a Secret's data, decoded (read as the cluster admin) */
  async secret(name: string): Promise<Record<string, string>> {
    const s = await this.cluster.api.get(`${resourcePath('secrets', this.namespace)}/${name}`);
    if (!s) throw new Error(`Secret ${this.namespace}/${name} does not exist`);
    return Object.fromEntries(Object.entries((s.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }

  async serviceAddress(name: string): Promise<string> {
    const s = await this.cluster.api.get(`${resourcePath('services', this.namespace)}/${name}`);
    if (!s?.spec?.clusterIP) throw new Error(`Service ${this.namespace}/${name} has no cluster IP`);
    return s.spec.clusterIP;
  }

  /** A value of the Spilo container's env, following secretKeyRef into the Secret. */
  postgresEnv(name: string): Promise<string> {
    return this.envValue(this.postgres.spec.template.spec.containers[0], name);
  }

  /** A value of a container's env, following secretKeyRef into the Secret. */
  async envValue(container: { env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }> }, name: string): Promise<string> {
    const e = (container.env ?? []).find((x) => x.name === name);
    if (!e) throw new Error(`no ${name} in the container's env`);
    if (e.value !== undefined) return e.value;
    const ref = e.valueFrom?.secretKeyRef;
    if (!ref) throw new Error(`${name} is neither a value nor a secretKeyRef`);
    return (await this.secret(ref.name))[ref.key];
  }

  /**
   * The application's connection as applications take it: from the `<SCOPE>-app` Secret the Jobs
   * keep current (its name is the init Job's APP_SECRET_NAME). A dist/ older than 0.2.0 has no such
   * Secret: there, the init Job's APP_USER, APP_PASSWORD and APP_DB.
   */
  async appCredentials(): Promise<{ user: string; password: string; database: string }> {
    const containers = this.all('Job').flatMap((j) => [...(j.spec.template.spec.initContainers ?? []), ...j.spec.template.spec.containers]);
    const has = (c: { env?: Array<{ name: string }> }, name: string): boolean => (c.env ?? []).some((e) => e.name === name);
    const writer = containers.find((c) => has(c, 'APP_SECRET_NAME'));
    const init = containers.find((c) => has(c, 'APP_USER') && has(c, 'APP_PASSWORD') && has(c, 'APP_DB'));
    if (!writer && init) return { user: await this.envValue(init, 'APP_USER'), password: await this.envValue(init, 'APP_PASSWORD'), database: await this.envValue(init, 'APP_DB') };
    if (!writer) throw new Error('no Job of dist/ writes the application\'s Secret (APP_SECRET_NAME)');
    const name = await this.envValue(writer, 'APP_SECRET_NAME');
    const s = await waitFor(`Secret ${name}`, async () => this.secret(name).catch(() => undefined), { timeoutMs: 60000, intervalMs: 1000 });
    return { user: s.username, password: s.password, database: s.dbname };
  }

  get patroniPort(): number {
    const c = this.postgres.spec.template.spec.containers[0];
    return (c.ports ?? []).find((p: { name: string }) => p.name === 'patroni')?.containerPort ?? 8008;
  }

  get postgresPort(): number {
    const c = this.postgres.spec.template.spec.containers[0];
    return (c.ports ?? []).find((p: { name: string }) => p.name === 'postgresql' || p.name === 'postgres')?.containerPort ?? 5432;
  }

  /** Patroni's view of the cluster from the first member that answers */
  async members(): Promise<PatroniMember[] | undefined> {
    for (const p of await this.pods(this.postgres)) {
      if (!p.ip) continue;
      const c = await httpJson<{ members: PatroniMember[] }>(p.ip, this.patroniPort, '/cluster', 2000);
      if (c?.members) return c.members;
    }
    return undefined;
  }

  /** one leader and every other member streaming (or running) with no lag */
  async waitHealthy(timeoutMs = 180000): Promise<PatroniMember[]> {
    const wanted = this.postgres.spec.replicas ?? 1;
    return waitFor('Patroni: one leader, every replica streaming', async () => {
      const m = await this.members();
      if (!m || m.length !== wanted) return undefined;
      const leaders = m.filter((x) => x.role === 'leader');
      const replicasOk = m.filter((x) => x.role !== 'leader').every((x) => x.state === 'streaming' && (x.lag === 0 || x.lag === '0'));
      return leaders.length === 1 && leaders[0].state === 'running' && replicasOk ? m : undefined;
    }, { timeoutMs, intervalMs: 1000, describe: async () => JSON.stringify(await this.members()) });
  }

  async leader(): Promise<LivePod> {
    const m = await this.waitHealthy();
    const name = m.find((x) => x.role === 'leader')!.name;
    return (await this.pods(this.postgres)).find((p) => p.name === name)!;
  }

  /**
   * A Job of dist/ run again under another name (once: no retries), optionally edited first, as an
   * operator re-runs a hook; resolves when it completed or failed, with its pod's log. The copy is
   * deleted afterwards.
   */
  async runJobAgain(job: KubeObject, name: string, edit: (copy: KubeObject) => void = () => undefined, timeoutMs = 180000): Promise<{ succeeded: boolean; output: string }> {
    const copy = structuredClone(job);
    copy.metadata = { name, namespace: job.metadata.namespace, labels: job.metadata.labels };
    copy.spec.backoffLimit = 0;
    copy.spec.template.spec.restartPolicy = 'Never';
    delete copy.spec.ttlSecondsAfterFinished;
    edit(copy);
    await this.cluster.api.run(['create', '-f', '-'], JSON.stringify(copy));
    try {
      const health = await waitFor(`Job ${name} done`, async () => {
        const h = await healthOf(this.cluster.api, copy);
        return h === 'Progressing' ? undefined : h;
      }, { timeoutMs, intervalMs: 500 });
      const output = (await this.cluster.api.kubectl(['logs', '-n', this.namespace, `job/${name}`, '--all-containers', '--tail=200'])).stdout;
      return { succeeded: health === 'Healthy', output };
    } finally {
      await this.cluster.api.kubectl(['delete', 'job', '-n', this.namespace, name, '--cascade=foreground', '--wait=false']);
    }
  }

  async superuser(pod: LivePod, database = 'postgres'): Promise<PgConn> {
    const user = await this.postgresEnv('PGUSER_SUPERUSER');
    const password = await this.postgresEnv('PGPASSWORD_SUPERUSER');
    return { host: pod.ip, port: this.postgresPort, user, password, database, sslmode: 'require' };
  }
}
