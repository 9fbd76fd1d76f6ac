/**
 * Scheduling of every component's pods: anti-affinity, zone spread, node selection and priority.
 */
import { k8s } from 'cdk8s-plus-28';
import { ANTI_AFFINITY_MODES, SchedulingSettings, ZONE_SPREAD_MODES } from '../settings/component-settings';
import { DEFAULTS } from '../settings/defaults';
import { checkDnsSubdomain, checkLabel, checkOneOf, checkToleration } from '../validation';

/** Component settings win over chart-wide ones, field by field. */
export function mergeScheduling(chartWide: SchedulingSettings | undefined, component: SchedulingSettings | undefined): SchedulingSettings {
  const merged: Record<string, unknown> = { ...chartWide };
  for (const [key, value] of Object.entries(component ?? {})) {
    if (value !== undefined) merged[key] = value;
  }
  return merged as SchedulingSettings;
}

/** Checks `scheduling` (named `setting` in errors) and returns it with its defaults. */
export function checkScheduling(setting: string, scheduling: SchedulingSettings = {}) {
  const antiAffinity = checkOneOf(`${setting}.antiAffinity`, scheduling.antiAffinity ?? DEFAULTS.scheduling.antiAffinity, ANTI_AFFINITY_MODES);
  const zoneSpread = checkOneOf(`${setting}.zoneSpread`, scheduling.zoneSpread ?? DEFAULTS.scheduling.zoneSpread, ZONE_SPREAD_MODES);
  const priorityClassName = scheduling.priorityClassName === undefined
    ? undefined
    : checkDnsSubdomain(`${setting}.priorityClassName`, scheduling.priorityClassName);
  for (const [key, value] of Object.entries(scheduling.nodeSelector ?? {})) checkLabel(`${setting}.nodeSelector`, key, value);
  (scheduling.tolerations ?? []).forEach((t, i) => checkToleration(`${setting}.tolerations[${i}]`, t));
  return { antiAffinity, zoneSpread, priorityClassName };
}

/** A Job's pod: the node constraints of the settings, without anti-affinity or zone spread (one pod that runs to completion). */
export function jobSchedulingSpec(setting: string, scheduling: SchedulingSettings = {}): Partial<k8s.PodSpec> {
  return schedulingSpec(setting, {}, { ...scheduling, antiAffinity: 'none', zoneSpread: 'none' });
}

/** The pod-spec fields for `scheduling`, for pods selected by `selector`; `setting` names the prop in errors. */
export function schedulingSpec(setting: string, selector: Record<string, string>, scheduling: SchedulingSettings = {}): Partial<k8s.PodSpec> {
  const { antiAffinity, zoneSpread, priorityClassName } = checkScheduling(setting, scheduling);

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

/**
 * Surge a new pod (router, pooler) before stopping an old one; but with required anti-affinity and one pod per
 * node, the surge pod would find no node and the rollout would hang, so replace one at a time
 * instead (the disruption budget's "at least one" still holds with two or more pods).
 */
export function rollingUpdateFor(scheduling?: SchedulingSettings): k8s.RollingUpdateDeployment {
  return scheduling?.antiAffinity === 'required'
    ? { maxUnavailable: k8s.IntOrString.fromNumber(1), maxSurge: k8s.IntOrString.fromNumber(0) }
    : { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) };
}
