/*
 * The emulated cluster: pods on per-pod loopback addresses, Services (DNS
 * records served by the test bed's DNS server, and a kube-proxy stand-in for
 * ClusterIP Services), endpoints recomputed on every pod state change.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DnsServer } from './dns-server';
import { KubeletProber } from './kubelet-probes';
import { log } from './log';
import { K8sObject, Manifests, SecretStore } from './manifests';
import { LocalPod } from './pod';
import { Supervisor } from './process-supervisor';
import { ServiceProxy } from './service-proxy';

export interface LocalService {
  obj: K8sObject;
  name: string;
  namespace: string;
  headless: boolean;
  clusterIP?: string;
  proxies: ServiceProxy[];
  fqdn: string;
}

export class LocalCluster {
  pods: LocalPod[] = [];
  services: LocalService[] = [];
  stopping = false;
  /** DNS names that are not Services of the manifests (the API server's `kubernetes.default.svc...`) */
  readonly staticRecords = new Map<string, string[]>();
  readonly prober = new KubeletProber(this);

  constructor(
    /** the manifests last applied (a second dist/ replaces them) */
    public manifests: Manifests,
    readonly secrets: SecretStore,
    readonly supervisor: Supervisor,
    readonly dns: DnsServer,
    readonly domain: string,
    readonly runDir: string,
    /** the Debian root every container program runs in */
    readonly programRoot: string,
  ) {}

  pod(name: string): LocalPod {
    const p = this.pods.find((x) => x.name === name);
    if (!p) throw new Error(`no pod ${name}`);
    return p;
  }

  service(name: string): LocalService {
    const s = this.services.find((x) => x.name === name);
    if (!s) throw new Error(`no Service ${name}`);
    return s;
  }

  selects(svc: K8sObject, pod: LocalPod): boolean {
    const sel = svc.spec?.selector as Record<string, string> | undefined;
    if (!sel || !Object.keys(sel).length) return false;
    if ((svc.metadata.namespace ?? 'default') !== pod.identity.namespace) return false;
    return Object.entries(sel).every(([k, v]) => pod.labels[k] === v);
  }

  /** Pods behind a Service right now (ready, or all started ones with publishNotReadyAddresses). */
  endpoints(s: LocalService): LocalPod[] {
    const notReadyToo = !!s.obj.spec?.publishNotReadyAddresses;
    return this.pods.filter((p) => !p.deleted && this.selects(s.obj, p) && (p.ready || (notReadyToo && p.running)));
  }

  /** Recompute DNS records and proxy endpoints after any pod state change. */
  onChange(): void {
    const records: Array<[string, string[]]> = [...this.staticRecords];
    for (const s of this.services) {
      const eps = this.endpoints(s);
      if (s.headless) {
        records.push([s.fqdn, eps.map((p) => p.ip)]);
        for (const p of eps) {
          if (p.spec.subdomain === s.name || p.workload.spec?.serviceName === s.name) {
            records.push([`${p.spec.hostname ?? p.name}.${s.fqdn}`, [p.ip]]);
          }
        }
      } else if (s.clusterIP) {
        records.push([s.fqdn, [s.clusterIP]]);
        for (const px of s.proxies) {
          const port = (s.obj.spec.ports as Array<{ port: number; targetPort?: number | string; name?: string }>).find((x) => x.port === px.port);
          px.endpoints = eps.map((p) => ({ host: p.ip, port: p.containers[0].port(port?.targetPort ?? px.port) }));
        }
      }
    }
    // rewrite the DNS map: names of pods that left disappear
    const want = new Map(records.filter(([, ips]) => ips.length));
    for (const n of this.dns.names()) if (!want.has(n)) this.dns.delete(n);
    for (const [n, ips] of want) this.dns.set(n, ips);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    this.prober.stop();
    for (const s of this.services) for (const px of s.proxies) await px.stop();
    const n = await this.supervisor.killAll();
    log(`teardown: killed ${n} processes`);
  }
}

export function writeFiles(dir: string, files: Record<string, string>, mode: number, uid?: number, gid?: number): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const f = path.join(dir, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, content, { mode });
    fs.chmodSync(f, mode);
    if (uid !== undefined) fs.chownSync(f, uid, gid ?? uid);
  }
}
