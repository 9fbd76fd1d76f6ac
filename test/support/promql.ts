/**
 * PromQL read with Prometheus' own grammar (@prometheus-io/lezer-promql, the parser of Prometheus'
 * web UI): syntax errors are reported, and metric names are taken from vector selectors only,
 * never from label names, grouping labels, functions or strings.
 */
import { parser } from '@prometheus-io/lezer-promql';

/** Grafana's interval variables, replaced by a duration before parsing (Grafana does the same at query time). */
const GRAFANA_DURATIONS: Record<string, string> = { $__rate_interval: '1m', $__interval: '30s', $__range: '6h' };

export interface ParsedPromql {
  /** Metric names of every vector selector, in order of appearance, without duplicates. */
  readonly metricNames: string[];
  /** Text around each syntax error; empty when the expression parses. */
  readonly errors: string[];
  /** Selectors naming their metric through a `__name__` matcher (not checkable by name). */
  readonly nameMatchers: string[];
}

export function parsePromql(expression: string): ParsedPromql {
  const expr = expression.replace(/\$__\w+/g, (variable) => {
    const duration = GRAFANA_DURATIONS[variable];
    if (!duration) throw new Error(`unknown Grafana variable ${variable} in ${expression}`);
    return duration;
  });
  const metricNames: string[] = [];
  const errors: string[] = [];
  const nameMatchers: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: "${expr.slice(Math.max(0, node.from - 10), node.to + 10)}"`);
      if (node.name === 'VectorSelector') {
        const identifier = node.node.getChild('Identifier');
        if (identifier) metricNames.push(expr.slice(identifier.from, identifier.to));
        else nameMatchers.push(expr.slice(node.from, node.to));
      }
      if (node.name === 'LabelName' && expr.slice(node.from, node.to) === '__name__') nameMatchers.push(expr.slice(node.from, node.to));
    },
  });
  return { metricNames: [...new Set(metricNames)], errors, nameMatchers };
}
