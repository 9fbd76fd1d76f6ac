/**
 * The env table (lib/settings/env-table.ts): one variable per setting, each documented, and the
 * "set by" hint of an error naming exactly the variables that set the value.
 */
import { SETTINGS, settingsFromVariables, variablesFor } from '../../lib';
import { runSynthWith } from '../support/synth-command';
import { synth } from '../support/synth';

const fromVariables = (vars: Record<string, string>) => () => synth(settingsFromVariables(vars));

describe('variables', () => {
  test('every setting has its own variable (one variable setting two values would be ambiguous)', () => {
    expect(new Set(SETTINGS.map((s) => s.env)).size).toBe(SETTINGS.length);
  });
});

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

  const run = (variables: Record<string, string>) => runSynthWith(Object.entries(variables).map(([key, value]) => `${key}=${value}`).join('\n'));

  test('an invalid ARGOCD_NAMESPACE is blamed on ARGOCD_NAMESPACE alone', () => {
    const result = run({ ARGOCD_REPO_URL: 'https://github.com/you/pg-ha-cdk8s.git', ARGOCD_NAMESPACE: 'Argo CD' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^ARGOCD_NAMESPACE at \S+:2: "Argo CD" must be a DNS-1123 label/m);
    expect(result.stderr).toContain('(PgHaSettings: argocd.namespace)');
  });

  test('an invalid CLONE_FROM_SCOPE is blamed on CLONE_FROM_SCOPE alone', () => {
    const result = run({
      BACKUPS: 'true', BACKUP_S3_BUCKET: 'pg-backups', BACKUP_CREDENTIALS_SECRET: 's3', CLONE_FROM_S3_PREFIX: 's3://old/wal', CLONE_FROM_SCOPE: 'Old_Scope',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^CLONE_FROM_SCOPE at \S+:5: "Old_Scope" must be a DNS-1123 label/m);
  });

  test('a setting given while its feature is off is blamed on that setting\'s variable', () => {
    const result = run({ NETWORK_POLICIES: 'false', NETWORK_POLICY_CLIENT_NAMESPACES: 'shop' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^NETWORK_POLICY_CLIENT_NAMESPACES at \S+:2: \["shop"\] must be unset while NETWORK_POLICIES is false \(NETWORK_POLICIES=false\)/m);
  });
});
