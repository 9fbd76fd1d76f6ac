/**
 * Volume sizes on a running cluster. A StatefulSet's volumeClaimTemplates are immutable: a new size
 * there makes `kubectl apply` and an Argo CD sync fail. So the template keeps the size the cluster
 * was created with (it only sizes claims the StatefulSet creates later), the declared size goes into
 * an annotation and the rollout Job, and the Job grows each existing claim (postgres-rollout.ts).
 *
 * The running StatefulSets are known from the previous synth output (the committed dist/, which
 * is what the cluster was applied from): the command line reads it (lib/cli.ts) before writing the new one.
 */
import { parseAllDocuments } from 'yaml';
import { ConfigError } from '../validation';
import { quantityValue } from './resources';

/** Annotation of a StatefulSet: the size its volumes are declared to have (the claims may be larger only until the rollout Job ran). */
export const STORAGE_SIZE_ANNOTATION = 'pg-ha.cdk8s.io/storage-size';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Manifest = Record<string, any>;

/** The objects of an earlier synth output (empty when there is none). */
export class DeployedManifests {
  /** Every object of the YAML `files` (name -> text), in file name order; none for no file. */
  public static parse(files: Record<string, string>): DeployedManifests {
    const objects = Object.keys(files).sort()
      .flatMap((f) => parseAllDocuments(files[f]).map((d) => d.toJSON()))
      .filter((o): o is Manifest => Boolean(o?.kind));
    return new DeployedManifests(objects);
  }

  constructor(public readonly objects: Manifest[]) {}

  /** The StatefulSet `name` in `namespace`, as it was last synthesized. */
  public statefulSet(namespace: string, name: string): Manifest | undefined {
    return this.objects.find((o) => o.kind === 'StatefulSet' && o.metadata?.name === name && (o.metadata?.namespace ?? namespace) === namespace);
  }
}

export interface VolumeDeclaration {
  /** The setting of the size (`postgres.storageSize`), named by errors. */
  readonly sizeSetting: string;
  /** The setting of the StorageClass (`postgres.storageClass`). */
  readonly classSetting: string;
  readonly size: string;
  readonly storageClass?: string;
}

/**
 * The volumeClaimTemplates of the running StatefulSet to write out unchanged, or undefined for a new
 * one. Refuses a declared size below the one declared before (volumes cannot shrink) and a new
 * StorageClass (a claim's class cannot change).
 */
export function deployedClaimTemplates(deployed: Manifest | undefined, volume: VolumeDeclaration): unknown[] | undefined {
  const templates: Manifest[] | undefined = deployed?.spec?.volumeClaimTemplates;
  if (!templates?.length) return undefined;
  const template = templates[0];
  const before: string = deployed!.metadata?.annotations?.[STORAGE_SIZE_ANNOTATION] ?? template.spec?.resources?.requests?.storage;
  const name = deployed!.metadata.name;
  if (quantityValue(volume.size) < quantityValue(before)) {
    throw new ConfigError(volume.sizeSetting, volume.size,
      `at least ${before}, the size the volumes of the running StatefulSet ${name} have (dist/): volumes cannot shrink`);
  }
  const classBefore: string | undefined = template.spec?.storageClassName;
  if ((volume.storageClass ?? undefined) !== classBefore) {
    throw new ConfigError(volume.classSetting, volume.storageClass ?? '(cluster default)',
      `${classBefore ?? 'unset (the cluster default)'}, the StorageClass of the running StatefulSet ${name} (dist/): a volume's class cannot change`);
  }
  return templates;
}
