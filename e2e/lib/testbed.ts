/*
 * The test bed's lifecycle: reads the committed dist/, plans addresses and
 * Services, starts the Kubernetes API stand-in (e2e/lib/kube) and applies
 * dist/ through its apply engine as Argo CD would (sync waves; the secrets Job
 * creates the credentials Secret through the API; the workload controllers
 * start the pods through BedPods), applies a second dist/ the same way, and
 * tears it all down (API server too).
 *
 * Input is the manifests only; each program runs from the Debian 13 root
 * (debian-root.ts) through its adapter in programs/, and every translation
 * from Kubernetes to this host is printed ("TRANSLATE ...").
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { AddressPlan, DNS_PORT, HOST_IP } from './address-plan';
import { LocalCluster, LocalService, writeFiles } from './cluster';
import { DebianRoot } from './debian-root';
import { DnsServer } from './dns-server';
import { BedPods } from './bed-pods';
import { JobRunner } from './jobs';
import { KubeApiServer } from './kube/api-server';
import { ApplyOptions, ApplyResult, DistApplier } from './kube/dist-apply';
import { ApiObject, ObjectStore } from './kube/object-store';
import { WorkloadControllers } from './kube/workload-controllers';
import { log, setLogFile } from './log';
import { Container, K8sObject, loadDist, Manifests, PodIdentity, SecretStore, volumeFiles } from './manifests';
import { PatroniClient } from './patroni-client';
import { Launch, LocalContainer, LocalPod, Program, programOfImage, VolumeMountOnHost } from './pod';
import { sleep } from './poll';
import { handleStopSignal, Supervisor } from './process-supervisor';
import { projectedFiles, withServiceAccountVolume } from './service-account-volume';
import { ProgramContext, ProgramOverrides } from './programs/context';
import { EtcdClientCert, EtcdMember, etcdHealth, etcdLaunch, etcdMembers } from './programs/etcd';
import { exporterLaunch } from './programs/exporter';
import { haproxyLaunch } from './programs/haproxy';
import { pgbouncerExporterLaunch, pgbouncerLaunch } from './programs/pgbouncer';
import { patroniLaunch } from './programs/patroni';
import { ServiceProxy } from './service-proxy';
import { Translator } from './translation';

/* eslint-disable @typescript-eslint/no-explicit-any */

export interface TestbedOptions extends ProgramOverrides {
  distDir: string;
  /** second octet of every address of this bed (127.B.x.y), so beds can run side by side */
  addressBlock?: number;
  keepRunDir?: boolean;
}

const ADAPTERS: Partial<Record<Program, (ctx: ProgramContext, pod: LocalPod, c: LocalContainer) => Launch>> = {
  etcd: etcdLaunch,
  spilo: patroniLaunch,
  haproxy: haproxyLaunch,
  exporter: exporterLaunch,
  pgbouncer: pgbouncerLaunch,
  'pgbouncer-exporter': pgbouncerExporterLaunch,
};

