/**
 * One rule for the settings of a feature that is off (lib/settings/optional-features.ts): a setting
 * given while its feature is off is an error naming the setting and the switch, never silently
 * ignored. Each feature's settings are listed here; backups and the Argo CD Application, which
 * apply the rule on their own entry points too, show it in their tests.
 */
import { settingsFromVariables } from '../../lib';
import { synth } from '../support/synth';

const fromVariables = (vars: Record<string, string>) => () => synth(settingsFromVariables(vars));

describe('one rule for the settings of a feature that is off', () => {
  test.each<[string, Record<string, string>, RegExp]>([
    ['NetworkPolicies off', { NETWORK_POLICIES: 'false', NETWORK_POLICY_DNS: 'any' }, /^networkPolicies.dns must be unset while networkPolicies.enabled is false \(NETWORK_POLICIES=false\): it only applies to the NetworkPolicies \(got "any"\)/],
    ['no stats Ingress: its class', { STATS_INGRESS: 'none', STATS_INGRESS_CLASS: 'nginx' }, /^statsIngress.className must be unset while statsIngress.kind is "none" \(STATS_INGRESS=none\)/],
    ['no stats Ingress: its controller\'s policy', { STATS_INGRESS: 'none', NETWORK_POLICY_INGRESS_NAMESPACES: 'ingress' }, /^networkPolicies.ingressNamespaces must be unset while statsIngress.kind is "none"/],
    ['backups off', { BACKUP_S3_BUCKET: 'b-1' }, /^backups.bucket must be unset while backups.enabled is false \(BACKUPS=false\)/],
    ['backups off: the schedule', { BACKUPS: 'false', BACKUP_SCHEDULE: '0 2 * * *' }, /^backups.schedule must be unset while backups.enabled is false/],
    ['backups off: the clone', { CLONE_FROM_S3_PREFIX: 's3://a/b' }, /^backups.clone.s3Prefix must be unset while backups.enabled is false/],
    ['a clone without an archive', { BACKUPS: 'true', BACKUP_S3_BUCKET: 'b-1', BACKUP_CREDENTIALS_SECRET: 's3', CLONE_TARGET_TIME: '2026-11-26 05:00:00+00:00' }, /^backups.clone.targetTime must be unset while backups.clone.s3Prefix is unset \(CLONE_FROM_S3_PREFIX\)/],
    ['a clone without an archive: its scope', { BACKUPS: 'true', BACKUP_S3_BUCKET: 'b-1', BACKUP_CREDENTIALS_SECRET: 's3', CLONE_FROM_SCOPE: 'x' }, /^backups.clone.scope must be unset while backups.clone.s3Prefix is unset \(CLONE_FROM_S3_PREFIX\)/],
    ['monitoring off', { PROMETHEUS_SCRAPE_INTERVAL: '1m' }, /^monitoring.scrapeInterval must be unset while monitoring.enabled is false \(PROMETHEUS_OPERATOR=false\)/],
    ['monitoring off: the Prometheus selector labels', { PROMETHEUS_LABELS: 'release=prom' }, /^monitoring.labels must be unset while monitoring.enabled is false \(PROMETHEUS_OPERATOR=false\)/],
    ['no cert-manager issuer', { POSTGRES_TLS_ISSUER_KIND: 'ClusterIssuer' }, /^postgres.tls.issuerKind must be unset while postgres.tls.issuerName is unset \(POSTGRES_TLS_ISSUER\)/],
    ['no Argo CD repository', { ARGOCD_PROJECT: 'db' }, /^argocd.project must be unset while argocd.repoUrl is unset \(ARGOCD_REPO_URL\)/],
  ])('%s: an error naming the setting and the switch', (_, vars, message) => {
    expect(fromVariables(vars)).toThrow(message);
  });

  test.each<[string, Record<string, string>]>([
    ['NetworkPolicies on', { NETWORK_POLICIES: 'true', NETWORK_POLICY_DNS: 'any' }],
    ['a stats IngressRoute', { STATS_INGRESS: 'ingressroute', STATS_INGRESS_CLASS: 'nginx', NETWORK_POLICY_INGRESS_NAMESPACES: 'ingress' }],
    ['a cert-manager issuer', { POSTGRES_TLS_ISSUER: 'ca', POSTGRES_TLS_ISSUER_KIND: 'ClusterIssuer' }],
    ['the switch alone, off', { NETWORK_POLICIES: 'false', STATS_INGRESS: 'none', BACKUPS: 'false', PROMETHEUS_OPERATOR: 'false' }],
  ])('%s: accepted', (_, vars) => {
    expect(fromVariables(vars)).not.toThrow();
  });
});
