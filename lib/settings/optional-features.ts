/**
 * The optional features and the one rule for their settings: a setting that only applies while its
 * feature is on is an error while the feature is off, naming the setting and the switch. Silently
 * ignoring it would leave a user believing, say, that NetworkPolicies admit their clients.
 */
import { ConfigError } from '../validation';
import { DEFAULTS } from './defaults';
import { SETTINGS, variablesFor } from './env-table';
import { hostPortAdvice } from './external-access-settings';
import { PgHaSettings } from './pg-ha-settings';
import { getSetting, givenSettings, SettingPath } from './setting-paths';

/** A feature that a switch turns on or off. */
export interface OptionalFeature {
  /** What the feature writes, for the error message. */
  readonly name: string;
  /** The setting that turns it on or off. */
  readonly switch: SettingPath;
  /** The switch's value that turns it off (`undefined`: off while the switch is unset). */
  readonly offValue: false | undefined | 'none' | 'ClusterIP';
  /** Groups or settings that apply only while the feature is on (the switch itself excepted). */
  readonly applies: readonly SettingPath[];
  /** For some settings, what to write instead, when the generic message would not tell (a compose host port). */
  readonly advice?: (path: string, value: unknown) => string | undefined;
}

/** Every optional feature, outer before inner (backups before the clone, which needs them). */
export const OPTIONAL_FEATURES: readonly OptionalFeature[] = [
  { name: 'WAL-G backups', switch: 'backups.enabled', offValue: false, applies: ['backups'] },
  { name: 'the clone from an archive', switch: 'backups.clone.s3Prefix', offValue: undefined, applies: ['backups.clone'] },
  { name: 'the PodMonitors and PrometheusRule', switch: 'monitoring.enabled', offValue: false, applies: ['monitoring'] },
  { name: 'the PgBouncer pooler', switch: 'pooler.enabled', offValue: false, applies: ['pooler'] },
  { name: 'the Grafana dashboard ConfigMap', switch: 'monitoring.grafanaDashboard', offValue: false, applies: ['monitoring.grafanaDashboardLabels'] },
  { name: 'the NetworkPolicies', switch: 'networkPolicies.enabled', offValue: false, applies: ['networkPolicies'] },
  {
    name: 'the stats page Ingress',
    switch: 'statsIngress.kind',
    offValue: 'none',
    applies: ['statsIngress', 'networkPolicies.ingressNamespaces', 'networkPolicies.ingressPodLabels'],
  },
  {
    name: 'access from outside the cluster (LoadBalancer or NodePort)',
    switch: 'router.external.serviceType',
    offValue: 'ClusterIP',
    applies: ['router.external'],
    advice: (path, value) => (path.endsWith('NodePort') ? hostPortAdvice(value) : undefined),
  },
  { name: 'etcd TLS', switch: 'etcd.tls.enabled', offValue: false, applies: ['etcd.tls'] },
  { name: 'the etcd cert-manager Certificate', switch: 'etcd.tls.issuerName', offValue: undefined, applies: ['etcd.tls.issuerKind'] },
  { name: 'the cert-manager Certificate', switch: 'postgres.tls.issuerName', offValue: undefined, applies: ['postgres.tls.issuerKind', 'postgres.tls.externalDnsNames'] },
  { name: 'the Argo CD Application', switch: 'argocd.repoUrl', offValue: undefined, applies: ['argocd'] },
];

/** True when `path` is a group of settings (a prefix of a variable's path), not one value such as a label map. */
const isGroupPath = (path: string) => SETTINGS.some((spec) => spec.path.startsWith(`${path}.`));

/** Throws for the first setting given while its feature is off (see OPTIONAL_FEATURES). */
export function checkOptionalFeatures(settings: PgHaSettings, features: readonly OptionalFeature[] = OPTIONAL_FEATURES): void {
  for (const feature of features) {
    const value = getSetting(settings, feature.switch) ?? getSetting(DEFAULTS, feature.switch);
    if (value !== feature.offValue) continue;
    const given = feature.applies
      .flatMap((path) => givenSettings(settings, path, isGroupPath))
      .filter(([path]) => path !== feature.switch);
    if (given.length === 0) continue;
    const [path, givenValue] = given[0];
    const variable = variablesFor(feature.switch)[0];
    const offState = feature.offValue === undefined
      ? `${feature.switch} is unset (${variable})`
      : `${feature.switch} is ${JSON.stringify(feature.offValue)} (${variable}=${feature.offValue})`;
    throw new ConfigError(path, givenValue, feature.advice?.(path, givenValue) ?? `unset while ${offState}: it only applies to ${feature.name}`);
  }
}

/**
 * The optional features `settings` turn on, in the user's words: `BACKUPS`, `STATS_INGRESS=ingress`
 * (a switch with several "on" values shows its value). A feature inside another (the Grafana
 * dashboard inside monitoring) is on only while that one is.
 */
export function featuresOn(settings: PgHaSettings, features: readonly OptionalFeature[] = OPTIONAL_FEATURES): string[] {
  const valueOf = (feature: OptionalFeature) => getSetting(settings, feature.switch) ?? getSetting(DEFAULTS, feature.switch);
  const isOn = (feature: OptionalFeature): boolean => valueOf(feature) !== undefined && valueOf(feature) !== feature.offValue
    && features.filter((outer) => outer !== feature && outer.applies.some((path) => feature.switch.startsWith(`${path}.`))).every(isOn);
  return features.filter(isOn).map((feature) => {
    const variable = variablesFor(feature.switch)[0];
    return typeof feature.offValue === 'string' ? `${variable}=${String(valueOf(feature))}` : variable;
  });
}
