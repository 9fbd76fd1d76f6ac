/**
 * Where the cluster lives and the names the chart gives its objects: a function of the settings
 * alone (scope, namespace, cluster domain, member counts). Kept in the settings layer so that the
 * settings can explain the compose variables Kubernetes derives (compose-variables.ts) without
 * depending on the components that create the objects; the components take their names from here.
 */

/** Where the cluster lives; shared by every component. */
export interface ClusterContext {
  /** Instance name (the Patroni scope); prefixes every object name. */
  readonly name: string;
  /** Namespace of every object. */
  readonly namespace: string;
  /** The Kubernetes cluster's DNS domain. */
  readonly clusterDomain: string;
}

/** The fully qualified DNS name of a Service (`<svc>.<ns>.svc.<domain>`). */
export function serviceFqdn(cluster: ClusterContext, service: string): string {
  return `${service}.${cluster.namespace}.svc.${cluster.clusterDomain}`;
}

/** The fully qualified DNS names of a StatefulSet's pods behind its headless Service. */
export function statefulPodFqdns(cluster: ClusterContext, statefulSet: string, headlessService: string, replicas: number): string[] {
  return Array.from({ length: replicas }, (_, i) => `${statefulSet}-${i}.${serviceFqdn(cluster, headlessService)}`);
}

/** The etcd StatefulSet's and headless Service's names. */
export function etcdNames(cluster: ClusterContext): { statefulSet: string; headless: string } {
  return { statefulSet: `${cluster.name}-etcd`, headless: `${cluster.name}-etcd-headless` };
}

/** `host:port` of every member's client URL: what Patroni gets as ETCD3_HOSTS. */
export function etcdClientEndpoints(cluster: ClusterContext, replicas: number, clientPort: number): string[] {
  const { statefulSet, headless } = etcdNames(cluster);
  return statefulPodFqdns(cluster, statefulSet, headless, replicas).map((fqdn) => `${fqdn}:${clientPort}`);
}

/** The members' pod names, which are also their Patroni member names (`<scope>-N`). */
export function postgresPodNames(cluster: ClusterContext, replicas: number): string[] {
  return Array.from({ length: replicas }, (_, i) => `${cluster.name}-${i}`);
}
