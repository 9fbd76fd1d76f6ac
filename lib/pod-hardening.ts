/**
 * Production hardening shared by every component: scheduling (anti-affinity, zone spread, node
 * selection, priority), resources (requests and limits, merged over per-component defaults) and
 * security contexts (the Pod Security Standards "restricted" profile where the image allows it).
 */
import { k8s } from 'cdk8s-plus-28';
import { checkDnsSubdomain, checkOneOf, checkQuantity, ConfigError } from './validation';

/** How strongly pods of one component avoid sharing a node. */
export const ANTI_AFFINITY_MODES = ['preferred', 'required', 'none'] as const;
export type AntiAffinityMode = (typeof ANTI_AFFINITY_MODES)[number];

/** How strongly pods of one component spread over zones (`topology.kubernetes.io/zone`). */
export const ZONE_SPREAD_MODES = ['none', 'preferred', 'required'] as const;
export type ZoneSpreadMode = (typeof ZONE_SPREAD_MODES)[number];

/** Where a component's pods may run. Set for the whole chart (`scheduling`) or per component. */
export interface SchedulingProps {
  /**
   * Pods of the same component on different nodes (`kubernetes.io/hostname`): `preferred` schedules
   * anyway when there are fewer nodes than pods; `required` leaves such pods Pending, so losing one
   * node never takes two members.
   * @default 'preferred'
   */
  readonly antiAffinity?: AntiAffinityMode;
  /**
   * Spread pods over zones (`topology.kubernetes.io/zone`, max skew 1). `required` leaves pods Pending
   * on nodes without a zone label; `preferred` only scores.
   * @default 'none' (the kube-scheduler's built-in default spreading still prefers zones)
   */
  readonly zoneSpread?: ZoneSpreadMode;
  /**
   * Node labels the pods require.
   * @default - any node
   */
  readonly nodeSelector?: Record<string, string>;
  /**
   * Taints the pods tolerate (for dedicated database nodes).
   * @default - none
   */
  readonly tolerations?: k8s.Toleration[];
  /**
   * PriorityClass of the pods (it must exist in the cluster).
   * @default - the cluster's default priority
   */
  readonly priorityClassName?: string;
}

/** Component settings win over chart-wide ones, field by field. */
export function mergeScheduling(chartWide: SchedulingProps | undefined, component: SchedulingProps | undefined): SchedulingProps {
  const merged: Record<string, unknown> = { ...chartWide };
  for (const [key, value] of Object.entries(component ?? {})) {
    if (value !== undefined) merged[key] = value;
  }
  return merged as SchedulingProps;
}

/** The pod-spec fields for `scheduling`, for pods selected by `selector`; `setting` names the prop in errors. */
export function schedulingSpec(setting: string, selector: Record<string, string>, scheduling: SchedulingProps = {}): Partial<k8s.PodSpec> {
  const antiAffinity = checkOneOf(`${setting}.antiAffinity`, scheduling.antiAffinity ?? 'preferred', ANTI_AFFINITY_MODES);
  const zoneSpread = checkOneOf(`${setting}.zoneSpread`, scheduling.zoneSpread ?? 'none', ZONE_SPREAD_MODES);
  const priorityClassName = scheduling.priorityClassName === undefined
    ? undefined
    : checkDnsSubdomain(`${setting}.priorityClassName`, scheduling.priorityClassName);
  for (const [key, value] of Object.entries(scheduling.nodeSelector ?? {})) checkLabel(`${setting}.nodeSelector`, key, value);
  (scheduling.tolerations ?? []).forEach((t, i) => checkToleration(`${setting}.tolerations[${i}]`, t));

  const labelSelector = { matchLabels: selector };
  const term: k8s.PodAffinityTerm = { topologyKey: 'kubernetes.io/hostname', labelSelector };
  const affinity: k8s.Affinity | undefined = antiAffinity === 'none' ? undefined : {
    podAntiAffinity: antiAffinity === 'required'
      ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
      : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] },
  };
  const spread: k8s.TopologySpreadConstraint[] = zoneSpread === 'none' ? [] : [{
    topologyKey: 'topology.kubernetes.io/zone',
    maxSkew: 1,
    whenUnsatisfiable: zoneSpread === 'required' ? 'DoNotSchedule' : 'ScheduleAnyway',
    labelSelector,
  }];
  return {
    ...(affinity ? { affinity } : {}),
    ...(spread.length ? { topologySpreadConstraints: spread } : {}),
    ...(scheduling.nodeSelector && Object.keys(scheduling.nodeSelector).length ? { nodeSelector: scheduling.nodeSelector } : {}),
    ...(scheduling.tolerations?.length ? { tolerations: scheduling.tolerations } : {}),
    ...(priorityClassName ? { priorityClassName } : {}),
  };
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(|[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;

/** A label key and value Kubernetes accepts. */
export function checkLabel(setting: string, key: string, value: string): void {
  if (typeof key !== 'string' || !LABEL_KEY.test(key)) {
    throw new ConfigError(setting, key, 'a label key such as "node-role.kubernetes.io/db" (optional DNS prefix and "/", then at most 63 letters, digits, "-", "_", ".")');
  }
  if (typeof value !== 'string' || !LABEL_VALUE.test(value)) {
    throw new ConfigError(`${setting}["${key}"]`, value, 'a label value: at most 63 letters, digits, "-", "_", ".", starting and ending with a letter or digit');
  }
}

const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

function checkToleration(setting: string, t: k8s.Toleration): void {
  if (t.key !== undefined && t.key !== '' && !LABEL_KEY.test(t.key)) {
    throw new ConfigError(`${setting}.key`, t.key, 'a taint key such as "dedicated" or "example.com/db"');
  }
  if (t.operator !== undefined) checkOneOf(`${setting}.operator`, t.operator as 'Equal' | 'Exists', ['Equal', 'Exists']);
  if (t.effect !== undefined && t.effect !== '') checkOneOf(`${setting}.effect`, t.effect as (typeof TAINT_EFFECTS)[number], TAINT_EFFECTS);
  if (t.operator === 'Exists' && t.value) {
    throw new ConfigError(`${setting}.value`, t.value, 'empty when operator is "Exists"');
  }
}

/**
 * Tolerations in kubectl's taint syntax, comma-separated: `key=value:Effect` (Equal), `key:Effect` or
 * `key` (Exists), e.g. `dedicated=postgres:NoSchedule`. Used by the TOLERATIONS setting.
 */
export function parseTolerations(setting: string, text: string): k8s.Toleration[] {
  return text.split(',').map((item) => item.trim()).filter((item) => item !== '').map((item) => {
    const match = /^([^=:]+)(?:=([^:]*))?(?::([A-Za-z]+))?$/.exec(item);
    if (!match) throw new ConfigError(setting, item, 'a toleration "key=value:Effect", "key:Effect" or "key" (comma-separated)');
    const [, key, value, effect] = match;
    const toleration: k8s.Toleration = {
      key,
      operator: value === undefined ? 'Exists' : 'Equal',
      ...(value !== undefined ? { value } : {}),
      ...(effect !== undefined ? { effect } : {}),
    };
    checkToleration(setting, toleration);
    return toleration;
  });
}

/** `key=value` pairs, comma-separated (NODE_SELECTOR). */
export function parseLabelMap(setting: string, text: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const item of text.split(',').map((i) => i.trim()).filter((i) => i !== '')) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(setting, item, 'key=value pairs separated by commas, e.g. "node-role.kubernetes.io/db=true"');
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    checkLabel(setting, key, value);
    map[key] = value;
  }
  return map;
}

