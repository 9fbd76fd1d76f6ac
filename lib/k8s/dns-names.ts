/** Where the cluster lives and the DNS names of its Services and pods. */

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
