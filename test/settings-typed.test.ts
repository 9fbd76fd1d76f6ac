/**
 * Settings typed end to end: paths the compiler checks, each default written once, "set by" hints
 * that name exactly the variable that set a value, and one rule for settings of a feature that is off.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Testing } from 'cdk8s';
import {
  DEFAULTS, getSetting, KindFor, NetworkPolicies, PgHaChart, PgHaSettings, SETTINGS, SettingPath, SettingValue, setSetting,
  settingsFromVariables, variablesFor,
} from '../lib';

const root = join(__dirname, '..');
const build = (settings: PgHaSettings) => new PgHaChart(Testing.app(), 'pg-ha', settings);
const fromVariables = (vars: Record<string, string>) => () => build(settingsFromVariables(vars));

describe('setting paths are checked by the compiler', () => {
  test('a path reads and writes the type found there', () => {
    const settings: PgHaSettings = {};
    setSetting(settings, 'etcd.replicas', 5);
    setSetting(settings, 'networkPolicies.clientNamespaces', ['shop']);
    expect(settings).toEqual({ etcd: { replicas: 5 }, networkPolicies: { clientNamespaces: ['shop'] } });
    const replicas: number | undefined = getSetting(settings, 'etcd.replicas');
    expect(replicas).toBe(5);
  });

  test('a misspelled path, a wrong value type or a variable kind that does not fit do not compile', () => {
    // These lines are checked by `tsc --noEmit` (npm test): each must be a compile error.
    // @ts-expect-error: no setting `etcd.replicaz`
    const misspelled: SettingPath = 'etcd.replicaz';
    // @ts-expect-error: etcd.replicas is a number
    setSetting({}, 'etcd.replicas', '3');
    // @ts-expect-error: a number is not parsed from a boolean variable
    const wrongKind: KindFor<SettingValue<'etcd.replicas'>> = 'bool';
    expect([misspelled, wrongKind]).toEqual(['etcd.replicaz', 'bool']);
  });

  test('every variable fills a path that exists in PgHaSettings', () => {
    for (const spec of SETTINGS) {
      const settings = settingsFromVariables({ [spec.env]: sample(spec.kind) }, () => 'SELECT 1;');
      expect([spec.env, getSetting(settings, spec.path)]).not.toEqual([spec.env, undefined]);
    }
  });
});

/** A valid text for a variable of `kind`. */
function sample(kind: string): string {
  return ({ int: '3', bool: 'true', quantity: '1Gi', labels: 'a=b', annotations: 'a=b', tolerations: 'dedicated:NoSchedule', ports: '443', list: 'a,b', file: 'x.sql' } as Record<string, string>)[kind] ?? 'text';
}

describe('each default is written once', () => {
  test('the env table shows DEFAULTS where it has a value', () => {
    const shown = SETTINGS.filter((spec) => getSetting(DEFAULTS, spec.path) !== undefined);
    expect(shown.length).toBeGreaterThan(60);
    for (const spec of shown) {
      const value = getSetting(DEFAULTS, spec.path);
      const text = Array.isArray(value) ? value.join(',') : typeof value === 'object' && value !== null && 'value' in value
        ? String(value.value) : typeof value === 'object' ? Object.entries(value).map(([k, v]) => `${k}=${v}`).join(',') : String(value);
      expect([spec.env, spec.default]).toEqual([spec.env, text]);
    }
  });

  test('the chart reads DEFAULTS (a default chart is built from its values)', () => {
    const chart = build({});
    expect(chart.cluster).toEqual({ name: DEFAULTS.scope, namespace: DEFAULTS.namespace, clusterDomain: DEFAULTS.clusterDomain });
    expect(chart.etcd.replicas).toBe(DEFAULTS.etcd.replicas);
    expect(chart.postgres.replicas).toBe(DEFAULTS.postgres.replicas);
    expect(chart.router.writePort).toBe(DEFAULTS.router.writePort);
    expect(chart.router.replicaMaxLagBytes).toBe(DEFAULTS.router.replicaMaxLagBytes);
  });

  test('no source file but the defaults object falls back to a default value of its own (`?? 17`, `?? \'pg-ha\'`)', () => {
    const leaves: unknown[] = [];
    const walk = (value: unknown) => {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) Object.values(value).forEach(walk);
      else if (typeof value === 'string' || typeof value === 'number') leaves.push(value);
    };
    walk(DEFAULTS);
    const literals = new Set(leaves.map((v) => (typeof v === 'string' ? `?? '${v}'` : `?? ${v}`)));
    const sources = ['main.ts', ...listTs(join(root, 'lib')).map((f) => join('lib', f))].filter((f) => !f.endsWith(join('settings', 'defaults.ts')));
    const found = sources.flatMap((file) => [...literals].filter((literal) => readFileSync(join(root, file), 'utf8').includes(literal)).map((l) => `${file}: ${l}`));
    expect(found).toEqual([]);
  });
});

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory()
    ? listTs(join(dir, entry.name)).map((f) => join(entry.name, f))
    : entry.name.endsWith('.ts') ? [entry.name] : []));
}

