/*
 * One node of the bed: its own network namespace, containerd (CRI, overlayfs, runc, the CNI bridge
 * plugin giving each pod its own namespace and address), kubelet and kube-proxy (iptables), each a
 * process of the node's Supervisor "pod" `node-<i>`, so a node is lost at once by killing that set:
 * kubelet, containerd, kube-proxy, the containerd shims and every container under them.
 *
 * The daemons enter the node's network namespace with `nsenter --net` only (`ip netns exec` would
 * also remount /sys and hide the cgroup hierarchies the kubelet needs). cgroups are v1 here: each
 * kubelet gets its own cgroup root `/pgha-bed-<b>-node-<i>` in every hierarchy.
 */
import * as fs from 'fs';
import * as path from 'path';
import { log } from '../log';
import { Started, Supervisor } from '../process-supervisor';
import type { BedAddresses } from './bed-network';
import { CNI_BIN_DIR, KUBERNETES_BINARY } from './components';
import type { BedPki } from './pki';

/** the pod sandbox image containerd runs for every pod (e2e/images builds it) */
export const SANDBOX_IMAGE = 'registry.k8s.io/pause:3.10';

const CGROUP_FS = '/sys/fs/cgroup';

export interface NodeDirs {
  /** persistent state: containerd's root, kubelet's root, CNI config, logs */
  state: string;
  /** sockets and runtime state */
  run: string;
}

export class BedNode {
  readonly name: string;
  readonly netns: string;
  readonly address: string;
  readonly cgroupRoot: string;
  readonly dirs: NodeDirs;
  private daemons: Started[] = [];

  constructor(
    readonly index: number,
    private readonly addresses: BedAddresses,
    private readonly pki: BedPki,
    private readonly supervisor: Supervisor,
    readonly clusterDomain: string,
    stateDir: string,
    runDir: string,
  ) {
    this.name = `node-${index}`;
    this.netns = addresses.nodeNetns(index);
    this.address = addresses.node(index);
    this.cgroupRoot = `pgha-bed-${addresses.block}-${this.name}`;
    this.dirs = { state: path.join(stateDir, this.name), run: path.join(runDir, this.name) };
  }

  get containerdSocket(): string {
    return path.join(this.dirs.run, 'containerd.sock');
  }

  get logDir(): string {
    return path.join(this.dirs.state, 'log');
  }

  /** its daemons were started and not killed since */
  get running(): boolean {
    return this.daemons.length > 0;
  }

  /** the Supervisor "pod" holding every process of this node */
  get processGroup(): string {
    return this.name;
  }

  /** Write the configuration files (once) and create the cgroup roots. */
  prepare(): void {
    for (const d of [this.dirs.state, this.dirs.run, this.logDir, path.join(this.dirs.state, 'cni', 'net.d'), path.join(this.dirs.state, 'pod-logs')]) fs.mkdirSync(d, { recursive: true });
    this.writeCniConfig();
    this.writeContainerdConfig();
    this.writeKubeletConfig();
    this.writeKubeProxyConfig();
    this.createCgroupRoots();
  }

