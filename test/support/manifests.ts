/** Synthesizes the chart and finds objects and pod templates in the output. */
import { Testing } from 'cdk8s';
import { PgHaChart, PgHaSettings } from '../../lib';

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; [key: string]: any };

export function synth(settings: PgHaSettings = {}): Manifest[] {
  const app = Testing.app();
  return Testing.synth(new PgHaChart(app, 'pg-ha', settings)) as Manifest[];
}

export function ofKind(manifests: Manifest[], kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind);
}

export function named(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
  return found;
}

/** A pod the chart runs: the workload that owns it, its template and its replica count. */
export interface WorkloadPod {
  readonly workload: string;
  readonly kind: string;
  readonly namespace: string;
  readonly replicas: number;
  readonly template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: any };
}

/** Every pod template of the output (StatefulSets, Deployments, Jobs), keyed by workload name. */
export function workloadPods(manifests: Manifest[]): WorkloadPod[] {
  return manifests
    .filter((m) => ['StatefulSet', 'Deployment', 'Job', 'DaemonSet'].includes(m.kind))
    .map((m) => ({
      workload: m.metadata.name,
      kind: m.kind,
      namespace: m.metadata.namespace ?? 'default',
      replicas: m.spec.replicas ?? 1,
      template: m.spec.template,
    }));
}

/** The workload pod whose component label is `component` (dcs, database, router, init, secrets). */
export function podOf(manifests: Manifest[], component: string): WorkloadPod {
  const pod = workloadPods(manifests).find((p) => p.template.metadata.labels['app.kubernetes.io/component'] === component);
  if (!pod) throw new Error(`no pod with component ${component}`);
  return pod;
}

/** Every container of a pod spec (init containers included). */
export function containersOf(spec: any): any[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}

/** Does a LabelSelector (matchLabels + matchExpressions) select these labels? */
export function selects(selector: any, labels: Record<string, string>): boolean {
  if (selector === undefined || selector === null) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case 'In': if (!has || !e.values.includes(labels[e.key])) return false; break;
      case 'NotIn': if (has && e.values.includes(labels[e.key])) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: throw new Error(`unknown operator ${e.operator}`);
    }
  }
  return true;
}
