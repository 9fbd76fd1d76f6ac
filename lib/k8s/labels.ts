/** Standard `app.kubernetes.io/*` labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/). */

/** The part of the topology an object belongs to. */
export interface ComponentIdentity {
  /** The cluster's instance name (the Patroni scope), e.g. `pg-ha`. */
  readonly instance: string;
  /** The application, e.g. `etcd`, `postgresql`, `haproxy`. */
  readonly name: string;
  /** Its role in the topology, e.g. `dcs`, `database`, `router`. */
  readonly component: string;
  /** The image version it runs (never in selectors: selectors are immutable). */
  readonly version?: string;
}

/** The labels that select a component's pods: stable across upgrades. */
export function selectorLabels(id: ComponentIdentity): Record<string, string> {
  return {
    'app.kubernetes.io/name': id.name,
    'app.kubernetes.io/instance': id.instance,
    'app.kubernetes.io/component': id.component,
  };
}

/** Every standard label: selector labels plus version, part-of and managed-by. */
export function standardLabels(id: ComponentIdentity): Record<string, string> {
  return {
    ...selectorLabels(id),
    ...(id.version ? { 'app.kubernetes.io/version': id.version } : {}),
    'app.kubernetes.io/part-of': 'pg-ha',
    'app.kubernetes.io/managed-by': 'cdk8s',
  };
}

/** The labels every object of one cluster carries, whatever its component. */
export function instanceLabels(instance: string): Record<string, string> {
  return { 'app.kubernetes.io/instance': instance, 'app.kubernetes.io/part-of': 'pg-ha' };
}

/** The tag of an image reference (`haproxy:3.3.1` gives `3.3.1`), for the version label. */
export function imageVersion(image: string): string | undefined {
  const noDigest = image.split('@')[0];
  const lastSegment = noDigest.slice(noDigest.lastIndexOf('/') + 1);
  const colon = lastSegment.indexOf(':');
  return colon >= 0 ? lastSegment.slice(colon + 1) : undefined;
}
