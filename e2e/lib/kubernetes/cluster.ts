/*
 * A real Kubernetes cluster on this machine: the control plane on the host's LAN address and
 * `nodes` nodes, each a network namespace with containerd, kubelet and kube-proxy (see node.ts,
 * control-plane.ts, bed-network.ts), CoreDNS for the cluster domain and a local-volume provisioner.
 *
 * Everything it starts is gone on every exit path: its processes are the Supervisor's (killed on
 * exit and on SIGINT/SIGTERM/SIGHUP, and reaped at the next start if the owner died), and
 * `down()` (also run at the next start of the same block when the owner died) unmounts what the
 * kubelets and containerd mounted, removes the cgroups, the network namespaces, the routes and
 * the state directories.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DebianRoot } from '../debian-root';
import { log } from '../log';
import { sleep, waitFor } from '../poll';
import { listProcs, onExitAfterKill, Supervisor } from '../process-supervisor';
import { BedAddresses, networkDown, networkUp } from './bed-network';
import { checkComponents, KUBERNETES_VERSION } from './components';
import { ControlPlane } from './control-plane';
import { clusterDnsManifest } from './cluster-dns';
import { importImages } from './images';
import { KubeClient, KubeObject } from './kube-client';
import { LocalVolumeProvisioner, storageClassManifest } from './local-volumes';
import { BedNode, cgroupHierarchies, killCgroupProcesses, removeCgroupTree } from './node';
import { BedPki } from './pki';

export interface ClusterOptions {
  /** the bed's address block (bed-network.ts), so several beds share a machine */
  block: number;
  /** @default 3 */
  nodes?: number;
  /** @default cluster.local */
  clusterDomain?: string;
}

const STATE_ROOT = '/var/lib/pgha-bed';
const RUN_ROOT = '/run/pgha-bed';

export class KubernetesCluster {
  readonly addresses: BedAddresses;
  readonly clusterDomain: string;
  readonly stateDir: string;
  readonly runDir: string;
  readonly pki: BedPki;
  readonly supervisor: Supervisor;
  readonly root = new DebianRoot();
  readonly nodes: BedNode[];
  readonly controlPlane: ControlPlane;
  private client?: KubeClient;
  private provisioner?: LocalVolumeProvisioner;
  private forgetExitCleanup?: () => void;

  constructor(readonly opts: ClusterOptions) {
    this.addresses = new BedAddresses(opts.block);
    this.clusterDomain = opts.clusterDomain ?? 'cluster.local';
    this.stateDir = path.join(STATE_ROOT, String(opts.block));
    this.runDir = path.join(RUN_ROOT, String(opts.block));
    this.pki = new BedPki(path.join(this.stateDir, 'pki'));
    this.supervisor = new Supervisor(`bed${opts.block}`);
    this.controlPlane = new ControlPlane(this.addresses, this.pki, this.supervisor, this.root, this.clusterDomain, this.stateDir);
    this.nodes = Array.from({ length: opts.nodes ?? 3 }, (_, i) => new BedNode(i + 1, this.addresses, this.pki, this.supervisor, this.clusterDomain, this.stateDir, this.runDir));
  }

  get api(): KubeClient {
    if (!this.client) throw new Error('the cluster is not up');
    return this.client;
  }

  /** the admin kubeconfig (`kubectl --kubeconfig <this> get pods -A`) */
  get kubeconfig(): string {
    return this.pki.file('admin.kubeconfig');
  }

