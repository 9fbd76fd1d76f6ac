/**
 * Container resources: requests and limits merged over per-component defaults, and the arithmetic
 * of Kubernetes quantities needed to compare a request with its limit.
 */
import { k8s } from 'cdk8s-plus-28';
import { ResourceSettings } from '../settings/component-settings';
import { checkQuantity, ConfigError } from '../validation';

/**
 * `override` merged over `defaults` key by key (setting only `limits.memory` keeps the default
 * requests), then checked: every container has a memory limit (a container without one can take the
 * node's memory and get other pods OOM-killed), and no request exceeds its limit.
 */
export function resolveResources(
  setting: string,
  defaults: ResourceSettings,
  override?: ResourceSettings,
  memoryLimitReason = 'a container without a memory limit can use all of the node\'s memory',
): k8s.ResourceRequirements {
  const requests = { ...defaults.requests, ...override?.requests };
  const limits = { ...defaults.limits, ...override?.limits };
  for (const [kind, values] of [['requests', requests], ['limits', limits]] as const) {
    for (const [name, quantity] of Object.entries(values)) {
      if (quantity === undefined) continue;
      checkQuantity(`${setting}.${kind}.${name}`, String(quantity.value));
    }
  }
  if (!limits.memory) {
    throw new ConfigError(`${setting}.limits.memory`, undefined, `set: ${memoryLimitReason}`);
  }
  for (const name of ['cpu', 'memory'] as const) {
    const request = requests[name];
    const limit = limits[name];
    if (request && limit && quantityValue(String(request.value)) > quantityValue(String(limit.value))) {
      // The error is on the value that was set: a limit set below a default request names the limit.
      if (override?.requests?.[name] === undefined && override?.limits?.[name] !== undefined) {
        throw new ConfigError(`${setting}.limits.${name}`, String(limit.value),
          `at least the default ${setting}.requests.${name} (${request.value}), or set that request too: Kubernetes rejects a request above its limit`);
      }
      throw new ConfigError(`${setting}.requests.${name}`, String(request.value), `at most ${setting}.limits.${name} (${limit.value}); Kubernetes rejects a request above its limit`);
    }
  }
  return {
    ...(Object.keys(requests).length ? { requests } : {}),
    limits,
  };
}

const SUFFIX: Record<string, number> = {
  '': 1, 'm': 1e-3, 'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'P': 1e15, 'E': 1e18,
  'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30, 'Ti': 2 ** 40, 'Pi': 2 ** 50, 'Ei': 2 ** 60,
};

/** The numeric value of a Kubernetes quantity (`512Mi` = 536870912, `500m` = 0.5). */
export function quantityValue(quantity: string): number {
  const match = /^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))([eE][-+]?[0-9]+|[a-zA-Z]*)$/.exec(quantity);
  if (!match) return NaN;
  const [, number, suffix] = match;
  if (/^[eE]/.test(suffix)) return Number(number + suffix);
  return Number(number) * (SUFFIX[suffix] ?? NaN);
}
