/** pg-ha.env and environment variables -> typed settings (lib/settings/env-file.ts), with errors that name the variable. */
import { readFileSync } from 'fs';
import { join } from 'path';
import { parseEnvFile, settingsFromVariables } from '../../lib';
import { ROOT as root, synth } from '../support/synth';

describe('compose-style variables', () => {
  test('map onto typed settings', () => {
    const settings = settingsFromVariables({
      SCOPE: 'orders', POSTGRES_USER: 'shop', POSTGRES_DB: 'shop', POSTGRES_WRITE_PORT: '6432', POSTGRES_READ_PORT: '6433',
      DEFAULT_URL: 'corp.example', ETCD_REPLICAS: '5', SYNCHRONOUS_MODE: 'false', STATS_ENTRYPOINTS: 'web, websecure',
    });
    expect(settings).toEqual({
      scope: 'orders', postgresUser: 'shop', postgresDb: 'shop', router: { writePort: 6432, readPort: 6433 },
      domain: 'corp.example', etcd: { replicas: 5 }, patroni: { synchronousMode: false }, statsIngress: { entryPoints: ['web', 'websecure'] },
    });
  });

  test('a number setting rejects text, naming the variable', () => {
    expect(() => settingsFromVariables({ POSTGRES_WRITE_PORT: '54x2' })).toThrow('POSTGRES_WRITE_PORT must be a whole number (got "54x2")');
  });

  test('a boolean setting accepts only true/false', () => {
    expect(() => settingsFromVariables({ SYNCHRONOUS_MODE: 'yes' })).toThrow('SYNCHRONOUS_MODE must be "true" or "false" (got "yes")');
  });

  test('INIT_SQL_FILE loads the file into the init Job\'s user.sql', () => {
    const settings = settingsFromVariables({ INIT_SQL_FILE: 'extra.sql' }, (path) => `-- from ${path}`);
    expect(synth(settings).get('ConfigMap', 'pg-ha-init').data['user.sql']).toBe('-- from extra.sql');
    expect(() => settingsFromVariables({ INIT_SQL_FILE: '/nonexistent.sql' })).toThrow(/^INIT_SQL_FILE must be a readable file/);
  });

  test('the env file: comments, quotes, export prefixes; an unknown key (a typo) is an error', () => {
    expect(parseEnvFile('# comment\n\nSCOPE="orders"\nexport NAMESPACE=shop\n', 'pg-ha.env')).toEqual({ SCOPE: 'orders', NAMESPACE: 'shop' });
    expect(() => parseEnvFile('SCOPE=a\nPOSTGRES_USR=x\n', 'pg-ha.env')).toThrow(/^pg-ha\.env:2 must be a known setting: did you mean POSTGRES_USER\? .* \(got "POSTGRES_USR"\)/);
    expect(() => parseEnvFile('just words\n', 'pg-ha.env')).toThrow(/^pg-ha\.env:1 must be a KEY=VALUE line/);
  });

  test('the committed pg-ha.env parses', () => {
    expect(() => parseEnvFile(readFileSync(join(root, 'pg-ha.env'), 'utf8'), 'pg-ha.env')).not.toThrow();
  });
});

describe('scheduling, budget, resource, policy and TLS variables', () => {
  test('map onto typed settings the chart accepts', () => {
    const settings = settingsFromVariables({
      ANTI_AFFINITY: 'required',
      ZONE_SPREAD: 'preferred',
      NODE_SELECTOR: 'node-role.kubernetes.io/db=true, disk=ssd',
      TOLERATIONS: 'dedicated=postgres:NoSchedule,spot:NoExecute,maintenance',
      PRIORITY_CLASS_NAME: 'db-critical',
      DISRUPTION_BUDGETS: 'false',
      POSTGRES_MEMORY_LIMIT: '4Gi',
      ETCD_CPU_REQUEST: '200m',
      NETWORK_POLICIES: 'true',
      NETWORK_POLICY_CLIENT_NAMESPACES: 'apps,jobs',
      NETWORK_POLICY_PROMETHEUS_POD_LABELS: 'app.kubernetes.io/name=prometheus',
      NETWORK_POLICY_DNS: 'any',
      POSTGRES_TLS_SECRET: 'pg-tls',
      ROUTER_STATS_AUTH_SECRET: 'stats-auth',
    });
    expect(settings.scheduling).toEqual({
      antiAffinity: 'required',
      zoneSpread: 'preferred',
      nodeSelector: { 'node-role.kubernetes.io/db': 'true', 'disk': 'ssd' },
      tolerations: [
        { key: 'dedicated', operator: 'Equal', value: 'postgres', effect: 'NoSchedule' },
        { key: 'spot', operator: 'Exists', effect: 'NoExecute' },
        { key: 'maintenance', operator: 'Exists' },
      ],
      priorityClassName: 'db-critical',
    });
    expect(settings.disruptionBudgets).toBe(false);
    expect(settings.postgres?.resources?.limits?.memory?.value).toBe('4Gi');
    expect(settings.etcd?.resources?.requests?.cpu?.value).toBe('200m');
    expect(settings.networkPolicies).toEqual({
      enabled: true, clientNamespaces: ['apps', 'jobs'], prometheusPodLabels: { 'app.kubernetes.io/name': 'prometheus' }, dns: 'any',
    });
    expect(settings.postgres?.tls).toEqual({ secretName: 'pg-tls' });
    expect(settings.router?.statsAuthSecret).toBe('stats-auth');
    // And the chart accepts them.
    expect(() => synth(settings)).not.toThrow();
  });

  test('malformed variables are rejected with the variable name', () => {
    expect(() => settingsFromVariables({ POSTGRES_MEMORY_LIMIT: '4 GB' })).toThrow(/POSTGRES_MEMORY_LIMIT must be a Kubernetes quantity/);
    expect(() => settingsFromVariables({ NETWORK_POLICIES: 'yes' })).toThrow(/NETWORK_POLICIES must be "true" or "false"/);
    expect(() => settingsFromVariables({ NETWORK_POLICY_OBJECT_STORAGE_PORTS: '443,minio' })).toThrow(/NETWORK_POLICY_OBJECT_STORAGE_PORTS must be port numbers separated by commas/);
    expect(settingsFromVariables({ NETWORK_POLICY_OBJECT_STORAGE_PORTS: '443, 9000' }).networkPolicies).toEqual({ objectStoragePorts: [443, 9000] });
  });
});