  private writeCniConfig(): void {
    const conf = {
      cniVersion: '0.4.0',
      name: 'pgha-pods',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: this.addresses.podCidr(this.index) }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: path.join(this.dirs.state, 'cni', 'ipam') },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    };
    fs.writeFileSync(path.join(this.dirs.state, 'cni', 'net.d', '10-pods.conflist'), `${JSON.stringify(conf, null, 2)}\n`);
  }

  private writeContainerdConfig(): void {
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    const text = `version = 2
root = "${path.join(this.dirs.state, 'containerd')}"
state = "${path.join(this.dirs.run, 'containerd')}"
[grpc]
  address = "${this.containerdSocket}"
[${cri}]
  sandbox_image = "${SANDBOX_IMAGE}"
  # this machine's root lacks CAP_SYS_RESOURCE: a container's oom_score_adj may not go below containerd's
  restrict_oom_score_adj = true
  # pods' network namespaces under the node's state (removed with it), not the machine's /var/run/netns
  netns_mounts_under_state_dir = true
  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [${cri}.cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${path.join(this.dirs.state, 'cni', 'net.d')}"
[plugins."io.containerd.internal.v1.opt"]
  path = "${path.join(this.dirs.state, 'opt')}"
`;
    fs.writeFileSync(path.join(this.dirs.state, 'containerd.toml'), text);
  }

  private writeKubeletConfig(): void {
    const { cert, key } = this.pki.cert(`kubelet-${this.name}`);
    // no upstream resolver: the cluster DNS answers the cluster's names, nothing leaves the bed
    fs.writeFileSync(path.join(this.dirs.state, 'resolv.conf'), '');
    const config = {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: this.address,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: 10248,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: this.pki.caCert } },
      authorization: { mode: 'Webhook' },
      tlsCertFile: cert,
      tlsPrivateKeyFile: key,
      cgroupDriver: 'cgroupfs',
      cgroupRoot: `/${this.cgroupRoot}`,
      cgroupsPerQOS: true,
      containerRuntimeEndpoint: `unix://${this.containerdSocket}`,
      clusterDNS: [this.addresses.dnsServiceIp],
      clusterDomain: this.clusterDomain,
      resolvConf: path.join(this.dirs.state, 'resolv.conf'),
      failSwapOn: false,
      podLogsDir: path.join(this.dirs.state, 'pod-logs'),
      maxPods: 60,
      serializeImagePulls: false,
      // the images are imported, never pulled: never collect them
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
      nodeStatusUpdateFrequency: '4s',
      syncFrequency: '10s',
      fileCheckFrequency: '10s',
      makeIPTablesUtilChains: true,
      localStorageCapacityIsolation: false,
    };
    fs.writeFileSync(path.join(this.dirs.state, 'kubelet.json'), `${JSON.stringify(config, null, 2)}\n`);
  }

  private writeKubeProxyConfig(): void {
    const config = {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig: this.pki.file('kube-proxy.kubeconfig') },
      mode: 'iptables',
      clusterCIDR: this.addresses.clusterCidr,
      hostnameOverride: this.name,
      bindAddress: this.address,
      healthzBindAddress: '127.0.0.1:10256',
      metricsBindAddress: '127.0.0.1:10249',
      // conntrack's table sizes are the machine's, not a namespace's: leave them
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      iptables: { syncPeriod: '10s', minSyncPeriod: '0s' },
    };
    fs.writeFileSync(path.join(this.dirs.state, 'kube-proxy.json'), `${JSON.stringify(config, null, 2)}\n`);
  }

  private createCgroupRoots(): void {
    for (const h of cgroupHierarchies()) {
      const dir = path.join(CGROUP_FS, h, this.cgroupRoot);
      fs.mkdirSync(dir, { recursive: true });
      if (h === 'cpuset') {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(CGROUP_FS, h, f)));
      }
    }
  }

  private startDaemon(name: string, cmd: string, args: string[]): Started {
    const s = this.supervisor.start(name, this.processGroup, 'nsenter', [`--net=/run/netns/${this.netns}`, cmd, ...args], {
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' },
      logFile: path.join(this.logDir, `${name}.log`),
    });
    this.daemons.push(s);
    return s;
  }

  startContainerd(): void {
    // a killed containerd leaves its socket: only a new one says it is serving
    fs.rmSync(this.containerdSocket, { force: true });
    this.startDaemon('containerd', '/usr/bin/containerd', ['--config', path.join(this.dirs.state, 'containerd.toml')]);
  }

  startKubelet(): void {
    this.startDaemon('kubelet', KUBERNETES_BINARY, [
      'kubelet',
      `--config=${path.join(this.dirs.state, 'kubelet.json')}`,
      `--kubeconfig=${this.pki.file(`kubelet-${this.name}.kubeconfig`)}`,
      `--root-dir=${path.join(this.dirs.state, 'kubelet')}`,
      `--hostname-override=${this.name}`,
      `--node-ip=${this.address}`,
      '--v=1',
    ]);
  }

  startKubeProxy(): void {
    this.startDaemon('kube-proxy', KUBERNETES_BINARY, ['kube-proxy', `--config=${path.join(this.dirs.state, 'kube-proxy.json')}`]);
  }

  /** The whole node at once, as a machine that loses power: kubelet, containerd, kube-proxy, shims, containers. */
  async kill(): Promise<number> {
    const n = (await this.supervisor.killPod(this.processGroup)) + killCgroupProcesses(path.join(CGROUP_FS, 'pids', this.cgroupRoot));
    log(`node ${this.name}: killed ${n} processes (kubelet, containerd, kube-proxy, shims, containers)`);
    this.daemons = [];
    return n;
  }

  /** Remove the cgroup roots (after every process is gone): deepest first. */
  removeCgroups(): void {
    for (const h of cgroupHierarchies()) removeCgroupTree(path.join(CGROUP_FS, h, this.cgroupRoot));
  }
}

/** cgroup v1 hierarchies the kubelet uses (not the unified one, which holds only hugetlb here) */
export function cgroupHierarchies(): string[] {
  return fs.readdirSync(CGROUP_FS).filter((h) => h !== 'unified' && fs.existsSync(path.join(CGROUP_FS, h, 'cgroup.procs')));
}

/**
 * SIGKILL every process in a cgroup tree until it is empty (a container whose shim is gone is
 * reparented to init and found only here); synchronous, for exit paths. The number killed.
 */
export function killCgroupProcesses(dir: string, timeoutMs = 10000): number {
  const deadline = Date.now() + timeoutMs;
  let killed = 0;
  const procs = (d: string): number[] => {
    if (!fs.existsSync(d)) return [];
    const own = fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    return [...own, ...fs.readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) => procs(path.join(d, e.name)))];
  };
  for (;;) {
    const left = procs(dir);
    if (!left.length || Date.now() > deadline) return killed;
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        /* gone */
      }
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}

export function removeCgroupTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(path.join(dir, e.name));
  try {
    fs.rmdirSync(dir);
  } catch {
    /* a process is still in it; the next start's reaping retries */
  }
}