  async up(): Promise<void> {
    const t0 = Date.now();
    checkComponents();
    this.root.check();
    this.root.ensureSamePaths();
    KubernetesCluster.cleanUpAbandoned(this.opts.block);
    fs.mkdirSync(this.runDir, { recursive: true });
    fs.writeFileSync(path.join(this.runDir, 'owner'), String(process.pid));
    this.forgetExitCleanup = onExitAfterKill(() => KubernetesCluster.removeState(this.opts.block, this.nodes.length));
    this.createPki();
    networkUp(this.addresses, this.nodes.length);
    this.controlPlane.startEtcd();
    await sleep(300);
    this.controlPlane.startApiServer();
    const admin = this.pki.cert('admin');
    this.client = new KubeClient(this.controlPlane.server, this.kubeconfig, { ca: this.pki.caCert, ...admin });
    await waitFor('the API server', async () => (await this.client!.request('GET', '/readyz').catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 60000, intervalMs: 250 });
    this.controlPlane.startControllers();
    for (const n of this.nodes) {
      n.prepare();
      n.startContainerd();
    }
    await Promise.all(this.nodes.map(async (n) => {
      await waitFor(`containerd of ${n.name}`, async () => fs.existsSync(n.containerdSocket), { timeoutMs: 30000 });
      await importImages(n.containerdSocket);
      n.startKubelet();
      n.startKubeProxy();
    }));
    await this.waitNodesReady(120000);
    await this.api.run(['apply', '-f', '-'], storageClassManifest());
    await this.api.run(['apply', '-f', '-'], clusterDnsManifest(this.clusterDomain, this.addresses.dnsServiceIp));
    this.provisioner = new LocalVolumeProvisioner(this.api, path.join(this.stateDir, 'volumes'));
    this.provisioner.start();
    await waitFor('the cluster DNS', async () => {
      const d = await this.api.get<KubeObject>('/apis/apps/v1/namespaces/kube-system/deployments/coredns');
      return (d?.status?.readyReplicas ?? 0) >= 1;
    }, { timeoutMs: 120000, intervalMs: 500 });
    log(`Kubernetes ${KUBERNETES_VERSION} up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${this.nodes.length} nodes, kubeconfig ${this.kubeconfig}`);
  }