describe('"set by" names exactly the variable that set the value', () => {
  test.each([
    ['argocd.namespace', ['ARGOCD_NAMESPACE']],
    ['backups.clone.scope', ['CLONE_FROM_SCOPE']],
    ['networkPolicies.clientNamespaces[0]', ['NETWORK_POLICY_CLIENT_NAMESPACES']],
    ['scheduling.nodeSelector["namespace"]', ['NODE_SELECTOR']],
    ['patroni.loopWait + 2 * patroni.retryTimeout', ['PATRONI_LOOP_WAIT', 'PATRONI_RETRY_TIMEOUT']],
  ])('%s', (setting, variables) => {
    expect(variablesFor(setting)).toEqual(variables);
  });

  test('chart-wide scheduling errors name the chart-wide setting, not the component it was merged into', () => {
    expect(fromVariables({ ANTI_AFFINITY: 'always' })).toThrow(/^scheduling.antiAffinity must be one of/);
    expect(variablesFor('scheduling.antiAffinity')).toEqual(['ANTI_AFFINITY']);
  });

  test('the replication-lag alert\'s default is blamed on the router setting it comes from', () => {
    expect(fromVariables({ PROMETHEUS_OPERATOR: 'true', REPLICA_MAX_LAG_BYTES: '0' })).toThrow(/^router.replicaMaxLagBytes must be at least 1 while monitoring is on/);
    expect(fromVariables({ PROMETHEUS_OPERATOR: 'true', REPLICA_MAX_LAG_BYTES: '0', REPLICATION_LAG_ALERT_BYTES: '1024' })).not.toThrow();
    expect(variablesFor('router.replicaMaxLagBytes')).toEqual(['REPLICA_MAX_LAG_BYTES']);
  });

  const run = (env: Record<string, string>) => spawnSync(process.execPath, ['--require', 'tsx/cjs', 'main.ts'], {
    cwd: root, encoding: 'utf8', env: { ...process.env, ...env, CDK8S_OUTDIR: mkdtempSync(join(tmpdir(), 'pg-ha-dist-')) },
  });

  test('an invalid ARGOCD_NAMESPACE is blamed on ARGOCD_NAMESPACE alone', () => {
    const result = run({ ARGOCD_REPO_URL: 'https://github.com/you/pg-ha-cdk8s.git', ARGOCD_NAMESPACE: 'Argo CD' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('argocd.namespace must be a DNS-1123 label');
    expect(result.stderr).toContain('[set by ARGOCD_NAMESPACE in pg-ha.env or the environment]');
  });

  test('an invalid CLONE_FROM_SCOPE is blamed on CLONE_FROM_SCOPE alone', () => {
    const result = run({
      BACKUPS: 'true', BACKUP_S3_BUCKET: 'pg-backups', BACKUP_CREDENTIALS_SECRET: 's3', CLONE_FROM_S3_PREFIX: 's3://old/wal', CLONE_FROM_SCOPE: 'Old_Scope',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('backups.clone.scope must be a DNS-1123 label');
    expect(result.stderr).toContain('[set by CLONE_FROM_SCOPE in pg-ha.env or the environment]');
  });

  test('a setting given while its feature is off is blamed on that setting\'s variable', () => {
    const result = run({ NETWORK_POLICIES: 'false', NETWORK_POLICY_CLIENT_NAMESPACES: 'shop' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('networkPolicies.clientNamespaces must be unset while networkPolicies.enabled is false (NETWORK_POLICIES=false)');
    expect(result.stderr).toContain('[set by NETWORK_POLICY_CLIENT_NAMESPACES in pg-ha.env or the environment]');
  });
});

describe('one rule for the settings of a feature that is off', () => {
  test.each<[string, Record<string, string>, RegExp]>([
    ['NetworkPolicies off', { NETWORK_POLICIES: 'false', NETWORK_POLICY_DNS: 'any' }, /^networkPolicies.dns must be unset while networkPolicies.enabled is false \(NETWORK_POLICIES=false\): it only applies to the NetworkPolicies \(got "any"\)/],
    ['no stats Ingress: its class', { STATS_INGRESS: 'none', STATS_INGRESS_CLASS: 'nginx' }, /^statsIngress.className must be unset while statsIngress.kind is "none" \(STATS_INGRESS=none\)/],
    ['no stats Ingress: its controller\'s policy', { STATS_INGRESS: 'none', NETWORK_POLICY_INGRESS_NAMESPACES: 'ingress' }, /^networkPolicies.ingressNamespaces must be unset while statsIngress.kind is "none"/],
    ['backups off', { BACKUP_S3_BUCKET: 'b-1' }, /^backups.bucket must be unset while backups.enabled is false \(BACKUPS=false\)/],
    ['a clone without an archive', { BACKUPS: 'true', BACKUP_S3_BUCKET: 'b-1', BACKUP_CREDENTIALS_SECRET: 's3', CLONE_TARGET_TIME: '2026-11-26 05:00:00+00:00' }, /^backups.clone.targetTime must be unset while backups.clone.s3Prefix is unset \(CLONE_FROM_S3_PREFIX\)/],
    ['monitoring off', { PROMETHEUS_SCRAPE_INTERVAL: '1m' }, /^monitoring.scrapeInterval must be unset while monitoring.enabled is false \(PROMETHEUS_OPERATOR=false\)/],
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

describe('chart composition', () => {
  test('every optional group is a typed field, present exactly when its feature is on', () => {
    const on = build({ postgres: { tls: { issuerName: 'ca' } }, monitoring: { enabled: true } });
    expect(on.networkPolicies).toBeInstanceOf(NetworkPolicies);
    expect(on.disruptionBudgets?.etcd.name).toBe('pg-ha-etcd');
    expect(on.postgresCertificate?.certificate.name).toBe('pg-ha-tls');
    expect(on.monitoring?.rule.name).toBe('pg-ha-alerts');
    expect(on.secrets.generatorJob?.kind).toBe('Job');
    const off = build({ networkPolicies: { enabled: false }, disruptionBudgets: false, createNamespace: false, existingSecret: 'mine' });
    expect([off.networkPolicies, off.disruptionBudgets, off.postgresCertificate, off.monitoring, off.namespaceObject, off.secrets.generatorJob])
      .toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
  });
});