// ---------------------------------------------------------------------------------------------
// Resources

/**
 * `override` merged over `defaults` key by key (setting only `limits.memory` keeps the default
 * requests), then checked: every container has a memory limit (a container without one can take the
 * node's memory and get other pods OOM-killed), and no request exceeds its limit.
 */
export function resolveResources(
  setting: string,
  defaults: k8s.ResourceRequirements,
  override?: k8s.ResourceRequirements,
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
  for (const name of ['cpu', 'memory']) {
    const request = requests[name];
    const limit = limits[name];
    if (request && limit && quantityValue(String(request.value)) > quantityValue(String(limit.value))) {
      throw new ConfigError(`${setting}.requests.${name}`, String(request.value), `at most ${setting}.limits.${name} (${limit.value}); Kubernetes rejects a request above its limit`);
    }
  }
  return {
    ...(Object.keys(requests).length ? { requests } : {}),
    limits,
  };
}

/** Requests and a memory limit from strings (`cpu` request, `memory` request, `memory` limit). */
export function resources(cpuRequest: string, memoryRequest: string, memoryLimit: string): k8s.ResourceRequirements {
  return {
    requests: { cpu: k8s.Quantity.fromString(cpuRequest), memory: k8s.Quantity.fromString(memoryRequest) },
    limits: { memory: k8s.Quantity.fromString(memoryLimit) },
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

// ---------------------------------------------------------------------------------------------
// Security contexts

/**
 * Pod Security Admission labels of the chart's Namespace: enforce "baseline" (the Spilo pods need
 * root at start) and audit at "restricted" (the API server's audit log records every pod below it).
 * No "warn" at restricted: every `kubectl apply` would print the known Spilo exception.
 */
export const POD_SECURITY_NAMESPACE_LABELS: Record<string, string> = {
  'pod-security.kubernetes.io/enforce': 'baseline',
  'pod-security.kubernetes.io/enforce-version': 'v1.28',
  'pod-security.kubernetes.io/audit': 'restricted',
  'pod-security.kubernetes.io/audit-version': 'v1.28',
};

/** The container fields of the Pod Security Standards "restricted" profile. */
export function restrictedContainerSecurityContext(extra: Partial<k8s.SecurityContext> = {}): k8s.SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
    ...extra,
  };
}

/**
 * The pod fields of the "restricted" profile for an image that runs as `uid` (numeric, so the kubelet
 * can enforce runAsNonRoot without reading the image's /etc/passwd).
 */
export function restrictedPodSecurityContext(uid: number, gid: number, extra: Partial<k8s.PodSecurityContext> = {}): k8s.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: gid,
    seccompProfile: { type: 'RuntimeDefault' },
    ...extra,
  };
}
