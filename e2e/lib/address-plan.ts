/*
 * The address plan: one loopback address per pod (127.0.0.0/8 all routes to
 * lo), one per ClusterIP Service, and the test bed's DNS server. Every
 * workload gets its own third octet, chosen by the program it runs, so the
 * addresses say what they are: etcd 127.B.10.N, Postgres 127.B.20.N, routers
 * 127.B.30.N, poolers 127.B.35.N, DNS 127.B.40.1, the Kubernetes API stand-in 127.B.40.2, Services 127.B.50.N, Job pods 127.B.60.N
 * (N = ordinal + 1). B, the bed's block, lets test beds run side by side
 * (0 unless the caller picks another).
 * It also knows every cluster DNS name of a pod or Service, to translate
 * names in env values and args into these addresses.
 */
import type { K8sObject } from './manifests';
import type { Program } from './pod';

export const DNS_PORT = 53;

/**
 * The address block of one bed in a run: `E2E_ADDRESS_BLOCK` (default 0) is the run's base, and each bed
 * of the run adds its own offset (0 committed dist/, 50 the existing Secret with any characters, 100 other configuration, 150 upgrade, 200 the
 * `--hold` test), so runs started side by side from different checkouts (bases 0, 11, 21, ...) never
 * share an address. A base up to 55 fits every offset; a bed started alone (up.ts) may use up to 255.
 */
export function addressBlock(offset: 0 | 50 | 100 | 150 | 200 = 0): number {
  const raw = process.env.E2E_ADDRESS_BLOCK ?? '0';
  const base = Number(raw);
  if (!/^\d+$/.test(raw) || base + offset > 255) throw new Error(`E2E_ADDRESS_BLOCK must be a whole number 0..${255 - offset} (got ${JSON.stringify(raw)}; bases 0..55 keep the suites of two runs apart)`);
  return base + offset;
}

/** status.hostIP of every pod: the one "node" */
export const HOST_IP = '127.0.0.1';

const PROGRAM_NET: Record<Program, number> = { etcd: 10, spilo: 20, haproxy: 30, pgbouncer: 35, 'pgbouncer-exporter': 35, exporter: 20, psql: 60, unknown: 70 };
const DNS_NET = 40;
const SERVICE_NET = 50;
const JOB_NET = 60;

export class AddressPlan {
  private workloadNets = new Map<string, number>();
  private servicesPlanned = 0;
  /** cluster DNS name -> address */
  readonly names = new Map<string, string>();
  readonly dnsAddress: string;
  /** the Kubernetes API stand-in (Service `kubernetes` in namespace default), port 443 */
  readonly apiAddress: string;

  constructor(readonly block = 0) {
    if (!Number.isInteger(block) || block < 0 || block > 255) throw new Error(`address block must be 0..255 (got ${block})`);
    this.dnsAddress = `127.${block}.${DNS_NET}.1`;
    this.apiAddress = `127.${block}.${DNS_NET}.2`;
  }

  private key(w: K8sObject): string {
    return `${w.kind}/${w.metadata.namespace ?? 'default'}/${w.metadata.name}`;
  }

  /** The third octet of a workload's pods (the first free one from its program's base). */
  workloadNet(w: K8sObject, program: Program): number {
    const k = this.key(w);
    let net = this.workloadNets.get(k);
    if (net !== undefined) return net;
    const used = new Set(this.workloadNets.values());
    net = PROGRAM_NET[program];
    while (used.has(net) || net === SERVICE_NET || net === DNS_NET) net++;
    this.workloadNets.set(k, net);
    return net;
  }

  podAddress(w: K8sObject, program: Program, ordinal: number): string {
    if (ordinal > 253) throw new Error(`${this.key(w)}: ordinal ${ordinal} does not fit the address plan (at most 254 pods per workload)`);
    return `127.${this.block}.${this.workloadNet(w, program)}.${ordinal + 1}`;
  }

  /** The address of the n-th run of a Job's pod (n from 1). */
  jobPodAddress(n: number): string {
    return `127.${this.block}.${JOB_NET}.${((n - 1) % 254) + 1}`;
  }

  nextServiceAddress(): string {
    return `127.${this.block}.${SERVICE_NET}.${++this.servicesPlanned}`;
  }

  /** Register the names a Service (and, for its pods, `<host>.<service>...`) resolves to. */
  addServiceNames(service: { name: string; namespace: string; fqdn: string; clusterIP?: string }, pods: Array<{ name: string; ip: string; hostname?: string }>): void {
    const forms = [service.name, `${service.name}.${service.namespace}`, `${service.name}.${service.namespace}.svc`, service.fqdn];
    if (service.clusterIP) for (const n of forms) this.names.set(n, service.clusterIP);
    for (const p of pods) for (const n of forms) this.names.set(`${p.hostname ?? p.name}.${n}`, p.ip);
  }

  /**
   * A certificate's subject names (comma list): clients connect to addresses here, so each name
   * becomes the addresses it covers. `*.<headless Service>` -> every pod behind it, a Service name
   * -> its cluster IP; loopback names stay (every loopback client arrives from 127.0.0.1 here).
   */
  certificateNames(value: string): string {
    const out = new Set<string>();
    for (const name of value.split(',').filter(Boolean)) {
      if (name.startsWith('*.')) {
        const suffix = name.slice(1);
        for (const [n, ip] of this.names) if (n.endsWith(suffix) && !n.slice(0, -suffix.length).includes('.')) out.add(ip);
      } else out.add(this.names.get(name) ?? name);
    }
    return [...out].join(',');
  }

  /**
   * Address translation of one value: cluster DNS names -> addresses (FQDNs always;
   * shorter names only where they stand as a host); wildcard/localhost -> the pod's address.
   */
  translate(value: string, podIp: string, opts: { listen?: boolean; hostVar?: boolean } = {}): string {
    let v = value;
    const names = [...this.names.keys()].sort((a, b) => b.length - a.length);
    for (const n of names) {
      const q = n.replace(/[.]/g, '\\.');
      const re = new RegExp(`(^|[^A-Za-z0-9.-])${q}(?=$|[^A-Za-z0-9.-])`, 'g');
      const asHost = (opts.hostVar && v === n) || new RegExp(`(^|//|[,@\\s=\\[])${q}:\\d`).test(v) || new RegExp(`//${q}(/|$)`).test(v);
      if (n.includes('.svc') || asHost) v = v.replace(re, (_a, pre: string) => pre + this.names.get(n));
    }
    v = v.replace(/(^|\/\/|[,@\s=])(0\.0\.0\.0|127\.0\.0\.1|localhost|\[::\])(?=:|$|\/|,)/g, (_a, pre: string) => pre + podIp);
    if (opts.listen) v = v.replace(/^:(\d+)$/, `${podIp}:$1`);
    return v;
  }
}

