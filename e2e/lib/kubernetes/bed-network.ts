/*
 * The bed's network: addresses that exist only inside network namespaces this bed creates.
 *
 * Block b (0..31) of 198.18.0.0/15 (RFC 2544, reserved for benchmarking, never routed off the machine):
 *   198.18.16b.0/24        the bed's LAN: a bridge in the netns `pgha<b>-lan` (which routes between nodes,
 *                          .254), the host's end of a veth (.1: the control plane listens here), node i (.10+i)
 *   198.18.(16b+8+i).0/24  node i's pods, on the CNI bridge `cni0` inside the node's netns `pgha<b>-node-<i>`
 *   198.19.(16b).0/24      Service cluster IPs (kube-proxy in every node; the host reaches them through node 1)
 * The host gets routes to the pod and Service blocks through the LAN, and an `unreachable` route for the
 * whole block, so no address of it can ever leave the machine by the default route.
 */
import { spawnSync } from 'child_process';
import { log } from '../log';

export const MAX_NODES = 7;

export class BedAddresses {
  constructor(readonly block: number) {
    if (!Number.isInteger(block) || block < 0 || block > 31) throw new Error(`bed block must be 0..31 (got ${block})`);
  }

  private get base(): number {
    return 16 * this.block;
  }

  /** the host's address on the LAN: the control plane's (API server, its etcd, the bed's tools) */
  get host(): string {
    return `198.18.${this.base}.1`;
  }

  get lanRouter(): string {
    return `198.18.${this.base}.254`;
  }

  /** the bed's whole block of 198.18.0.0/16 */
  get block20(): string {
    return `198.18.${this.base}.0/20`;
  }

  node(i: number): string {
    return `198.18.${this.base}.${10 + i}`;
  }

  podCidr(i: number): string {
    return `198.18.${this.base + 8 + i}.0/24`;
  }

  /** every node's pods: kube-proxy masquerades traffic from outside it (the host's) */
  get clusterCidr(): string {
    return `198.18.${this.base + 8}.0/21`;
  }

  get serviceCidr(): string {
    return `198.19.${this.base}.0/24`;
  }

  /** the `kubernetes` Service: the first address of the Service block */
  get apiServiceIp(): string {
    return `198.19.${this.base}.1`;
  }

  get dnsServiceIp(): string {
    return `198.19.${this.base}.10`;
  }

  get lanNetns(): string {
    return `pgha${this.block}-lan`;
  }

  nodeNetns(i: number): string {
    return `pgha${this.block}-node-${i}`;
  }

  get hostLink(): string {
    return `pgha${this.block}`;
  }
}

function ip(args: string[], { netns, ignoreFailure = false }: { netns?: string; ignoreFailure?: boolean } = {}): string {
  const argv = netns ? ['netns', 'exec', netns, 'ip', ...args] : args;
  const r = spawnSync('ip', argv, { encoding: 'utf8' });
  if (r.status !== 0 && !ignoreFailure) throw new Error(`ip ${argv.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

function sysctl(netns: string, setting: string): void {
  const r = spawnSync('ip', ['netns', 'exec', netns, 'sysctl', '-qw', setting], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sysctl ${setting} in ${netns} failed: ${r.stderr.trim()}`);
}

/** Create the LAN, the nodes' namespaces, their links and routes. */
export function networkUp(a: BedAddresses, nodes: number): void {
  if (nodes < 1 || nodes > MAX_NODES) throw new Error(`nodes must be 1..${MAX_NODES} (got ${nodes})`);
  const lan = a.lanNetns;
  ip(['netns', 'add', lan]);
  ip(['link', 'set', 'lo', 'up'], { netns: lan });
  ip(['link', 'add', 'br0', 'type', 'bridge'], { netns: lan });
  ip(['link', 'set', 'br0', 'up'], { netns: lan });
  ip(['addr', 'add', `${a.lanRouter}/24`, 'dev', 'br0'], { netns: lan });
  sysctl(lan, 'net.ipv4.ip_forward=1');
  ip(['link', 'add', a.hostLink, 'type', 'veth', 'peer', 'name', 'host', 'netns', lan]);
  ip(['addr', 'add', `${a.host}/24`, 'dev', a.hostLink]);
  ip(['link', 'set', a.hostLink, 'up']);
  ip(['link', 'set', 'host', 'master', 'br0', 'up'], { netns: lan });
  ip(['route', 'add', 'unreachable', a.block20]);
  ip(['route', 'add', 'unreachable', a.serviceCidr, 'metric', '1000']);
  for (let i = 1; i <= nodes; i++) {
    const ns = a.nodeNetns(i);
    ip(['netns', 'add', ns]);
    ip(['link', 'set', 'lo', 'up'], { netns: ns });
    ip(['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `node${i}`, 'netns', lan]);
    ip(['link', 'set', `node${i}`, 'master', 'br0', 'up'], { netns: lan });
    ip(['addr', 'add', `${a.node(i)}/24`, 'dev', 'eth0'], { netns: ns });
    ip(['link', 'set', 'eth0', 'up'], { netns: ns });
    ip(['route', 'add', 'default', 'via', a.lanRouter], { netns: ns });
    sysctl(ns, 'net.ipv4.ip_forward=1');
    // kube-proxy's DNAT must see bridged pod-to-pod traffic on the node (a Service answered by a pod on the same node)
    sysctl(ns, 'net.bridge.bridge-nf-call-iptables=1');
    ip(['route', 'add', a.podCidr(i), 'via', a.node(i)], { netns: lan });
    ip(['route', 'add', a.podCidr(i), 'via', a.node(i), 'dev', a.hostLink]);
  }
  // Service addresses from outside the nodes go through node 1's kube-proxy rules
  ip(['route', 'add', a.serviceCidr, 'via', a.node(1)], { netns: lan });
  ip(['route', 'add', a.serviceCidr, 'via', a.node(1), 'dev', a.hostLink]);
  log(`network: LAN ${a.host}/24 (netns ${lan}), ${nodes} node namespaces, pods ${a.clusterCidr}, Services ${a.serviceCidr}`);
}

/** Remove what networkUp made (idempotent: also for a bed whose owner died). */
export function networkDown(a: BedAddresses): void {
  for (let i = 1; i <= MAX_NODES; i++) ip(['netns', 'del', a.nodeNetns(i)], { ignoreFailure: true });
  ip(['netns', 'del', a.lanNetns], { ignoreFailure: true });
  ip(['link', 'del', a.hostLink], { ignoreFailure: true });
  ip(['route', 'del', 'unreachable', a.block20], { ignoreFailure: true });
  ip(['route', 'del', 'unreachable', a.serviceCidr], { ignoreFailure: true });
}
