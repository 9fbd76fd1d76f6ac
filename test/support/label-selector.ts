/**
 * The one label-selector matcher of the tests, with the API server's semantics
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors):
 * a LabelSelector (PodDisruptionBudget, NetworkPolicy, anti-affinity terms, PodMonitor) ANDs its
 * matchLabels and matchExpressions; an empty selector `{}` selects everything; an absent one selects
 * nothing. A Service's selector is a plain map with the same meaning as matchLabels.
 */

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Record<string, string>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

export type Labels = Record<string, string>;

/** Does `selector` select an object carrying `labels`? */
export function selects(selector: LabelSelector | null | undefined, labels: Labels): boolean {
  if (selector === undefined || selector === null) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const requirement of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, requirement.key);
    const listed = has && (requirement.values ?? []).includes(labels[requirement.key]);
    switch (requirement.operator) {
      case 'In': if (!listed) return false; break;
      case 'NotIn': if (listed) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: throw new Error(`unknown label selector operator ${String((requirement as LabelSelectorRequirement).operator)}`);
    }
  }
  return true;
}

/** Does a Service's selector (a plain map; absent: selects no pod) select these labels? */
export function serviceSelects(selector: Labels | null | undefined, labels: Labels): boolean {
  return selector !== undefined && selector !== null && selects({ matchLabels: selector }, labels);
}
