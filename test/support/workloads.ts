/** Helpers for policy checks: workloads, their pod templates and containers, in synthesized objects. */

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'] as const;
/** Workloads whose pods run until stopped (Jobs run to completion and are not probed or disrupted). */
export const LONG_RUNNING_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'];

export interface Workload {
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly replicas: number;
  readonly podLabels: Record<string, string>;
  readonly podSpec: any;
  readonly containers: any[];
  readonly object: any;
}

export function workloads(objects: any[]): Workload[] {
  return objects
    .filter((o) => (WORKLOAD_KINDS as readonly string[]).includes(o.kind))
    .map((o) => {
      const template = o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec.template;
      const podSpec = template.spec;
      return {
        kind: o.kind,
        name: o.metadata.name,
        namespace: o.metadata.namespace,
        replicas: o.kind === 'Deployment' || o.kind === 'StatefulSet' ? (o.spec.replicas ?? 1) : 1,
        podLabels: template.metadata?.labels ?? {},
        podSpec,
        containers: [...(podSpec.initContainers ?? []), ...podSpec.containers],
        object: o,
      };
    });
}

/** True when every label of `selector` is on `labels`. */
export function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The probes of a container, by kind. */
export function probes(container: any): Array<[string, any]> {
  return (['startupProbe', 'readinessProbe', 'livenessProbe'] as const)
    .filter((p) => container[p] !== undefined)
    .map((p) => [p, container[p]]);
}

/** The port a probe targets (httpGet, tcpSocket or grpc), or undefined for exec probes. */
export function probePort(probe: any): string | number | undefined {
  return probe.httpGet?.port ?? probe.tcpSocket?.port ?? probe.grpc?.port;
}
