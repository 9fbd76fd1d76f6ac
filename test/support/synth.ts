/** Test helpers: synthesize a chart and look objects up by kind and name. */
import { Testing } from 'cdk8s';
import { PgHaChart, PgHaSettings } from '../../lib';

export type Manifest = Record<string, any>;

export interface Synthesized {
  readonly chart: PgHaChart;
  readonly manifests: Manifest[];
  /** The one object of `kind` named `name`; throws if absent so tests fail loudly. */
  get(kind: string, name: string): Manifest;
  /** Every object of `kind`. */
  all(kind: string): Manifest[];
}

export function synth(settings: PgHaSettings = {}): Synthesized {
  const app = Testing.app();
  const chart = new PgHaChart(app, settings.scope ?? 'pg-ha', settings);
  const manifests = Testing.synth(chart) as Manifest[];
  return {
    chart,
    manifests,
    get(kind, name) {
      const found = manifests.find((m) => m.kind === kind && m.metadata?.name === name);
      if (!found) throw new Error(`no ${kind} named ${name} in [${manifests.map((m) => `${m.kind}/${m.metadata?.name}`).join(', ')}]`);
      return found;
    },
    all(kind) {
      return manifests.filter((m) => m.kind === kind);
    },
  };
}

/** Pod templates of every workload (StatefulSet, Deployment, Job) with the workload they belong to. */
export function podTemplates(manifests: Manifest[]): Array<{ owner: Manifest; template: Manifest }> {
  return manifests
    .filter((m) => ['StatefulSet', 'Deployment', 'Job'].includes(m.kind))
    .map((owner) => ({ owner, template: owner.spec.template }));
}

/** A container's env as a name -> EnvVar map. */
export function envOf(container: Manifest): Record<string, Manifest> {
  return Object.fromEntries((container.env ?? []).map((e: Manifest) => [e.name, e]));
}

/** The container named `name` in a workload. */
export function container(workload: Manifest, name: string): Manifest {
  const found = workload.spec.template.spec.containers.find((c: Manifest) => c.name === name);
  if (!found) throw new Error(`no container ${name} in ${workload.kind}/${workload.metadata.name}`);
  return found;
}
