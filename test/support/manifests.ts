/**
 * The one manifest-query module of the tests: find objects by kind and name, the workloads and
 * their pod templates, containers, env, ports and probes, in synthesized output or YAML files.
 */
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';
import { serviceSelects, selects, LabelSelector } from './label-selector';

/** A Kubernetes object as `kubectl apply` reads it. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  /** name, namespace, labels, annotations... (loosely typed: tests read what they expect and fail otherwise). */
  metadata: any;
  spec?: any;
  [field: string]: any;
};

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'] as const;
/** Workloads whose pods run until stopped (Jobs run to completion and are neither probed nor disrupted). */
export const LONG_RUNNING_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'];
export const COMPONENT_LABEL = 'app.kubernetes.io/component';

/** A workload (StatefulSet, Deployment, Job...) and the pods it runs. */
export interface Workload {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  /** The pod template's `app.kubernetes.io/component` label: dcs, database, router, init, secrets. */
  readonly component: string;
  /** Pods it runs at full strength (1 for Jobs). */
  readonly replicas: number;
  readonly object: Manifest;
  readonly template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: any };
  readonly podLabels: Record<string, string>;
  readonly podSpec: any;
  /** Init containers, then containers. */
  readonly containers: any[];
}

export const describeObject = (o: Manifest) => `${o.kind}/${o.metadata?.name}`;

/** Objects and the questions tests ask about them. */
export class Manifests {
  constructor(public readonly objects: Manifest[]) {}

  /** Every object of `kind`. */
  all(kind: string): Manifest[] {
    return this.objects.filter((o) => o.kind === kind);
  }

  /** The object of `kind` named `name`; throws (listing what exists) so a test fails loudly. */
  get(kind: string, name: string): Manifest {
    const found = this.objects.find((o) => o.kind === kind && o.metadata?.name === name);
    if (!found) throw new Error(`no ${kind} named ${name} in [${this.objects.map(describeObject).join(', ')}]`);
    return found;
  }

  /** Every workload with its pod template. */
  workloads(): Workload[] {
    return this.objects.filter((o) => (WORKLOAD_KINDS as readonly string[]).includes(o.kind)).map(toWorkload);
  }

  /** The workload whose pods carry `app.kubernetes.io/component: component`. */
  workload(component: string): Workload {
    const found = this.workloads().find((w) => w.component === component);
    if (!found) throw new Error(`no workload of component ${component} in [${this.workloads().map((w) => w.component).join(', ')}]`);
    return found;
  }

  /** The Job whose name starts with `prefix` (Job names end with a content hash). */
  job(prefix: string): Manifest {
    const found = this.all('Job').find((j) => j.metadata.name.startsWith(prefix));
    if (!found) throw new Error(`no Job named ${prefix}* in [${this.all('Job').map(describeObject).join(', ')}]`);
    return found;
  }

  /** The workloads whose pods a LabelSelector selects, in `namespace` when given. */
  selectedBy(selector: LabelSelector | undefined, namespace?: string): Workload[] {
    return this.workloads().filter((w) => (namespace === undefined || w.namespace === namespace) && selects(selector, w.podLabels));
  }

  /** The workloads whose pods a Service selects (same namespace). */
  behind(service: Manifest): Workload[] {
    return this.workloads().filter((w) => w.namespace === (service.metadata.namespace ?? 'default') && serviceSelects(service.spec.selector, w.podLabels));
  }
}

function toWorkload(o: Manifest): Workload {
  const template = o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec.template;
  return {
    kind: o.kind,
    name: o.metadata.name,
    namespace: o.metadata.namespace ?? 'default',
    component: template.metadata?.labels?.[COMPONENT_LABEL],
    replicas: o.kind === 'Deployment' || o.kind === 'StatefulSet' ? (o.spec.replicas ?? 1) : 1,
    object: o,
    template,
    podLabels: template.metadata?.labels ?? {},
    podSpec: template.spec,
    containers: containersOf(template.spec),
  };
}

/** Every container of a pod spec, init containers first. */
export function containersOf(podSpec: any): any[] {
  return [...(podSpec.initContainers ?? []), ...(podSpec.containers ?? [])];
}

/** The container named `name` of a workload object or a Workload. */
export function container(workload: Manifest | Workload, name: string): any {
  const spec = 'podSpec' in workload ? workload.podSpec : workload.spec.template.spec;
  const found = containersOf(spec).find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name} in ${workload.kind}/${'podSpec' in workload ? workload.name : workload.metadata.name}`);
  return found;
}

/** A container's env as a name -> EnvVar map. */
export function envOf(c: any): Record<string, any> {
  return Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e]));
}

/** The probes a container has, by kind. */
export function probes(c: any): Array<[string, any]> {
  return (['startupProbe', 'readinessProbe', 'livenessProbe'] as const)
    .filter((kind) => c[kind] !== undefined)
    .map((kind) => [kind, c[kind]]);
}

/** The port a probe targets (httpGet, tcpSocket or grpc); undefined for exec probes. */
export function probePort(probe: any): string | number | undefined {
  return probe.httpGet?.port ?? probe.tcpSocket?.port ?? probe.grpc?.port;
}

/** Does the container declare `port` (a port name or number)? */
export function declaresPort(c: any, port: string | number): boolean {
  return (c.ports ?? []).some((p: any) => p.name === port || p.containerPort === port);
}

/** Every object of every YAML file in `dir`. */
export function loadManifests(dir: string): Manifests {
  return new Manifests(readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()))
    .filter((o) => o !== null && o !== undefined));
}
