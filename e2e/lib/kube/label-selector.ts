/*
 * The project's one label-selector matcher, with the API server's semantics
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors).
 * It lives with the API stand-in, which serves it (list calls, PodDisruptionBudgets, workload
 * selectors); the unit tests import it from here for their manifest checks.
 * - A LabelSelector (workload, PodDisruptionBudget, NetworkPolicy, anti-affinity term, PodMonitor)
 *   ANDs its matchLabels and matchExpressions; `{}` selects everything, an absent one nothing.
 * - A Service's selector is a plain map with the meaning of matchLabels (absent: no pod).
 * - The `labelSelector` query string of a list call: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
 */
import { badRequest } from './api-status';

export type Labels = Record<string, string>;
export type LabelMatcher = (labels: Labels) => boolean;

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

/** `selects` as a function of the labels (the selector checked once, up front). */
export function selectorMatcher(selector: LabelSelector | null | undefined): LabelMatcher {
  for (const r of selector?.matchExpressions ?? []) meets(r, {});
  return (labels) => selects(selector, labels);
}

/** Splits on commas that are not inside a `( ... )` value set. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

/** The `labelSelector` query parameter of a list call; a malformed one is a 400, as the API server answers. */
export function parseLabelSelector(query: string | undefined): LabelMatcher {
  if (!query) return () => true;
  const matchExpressions: LabelSelectorRequirement[] = splitTerms(query).map((term) => {
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) return { key: m[1], operator: m[2] === 'in' ? 'In' : 'NotIn', values: m[3].split(',').map((v) => v.trim()).filter((v) => v) };
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    if (m) return { key: m[1], operator: m[2] === '!=' ? 'NotIn' : 'In', values: [m[3]] };
    m = /^(!?)([\w./-]+)$/.exec(term);
    if (m) return { key: m[2], operator: m[1] ? 'DoesNotExist' : 'Exists' };
    throw badRequest(`unable to parse requirement: found '${term}', expected: key, key=value, key!=value, key in (...), key notin (...), !key`);
  });
  return (labels) => selects({ matchExpressions }, labels);
}
