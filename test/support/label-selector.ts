/*
 * The project's one label-selector matcher, with the API server's semantics
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors).
 * The unit tests' manifest checks use it to decide which pods a selector covers.
 * - A LabelSelector (workload, PodDisruptionBudget, NetworkPolicy, anti-affinity term, PodMonitor)
 *   ANDs its matchLabels and matchExpressions; `{}` selects everything, an absent one nothing.
 * - A Service's selector is a plain map with the meaning of matchLabels (absent: no pod).
 */

export type Labels = Record<string, string>;

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Record<string, string>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

function meets(r: LabelSelectorRequirement, labels: Labels): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const listed = has && (r.values ?? []).includes(labels[r.key]);
  switch (r.operator) {
    case 'In': return listed;
    case 'NotIn': return !listed;
    case 'Exists': return has;
    case 'DoesNotExist': return !has;
    default: throw new Error(`label selector: operator ${String((r as LabelSelectorRequirement).operator)} is not one of In, NotIn, Exists, DoesNotExist`);
  }
}

/** Does `selector` select an object carrying `labels`? */
export function selects(selector: LabelSelector | null | undefined, labels: Labels): boolean {
  if (selector === undefined || selector === null) return false;
  return Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value)
    && (selector.matchExpressions ?? []).every((r) => meets(r, labels));
}

/** Does a Service's selector (a plain map; absent: selects no pod) select these labels? */
export function serviceSelects(selector: Labels | null | undefined, labels: Labels): boolean {
  return selector !== undefined && selector !== null && selects({ matchLabels: selector }, labels);
}