export class Testbed {
  readonly runId = `${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
  readonly root = new DebianRoot();
  readonly runDir: string;
  files: string[];
  /** the manifests last applied */
  manifests: Manifests;
  readonly secrets: SecretStore;
  readonly supervisor: Supervisor;
  readonly addresses: AddressPlan;
  readonly dns: DnsServer;
  readonly domain: string;
  readonly cluster: LocalCluster;
  readonly translator: Translator;
  readonly patroni: PatroniClient;
  readonly jobs = new JobRunner(this);
  /** the API stand-in's objects: what was applied, and what the cluster's Jobs created (the credentials Secret) */
  readonly store = new ObjectStore();
  readonly controllers: WorkloadControllers;
  readonly api: KubeApiServer;
  readonly applier: DistApplier;
  /** what the last apply did */
  lastApply?: ApplyResult;
  private readonly programs: ProgramContext;

  constructor(readonly opts: TestbedOptions) {
    this.root.check();
    const { objects, files } = loadDist(opts.distDir);
    this.files = files;
    this.manifests = new Manifests(objects);
    this.secrets = new SecretStore((name) => this.store.list('Secret').find((s) => s.metadata.name === name));
    this.runDir = this.root.makeRunDir();
    setLogFile(path.join(this.runDir, 'testbed.log'));
    this.supervisor = new Supervisor(this.runId);
    this.addresses = new AddressPlan(opts.addressBlock ?? 0);
    this.dns = new DnsServer(this.addresses.dnsAddress, DNS_PORT, 5);
    this.domain = this.detectDomain();
    this.cluster = new LocalCluster(this.manifests, this.secrets, this.supervisor, this.dns, this.domain, this.runDir, this.root.path);
    this.translator = new Translator(this.cluster, this.addresses);
    const patroniConfigs = new Map<string, Record<string, any>>();
    this.programs = { translator: this.translator, root: this.root, overrides: opts, runDir: this.runDir, dnsAddress: this.addresses.dnsAddress, patroniConfigs };
    this.patroni = new PatroniClient(() => this.pgPods, patroniConfigs);
    this.controllers = new WorkloadControllers(this.store, new BedPods(this), { log, pollMs: 200, readyTimeoutMs: 240000 });
    this.api = new KubeApiServer({ host: this.addresses.apiAddress, port: 443, dir: path.join(this.runDir, 'kube-api'), store: this.store, cluster: this.controllers.clusterState(), clusterDomain: this.domain, log });
    this.applier = new DistApplier(this.store, this.controllers, log);
  }

  private detectDomain(): string {
    const text = JSON.stringify(this.manifests.objects);
    const m = /\.svc\.([a-z0-9-]+(?:\.[a-z0-9-]+)*?)(?=[:/"',\s]|\\n)/.exec(text);
    const d = m ? m[1].replace(/\.$/, '') : 'cluster.local';
    log(`cluster domain: ${d}${m ? ' (from the manifests)' : ' (default)'}`);
    return d;
  }

  workloads(): K8sObject[] {
    return [...this.manifests.all('StatefulSet'), ...this.manifests.all('Deployment')];
  }

  private programOf(workload: K8sObject): Program {
    return programOfImage((workload.spec.template.spec.containers as Container[])[0].image);
  }

  /** Plan Services, pods and addresses and every container's launch (nothing started yet). */
  plan(): void {
    const translator = this.translator;
    for (const o of this.manifests.objects) {
      if (!['StatefulSet', 'Deployment', 'Service', 'ConfigMap', 'Secret', 'Job'].includes(o.kind)) log(`ignored (no runtime meaning here): ${o.kind} ${o.metadata?.name}`);
    }
    for (const s of this.manifests.all('Service')) {
      const ns = this.manifests.ns(s);
      const headless = s.spec?.clusterIP === 'None';
      const svc: LocalService = { obj: s, name: s.metadata.name, namespace: ns, headless, proxies: [], fqdn: `${s.metadata.name}.${ns}.svc.${this.domain}` };
      if (!headless) {
        svc.clusterIP = this.addresses.nextServiceAddress();
        translator.print(`Service ${svc.name} cluster IP`, svc.fqdn, svc.clusterIP);
      }
      this.cluster.services.push(svc);
    }
    // StatefulSet pods have stable names and addresses (planned now, for DNS and translation);
    // Deployment pods get theirs when the controller starts them
    const podsOfService = new Map<string, Array<{ name: string; ip: string; hostname?: string }>>();
    for (const w of this.workloads()) {
      const program = this.programOf(w);
      const pods = Array.from({ length: w.spec.replicas ?? 1 }, (_, i) => ({ name: `${w.metadata.name}-${i}`, ip: this.addresses.podAddress(w, program, i), hostname: w.spec.template.spec.hostname }));
      if (w.kind !== 'StatefulSet') continue;
      const key = `${this.manifests.ns(w)}/${w.spec.serviceName}`;
      podsOfService.set(key, [...(podsOfService.get(key) ?? []), ...pods]);
      for (const p of pods) translator.print(`pod ${p.name} address`, `${p.name} (StatefulSet ${w.metadata.name})`, p.ip);
    }
    for (const s of this.cluster.services) this.addresses.addServiceNames(s, podsOfService.get(`${s.namespace}/${s.name}`) ?? []);
    translator.print('cluster DNS (for HAProxy resolvers)', 'kube-dns / CoreDNS', `${this.addresses.dnsAddress}:${DNS_PORT} (test bed DNS, FQDNs only)`);
    const apiNames = ['kubernetes.default.svc', `kubernetes.default.svc.${this.domain}`];
    for (const n of apiNames) this.addresses.names.set(n, this.addresses.apiAddress);
    this.cluster.staticRecords.set(`kubernetes.default.svc.${this.domain}`, [this.addresses.apiAddress]);
    translator.print('Service kubernetes (the API server)', `${apiNames[1]}:443`, `${this.addresses.apiAddress}:443, the API stand-in (e2e/lib/kube): RBAC from the manifests' Roles, a token per ServiceAccount`);
    this.jobs.describe();
    const refs = this.manifests.secretRefs();
    translator.print('Secrets', refs.map((r) => `${r.name}/${r.key}`).join(', '), "read from the API stand-in's store, where the secrets Job creates them (never printed)");
  }

  /** DNS names of a StatefulSet pod started after the plan (scale up): `<pod>.<service>...`. */
  registerPodNames(pod: LocalPod): void {
    const svc = this.cluster.services.find((s) => s.name === pod.workload.spec?.serviceName && s.namespace === pod.identity.namespace);
    if (svc && !this.addresses.names.has(`${pod.name}.${svc.fqdn}`)) this.addresses.addServiceNames(svc, [{ name: pod.name, ip: pod.ip, hostname: pod.spec.hostname }]);
  }

  /** Give every container of a pod its launch through its program's adapter (also for pods created after the plan). */
  assignLaunches(pod: LocalPod): void {
    for (const c of pod.containers) {
      const adapter = ADAPTERS[c.program];
      if (!adapter) throw new Error(`pod ${pod.name}: image ${c.spec.image} has no program in the test bed`);
      c.launch = adapter(this.programs, pod, c);
    }
  }

  /**
   * A pod of a workload (or Job) with its directories, volumes and containers; not started,
   * and its containers have no launch yet unless the plan gives them one.
   */
  createPod(w: K8sObject, name: string, ordinal: number, ip: string): LocalPod {
    const spec = w.spec.template.spec;
    const dir = path.join(this.runDir, name);
    fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
    const identity: PodIdentity = {
      name,
      namespace: this.manifests.ns(w),
      ip,
      labels: w.spec.template.metadata?.labels ?? {},
      annotations: w.spec.template.metadata?.annotations ?? {},
      serviceAccountName: spec.serviceAccountName ?? 'default',
      nodeName: 'e2e-node',
      hostIP: HOST_IP,
    };
    // volumes: PVC templates, emptyDir, ConfigMap/Secret (materialized)
    const volDirs = new Map<string, string>();
    for (const claim of w.spec.volumeClaimTemplates ?? []) {
      const d = path.join(dir, 'vol', claim.metadata.name);
      fs.mkdirSync(d, { recursive: true });
      volDirs.set(claim.metadata.name, d);
    }
    const { volumes, containers } = withServiceAccountVolume(spec, identity, this.store);
    for (const v of volumes) {
      const d = path.join(dir, 'vol', v.name);
      const files = v.projected ? projectedFiles(v, identity, this) : volumeFiles(v, this.manifests, this.secrets);
      if (files) writeFiles(d, files, (v.configMap ?? v.secret ?? v.projected).defaultMode ?? 0o644);
      else {
        fs.mkdirSync(d, { recursive: true });
        if (v.persistentVolumeClaim) this.translator.print(`pod ${name} volume ${v.name}`, `PVC ${v.persistentVolumeClaim.claimName}`, d);
      }
      volDirs.set(v.name, d);
    }
    const mounts: VolumeMountOnHost[] = [];
    for (const c of containers) {
      for (const vm of c.volumeMounts ?? []) {
        const base = volDirs.get(vm.name);
        if (!base) throw new Error(`pod ${name}: volumeMount ${vm.name} has no volume`);
        if (vm.mountPath === '/dev/shm') {
          this.translator.print(`pod ${name}/${c.name} mount /dev/shm`, `emptyDir ${vm.name}`, 'host /dev/shm (shared memory needs no mapping)');
          continue;
        }
        mounts.push({ mountPath: vm.mountPath, hostPath: vm.subPath ? path.join(base, vm.subPath) : base, container: c.name });
      }
    }
    const pod = new LocalPod(this.cluster, name, w, ordinal, ip, dir, identity, mounts);
    for (const ic of spec.initContainers ?? []) log(`pod ${name}: init container ${ic.name} (${ic.image}) not run: the test bed prepares directories itself`);
    for (const c of spec.containers as Container[]) {
      const container = new LocalContainer(pod, c, programOfImage(c.image));
      for (const kind of ['readiness', 'liveness'] as const) {
        const probe = c[`${kind}Probe`];
        if (!probe) continue;
        if (!probe.httpGet && !probe.tcpSocket) log(`pod ${name}/${c.name}: ${kind} probe type not emulated (exec/grpc): treated as passing`);
        container.probes.push({ spec: probe, kind, nextAt: 0, successes: 0, failures: 0, inFlight: false });
      }
      pod.containers.push(container);
    }
    this.cluster.pods.push(pod);
    return pod;
  }

  async start(): Promise<void> {
    Supervisor.reapOrphans();
    log(`run dir ${this.runDir}; manifests: ${this.files.map((f) => path.basename(f)).join(', ')}`);
    log(`programs (Debian 13 root ${this.root.path}): ${Object.entries(this.programVersions()).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    this.plan();
    await this.dns.start();
    await this.api.start();
    for (const s of this.cluster.services) {
      if (!s.clusterIP) continue;
      for (const p of s.obj.spec.ports ?? []) s.proxies.push(new ServiceProxy(`${s.name}:${p.port}`, s.clusterIP, p.port));
    }
    this.cluster.onChange();
    for (const s of this.cluster.services) for (const px of s.proxies) await px.start();
    this.cluster.prober.start();
    const r = await this.applyObjects(this.manifests.objects, 'dist/');
    if (!r.ok) throw new Error(`dist/ did not apply: ${JSON.stringify({ rejected: r.rejected, failedJobs: r.jobs.filter((j) => !j.succeeded) })}`);
  }

  /**
   * Apply a second dist/ to the running cluster, as `kubectl apply` / Argo CD would: unchanged
   * objects untouched, new Jobs run, changed workloads rolled per their updateStrategy, forbidden
   * changes refused (the result says which), removed objects deleted. Services keep the cluster
   * IPs and ports planned at start (a changed Service is applied to the store, not re-proxied).
   */
  async apply(distDir: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
    const { objects, files } = loadDist(distDir);
    this.files = files;
    return this.applyObjects(objects, distDir, opts);
  }

  private async applyObjects(objects: K8sObject[], what: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
    const t0 = Date.now();
    this.manifests = new Manifests(objects);
    this.cluster.manifests = this.manifests;
    const r = await this.applier.apply(objects as ApiObject[], opts);
    this.lastApply = r;
    const summary = `${r.created.length} created, ${r.configured.length} configured, ${r.unchanged.length} unchanged, ${r.deleted.length} deleted, ${r.rejected.length} refused; Jobs: ${r.jobs.map((j) => `${j.name} ${j.succeeded ? 'ok' : 'FAILED'}`).join(', ') || 'none'}`;
    log(`APPLY ${what} in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${summary}${r.configured.length ? `; configured: ${r.configured.join(', ')}` : ''}`);
    for (const x of r.rejected) log(`APPLY refused ${x.object}: ${x.message}`);
    return r;
  }

  async stop(): Promise<void> {
    const t0 = Date.now();
    await this.cluster.stopAll();
    // pods the controllers were recreating are refused now (stopping); the API server goes last
    await Promise.race([this.controllers.settled(), new Promise((r) => setTimeout(r, 20000).unref())]);
    await this.api.stop();
    await this.dns.stop();
    this.supervisor.close();
    log(`teardown done in ${Date.now() - t0} ms`);
    if (!this.opts.keepRunDir && process.env.E2E_KEEP !== '1') fs.rmSync(this.runDir, { recursive: true, force: true });
    else log(`run dir kept: ${this.runDir}`);
  }

  /**
   * Keep the cluster up until SIGINT/SIGTERM/SIGHUP, then return (the caller tears down).
   * A timer keeps Node's event loop alive: every process and socket of the bed is unref'd.
   */
  async holdUntilSignal(): Promise<NodeJS.Signals> {
    const keepAlive = setInterval(() => undefined, 1 << 30);
    try {
      const sig = await new Promise<NodeJS.Signals>((resolve) => handleStopSignal(resolve));
      // `npx tsx` relays the signal too and SIGKILLs its child unless the child acknowledges it
      // within 30 ms: let that handshake finish before the teardown keeps the event loop busy
      await sleep(250);
      return sig;
    } finally {
      clearInterval(keepAlive);
    }
  }

  programVersions(): Record<string, string> {
    return this.root.programVersions();
  }

  podsRunning(program: Program): LocalPod[] {
    return this.cluster.pods.filter((p) => !p.deleted && p.workload.kind !== 'Job' && p.containers.some((c) => c.program === program));
  }

  get etcdPods(): LocalPod[] {
    return this.podsRunning('etcd');
  }

  get pgPods(): LocalPod[] {
    return this.podsRunning('spilo');
  }

  get routerPods(): LocalPod[] {
    return this.podsRunning('haproxy');
  }

  podByIp(ip: string): LocalPod | undefined {
    return this.cluster.pods.find((p) => p.ip === ip);
  }

  etcdHealth(): Promise<boolean[]> {
    return etcdHealth(this.etcdPods);
  }

  /** etcd's member list (peer and client URLs as the members registered them), showing the clients' certificate Patroni has. */
  async etcdMembers(): Promise<EtcdMember[]> {
    return etcdMembers(this.etcdPods, this.etcdClientCert());
  }

  /**
   * The clients' certificate and key a Postgres pod's Patroni shows etcd (its etcd3.cert and
   * etcd3.key, files mounted from the Secret), or undefined when it has none.
   */
  etcdClientCert(): EtcdClientCert | undefined {
    const etcd3 = this.pgPods.map((p) => this.programs.patroniConfigs.get(p.name)?.etcd3).find((c) => c?.cert && c?.key);
    return etcd3 ? { cert: etcd3.cert, key: etcd3.key } : undefined;
  }
}
