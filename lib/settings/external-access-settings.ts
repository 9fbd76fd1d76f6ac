/**
 * What a user can set for access to the router from outside the cluster (`PgHaSettings.router.external`).
 * Every `@default` names its value in DEFAULTS (lib/settings/defaults.ts).
 */

/** Kubernetes Service types the router's write and read Services can have. */
export const ROUTER_SERVICE_TYPES = ['ClusterIP', 'LoadBalancer', 'NodePort'] as const;
export type RouterServiceType = (typeof ROUTER_SERVICE_TYPES)[number];

/** Kubernetes' default node-port range (kube-apiserver --service-node-port-range). */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

/**
 * What to write instead of a compose host port (POSTGRES_WRITE_HOST_PORT, POSTGRES_READ_HOST_PORT)
 * while the router is reachable inside the cluster only: the Service type that reaches it from
 * outside, the addresses allowed in, and whether `port` can be a node port at all.
 */
export function hostPortAdvice(port: unknown): string {
  const inRange = typeof port === 'number' && port >= NODE_PORT_RANGE.min && port <= NODE_PORT_RANGE.max;
  const nodePort = inRange
    ? 'ROUTER_SERVICE_TYPE=NodePort: every node listens on this port'
    : `ROUTER_SERVICE_TYPE=NodePort with a port from ${NODE_PORT_RANGE.min} to ${NODE_PORT_RANGE.max} (Kubernetes' node-port range; ${JSON.stringify(port)} is outside it)`;
  return 'unset while ROUTER_SERVICE_TYPE is ClusterIP (the router is reachable inside the cluster only). '
    + 'It is the compose deployment\'s host port; to reach the database from outside the cluster, add either '
    + 'ROUTER_SERVICE_TYPE=LoadBalancer, which listens on POSTGRES_WRITE_PORT and POSTGRES_READ_PORT (then delete the host port lines), '
    + `or ${nodePort}; and ROUTER_SOURCE_RANGES=<your clients' address blocks, CIDR> or ROUTER_ALLOW_ANY_SOURCE=true (docs/external-access.md)`;
}

/** Where a Service's external traffic may go: any node (`Cluster`) or only a node with a router pod (`Local`). */
export const EXTERNAL_TRAFFIC_POLICIES = ['Cluster', 'Local'] as const;
export type ExternalTrafficPolicy = (typeof EXTERNAL_TRAFFIC_POLICIES)[number];

/**
 * Access to the router's write and read Services from outside the cluster (the compose deployment
 * published the router's ports on the host). Everything but `serviceType` applies only when it is
 * `LoadBalancer` or `NodePort`.
 */
export interface ExternalAccessSettings {
  /**
   * Type of the write (`<scope>-rw`) and read (`<scope>-ro`) Services (ROUTER_SERVICE_TYPE).
   * `ClusterIP`: reachable inside the cluster only. `LoadBalancer`: the cloud's load balancer
   * listens on the router's ports. `NodePort`: every node listens on `writeNodePort`/`readNodePort`.
   * @default DEFAULTS.router.external.serviceType
   */
  readonly serviceType?: RouterServiceType;
  /**
   * Client address blocks (CIDR) allowed to connect from outside (ROUTER_SOURCE_RANGES): the load
   * balancer's `loadBalancerSourceRanges`, and the NetworkPolicy's allowed `ipBlock`s.
   * @default - none: required unless `allowAnySource` is true
   */
  readonly sourceRanges?: string[];
  /**
   * States that any address may connect (ROUTER_ALLOW_ANY_SOURCE); without it an external Service
   * with no `sourceRanges` is refused. PostgreSQL's own authentication is then the only gate.
   * @default DEFAULTS.router.external.allowAnySource
   */
  readonly allowAnySource?: boolean;
  /**
   * Annotations of the write and read Services: the cloud load balancer's options, e.g.
   * `service.beta.kubernetes.io/aws-load-balancer-type=nlb` (ROUTER_SERVICE_ANNOTATIONS).
   * @default - none
   */
  readonly annotations?: Record<string, string>;
  /**
   * `Local` keeps the client's address (the NetworkPolicy checks it against `sourceRanges`) and
   * sends traffic only to nodes running a router pod; `Cluster` spreads it over every node but
   * replaces the client's address by a node's (ROUTER_EXTERNAL_TRAFFIC_POLICY).
   * @default DEFAULTS.router.external.trafficPolicy
   */
  readonly trafficPolicy?: ExternalTrafficPolicy;
  /**
   * Node port of the write Service, with `serviceType` NodePort: the compose deployment's host
   * port (POSTGRES_WRITE_HOST_PORT). 30000-32767, Kubernetes' node-port range.
   * @default - a free node port Kubernetes picks
   */
  readonly writeNodePort?: number;
  /**
   * Node port of the read Service, with `serviceType` NodePort (POSTGRES_READ_HOST_PORT).
   * @default - a free node port Kubernetes picks
   */
  readonly readNodePort?: number;
}
