/**
 * Scheduling of every component's pods: anti-affinity, zone spread, node selection and priority.
 */
import { k8s } from 'cdk8s-plus-28';
import { checkDnsSubdomain, checkLabel, checkOneOf, checkToleration } from '../validation';

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
