/*
 * Label selectors in both of their Kubernetes forms: the `labelSelector` query string of a list
 * call (`a=b,c!=d,e in (x,y),!f,g`) and the `matchLabels`/`matchExpressions` object of a
 * workload, PodDisruptionBudget or NetworkPolicy.
 */
import { badRequest } from './api-status';

export type Labels = Record<string, string>;
export type LabelMatcher = (labels: Labels) => boolean;

interface Requirement {
  key: string;
  op: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

function matches(reqs: Requirement[], labels: Labels): boolean {
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case 'In': return has && r.values.includes(labels[r.key]);
      case 'NotIn': return !has || !r.values.includes(labels[r.key]);
      case 'Exists': return has;
      case 'DoesNotExist': return !has;
    }
    return false;
  });
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

/** The `labelSelector` query parameter; a malformed one is a 400, as the API server answers. */
export function parseLabelSelector(query: string | undefined): LabelMatcher {
  if (!query) return () => true;
  const reqs: Requirement[] = splitTerms(query).map((term) => {
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) return { key: m[1], op: m[2] === 'in' ? 'In' : 'NotIn', values: m[3].split(',').map((v) => v.trim()).filter((v) => v) };
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    if (m) return { key: m[1], op: m[2] === '!=' ? 'NotIn' : 'In', values: [m[3]] };
    m = /^(!?)([\w./-]+)$/.exec(term);
    if (m) return { key: m[2], op: m[1] ? 'DoesNotExist' : 'Exists', values: [] };
    throw badRequest(`unable to parse requirement: found '${term}', expected: key, key=value, key!=value, key in (...), key notin (...), !key`);
  });
  return (labels) => matches(reqs, labels);
}

/** A `metav1.LabelSelector` object. An empty selector matches everything, a missing one nothing (PDB semantics). */
export function selectorMatcher(selector: { matchLabels?: Labels; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> } | undefined): LabelMatcher {
  if (!selector) return () => false;
  const reqs: Requirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, v]) => ({ key, op: 'In', values: [v] }));
  for (const e of selector.matchExpressions ?? []) {
    if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator)) throw new Error(`label selector: operator ${e.operator} is not one of In, NotIn, Exists, DoesNotExist`);
    reqs.push({ key: e.key, op: e.operator as Requirement['op'], values: e.values ?? [] });
  }
  return (labels) => matches(reqs, labels);
}