  private createPki(): void {
    const a = this.addresses;
    const d = this.clusterDomain;
    this.pki.create({
      apiAddresses: [a.host, a.apiServiceIp],
      apiNames: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${d}`],
      identities: [
        { name: 'admin', cn: 'pg-ha-e2e-admin', org: 'system:masters' },
        { name: 'kube-apiserver-kubelet-client', cn: 'kube-apiserver-kubelet-client', org: 'system:masters' },
        { name: 'kube-controller-manager', cn: 'system:kube-controller-manager' },
        { name: 'kube-scheduler', cn: 'system:kube-scheduler' },
        { name: 'kube-proxy', cn: 'system:kube-proxy' },
        ...this.nodes.map((n) => ({ name: `kubelet-${n.name}`, cn: `system:node:${n.name}`, org: 'system:nodes', san: [`DNS:${n.name}`, `IP:${n.address}`] })),
      ],
    });
    for (const id of ['admin', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', ...this.nodes.map((n) => `kubelet-${n.name}`)]) this.pki.kubeconfig(id, this.controlPlane.server);
  }

  async waitNodesReady(timeoutMs: number, nodes = this.nodes): Promise<void> {
    await waitFor(`nodes ${nodes.map((n) => n.name).join(', ')} Ready`, async () => {
      const list = await this.api.list('/api/v1/nodes');
      return nodes.every((n) => list.find((o) => o.metadata.name === n.name)?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'));
    }, { timeoutMs, intervalMs: 500 });
  }

  /** Start a node again after `kill()`: containerd, kubelet, kube-proxy (its state, containers' data and volumes are kept). */
  async restartNode(node: BedNode): Promise<void> {
    node.startContainerd();
    await waitFor(`containerd of ${node.name}`, async () => fs.existsSync(node.containerdSocket), { timeoutMs: 30000 });
    node.startKubelet();
    node.startKubeProxy();
  }

  async down(): Promise<void> {
    const t0 = Date.now();
    this.provisioner?.stop();
    this.client?.close();
    const killed = await this.supervisor.killAll();
    this.supervisor.close();
    this.forgetExitCleanup?.();
    KubernetesCluster.removeState(this.opts.block, this.nodes.length);
    log(`Kubernetes bed ${this.opts.block} down in ${Date.now() - t0} ms (${killed} processes)`);
  }

  /** A bed of this block whose owner process died: kill what is left of it and remove its state (idempotent). */
  static cleanUpAbandoned(block: number): void {
    const owner = path.join(RUN_ROOT, String(block), 'owner');
    const pid = Number(fs.existsSync(owner) ? fs.readFileSync(owner, 'utf8') : 0);
    if (pid && pid !== process.pid && fs.existsSync(`/proc/${pid}`)) throw new Error(`bed block ${block} is in use by process ${pid}: choose another E2E_KUBERNETES_BLOCK`);
    Supervisor.reapOrphans();
    const left = fs.existsSync(path.join(STATE_ROOT, String(block))) || fs.existsSync(`/run/netns/${new BedAddresses(block).lanNetns}`) || bedCgroups(block).length > 0;
    if (!left) return;
    log(`removing what an earlier bed of block ${block} left`);
    KubernetesCluster.removeState(block, 7);
  }

  /**
   * What a bed of this block still holds on the machine: its directories, mounts under them, network
   * namespaces, cgroups (a container left would be in one) and the processes its owner `ownerPid`
   * started. Empty once the bed is down.
   */
  static leftovers(block: number, ownerPid: number): string[] {
    const dirs = [path.join(RUN_ROOT, String(block)), path.join(STATE_ROOT, String(block))];
    const a = new BedAddresses(block);
    const netns = fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns').filter((n) => n === a.lanNetns || new RegExp(`^${a.nodeNetns(0).replace(/0$/, '')}\\d+$`).test(n)) : [];
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && dirs.some((d) => m === d || m.startsWith(d + '/')));
    const mark = Supervisor.runMarkOf(ownerPid, `bed${block}`);
    const procs = listProcs().filter((p) => p.mark?.startsWith(mark) && p.state !== 'Z');
    return [
      ...dirs.filter((d) => fs.existsSync(d)).map((d) => `directory ${d}`),
      ...mounts.map((m) => `mount ${m}`),
      ...netns.map((n) => `network namespace ${n}`),
      ...bedCgroups(block).map((c) => `cgroup ${c}`),
      ...procs.map((p) => `process ${p.pid} (${p.mark})`),
    ];
  }

  private static removeState(block: number, nodes: number): void {
    const dirs = [path.join(RUN_ROOT, String(block)), path.join(STATE_ROOT, String(block))];
    for (const d of bedCgroups(block, nodes).filter((c) => c.includes('/pids/'))) killCgroupProcesses(d);
    unmountUnder(dirs);
    for (const dir of bedCgroups(block, nodes)) removeCgroupTree(dir);
    networkDown(new BedAddresses(block));
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    fs.rmSync(path.join(new DebianRoot().path, 'tmp', `pgha-bed-${block}-etcd`), { recursive: true, force: true });
  }
}

/** the cgroup roots of a bed's nodes, in every hierarchy (the kubelet also makes them in the unified one) */
function bedCgroups(block: number, nodes = 7): string[] {
  const dirs: string[] = [];
  for (let i = 1; i <= nodes; i++) for (const h of [...cgroupHierarchies(), 'unified']) dirs.push(path.join('/sys/fs/cgroup', h, `pgha-bed-${block}-node-${i}`));
  return dirs.filter((d) => fs.existsSync(d));
}

/** Unmount (lazily, deepest first) every mount under these directories: pod volumes, rootfs overlays, netns files. */
export function unmountUnder(dirs: string[]): void {
  for (let pass = 0; pass < 3; pass++) {
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && dirs.some((d) => m === d || m.startsWith(d + '/')));
    if (!mounts.length) return;
    for (const m of mounts.sort((x, y) => y.length - x.length)) spawnSync('umount', ['-l', m]);
  }
}

