/**
 * A small evaluator of Kubernetes NetworkPolicy semantics (networking.k8s.io/v1), to compute which
 * connections the synthesized policies allow:
 * - a pod selected by no policy of a type (Ingress/Egress) is open in that direction;
 * - a pod selected by some policy of a type allows exactly the union of those policies' rules;
 * - a connection needs the source's egress AND the destination's ingress to allow it;
 * - peers: podSelector alone = pods of the policy's namespace; namespaceSelector (+ podSelector) =
 *   (matching pods of) matching namespaces; no `to`/`from` = everything; ports: protocol (default
 *   TCP) and numeric or named target port (+ endPort); no ports = every port.
 * Addresses that are not pods (the API server) match only rules without peers or with ipBlocks.
 */
import { selects } from './label-selector';
import { Manifest } from './manifests';

export interface Endpoint {
  /** Short name used in the matrix, e.g. `postgres`, `prometheus`. */
  readonly name: string;
  /** Namespace; undefined for addresses that are not pods (the API server). */
  readonly namespace?: string;
  readonly labels: Record<string, string>;
  /** Ports the endpoint serves (named ports resolve against `portNames`). */
  readonly ports: ReadonlyArray<{ readonly port: number; readonly protocol: 'TCP' | 'UDP'; readonly name?: string }>;
}

export interface Namespace {
  readonly name: string;
  readonly labels: Record<string, string>;
}

export interface Connection {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
}

export const connectionKey = (c: Connection) => `${c.from} -> ${c.to}:${c.port}/${c.protocol}`;

function peerMatches(peer: any, policyNamespace: string, target: Endpoint, namespaces: Namespace[]): boolean {
  if (peer.ipBlock) return true; // only 0.0.0.0/0-style blocks are used in these tests' models
  if (target.namespace === undefined) return false; // not a pod: no selector matches it
  const ns = namespaces.find((n) => n.name === target.namespace);
  if (!ns) throw new Error(`unknown namespace ${target.namespace}`);
  if (peer.namespaceSelector !== undefined) {
    if (!selects(peer.namespaceSelector, ns.labels)) return false;
  } else if (target.namespace !== policyNamespace) {
    return false;
  }
  return peer.podSelector === undefined || selects(peer.podSelector, target.labels);
}

function portMatches(rulePorts: any[] | undefined, target: Endpoint, port: number, protocol: string): boolean {
  if (!rulePorts || rulePorts.length === 0) return true;
  return rulePorts.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    if (p.port === undefined) return true;
    const number = typeof p.port === 'number' ? p.port : target.ports.find((tp) => tp.name === p.port && tp.protocol === protocol)?.port;
    if (number === undefined) return false;
    return p.endPort !== undefined ? port >= number && port <= p.endPort : port === number;
  });
}

function policyTypes(policy: Manifest): string[] {
  return policy.spec.policyTypes ?? ['Ingress', ...(policy.spec.egress ? ['Egress'] : [])];
}

function applying(policies: Manifest[], pod: Endpoint, type: 'Ingress' | 'Egress'): Manifest[] {
  if (pod.namespace === undefined) return [];
  return policies.filter((p) => (p.metadata.namespace ?? 'default') === pod.namespace
    && selects(p.spec.podSelector, pod.labels) && policyTypes(p).includes(type));
}

/** Is a connection from `src` to `dst` on `port/protocol` allowed by `policies`? */
export function allowed(policies: Manifest[], namespaces: Namespace[], src: Endpoint, dst: Endpoint, port: number, protocol: 'TCP' | 'UDP'): boolean {
  const egress = applying(policies, src, 'Egress');
  const egressOk = egress.length === 0 || egress.some((p) => (p.spec.egress ?? []).some((rule: any) =>
    (!rule.to || rule.to.length === 0 || rule.to.some((peer: any) => peerMatches(peer, p.metadata.namespace!, dst, namespaces)))
    && portMatches(rule.ports, dst, port, protocol)));
  if (!egressOk) return false;
  const ingress = applying(policies, dst, 'Ingress');
  return ingress.length === 0 || ingress.some((p) => (p.spec.ingress ?? []).some((rule: any) =>
    (!rule.from || rule.from.length === 0 || rule.from.some((peer: any) => peerMatches(peer, p.metadata.namespace!, src, namespaces)))
    && portMatches(rule.ports, dst, port, protocol)));
}

/**
 * Every open connection between `endpoints` whose source or destination is one of `clusterPods`
 * (the matrix the cluster's policies are responsible for), one entry per served port.
 */
export function reachability(policies: Manifest[], namespaces: Namespace[], endpoints: Endpoint[], clusterPods: string[]): Set<string> {
  const open = new Set<string>();
  for (const src of endpoints) {
    if (src.namespace === undefined) continue; // the API server starts no connections here
    for (const dst of endpoints) {
      if (!clusterPods.includes(src.name) && !clusterPods.includes(dst.name)) continue;
      for (const p of dst.ports) {
        if (allowed(policies, namespaces, src, dst, p.port, p.protocol)) {
          open.add(connectionKey({ from: src.name, to: dst.name, port: p.port, protocol: p.protocol }));
        }
      }
    }
  }
  return open;
}

/** Compares an open set with the expected one: what is missing, what is open but should not be. */
export function compareMatrix(open: Set<string>, expected: Set<string>): { missing: string[]; unexpected: string[] } {
  return {
    missing: [...expected].filter((k) => !open.has(k)).sort(),
    unexpected: [...open].filter((k) => !expected.has(k)).sort(),
  };
}
