/** pg-ha.env and environment variables -> typed settings (lib/settings/env-file.ts), with errors that name the variable. */
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseEnvFile, parseEnvValue, readEnvFileText, readSettingsInput, settingsFromVariables } from '../../lib';
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

/** The file's lines are read the way docker compose reads `.env`: users copy lines from their `.env.postgres` and from the docs. */
describe('the env file, read as compose reads .env', () => {
  test.each([
    ['plain', 'orders', 'orders'],
    ['spaces around the value', '  orders  ', 'orders'],
    ['a comment after an unquoted value (a # after a space)', 'orders # the shop\'s database', 'orders'],
    ['a comment after a tab', 'orders\t# ours', 'orders'],
    ['a # without a space before it is part of the value', 'orders#1', 'orders#1'],
    ['only a comment: empty', ' # nothing yet', ''],
    ['double quotes', '"orders"', 'orders'],
    ['a # inside quotes is literal', '"orders # not a comment"', 'orders # not a comment'],
    ['a comment after the closing quote', '"orders" # ours', 'orders'],
    ['double quotes: \\" \\\\ \\t escapes', '"a\\"b\\\\c\\td"', 'a"b\\c\td'],
    ['single quotes are literal', "'a\\tb $user'", 'a\\tb $user'],
    ['single quotes: an escaped quote', "'it\\'s'", "it's"],
    ['no interpolation: $user stays (a search_path holds one)', 'work_mem=16MB,search_path=\'"$user", public\'', 'work_mem=16MB,search_path=\'"$user", public\''],
    ['an empty value', '', ''],
  ])('%s', (_, text, value) => {
    expect(parseEnvValue(text)).toEqual({ value });
  });

  test.each([
    ['an unterminated quote', '"orders', 'a closing " on the same line (a value spans one line)'],
    ['text after the closing quote', '"orders" shop', 'text after the closing " ("shop"); only a comment ("# ...") may follow'],
  ])('%s is an error', (_, text, error) => {
    expect(parseEnvValue(text)).toEqual({ error });
  });

  test('comment lines, blank lines and export prefixes; line numbers as in the file', () => {
    expect(readEnvFileText('# comment\n\nSCOPE="orders"\nexport NAMESPACE=shop # ours\n', 'pg-ha.env')).toEqual({
      entries: [{ key: 'SCOPE', value: 'orders', line: 3 }, { key: 'NAMESPACE', value: 'shop', line: 4 }],
      problems: [],
    });
  });

  test('every bad line is reported, each naming the file and line: not KEY=VALUE, an unknown key (a typo), a bad quote', () => {
    expect(() => parseEnvFile('SCOPE=a\nPOSTGRES_USR=x\njust words\nPOSTGRES_DB="app\n', 'pg-ha.env')).toThrow([
      'POSTGRES_USR at pg-ha.env:2: not a setting; did you mean POSTGRES_USER? (every setting: docs/configuration.md)',
      'pg-ha.env:3: "just words" must be a KEY=VALUE line (a comment line starts with "#")',
      'POSTGRES_DB at pg-ha.env:4: "\\"app" must have a closing " on the same line (a value spans one line)',
    ].join('\n'));
  });

  test('a key given twice is an error naming both lines, and neither value is used (compose would silently take the last)', () => {
    const { entries, problems } = readEnvFileText('SCOPE=shop\nNAMESPACE=db\nSCOPE=orders\n', 'pg-ha.env');
    expect(problems.map((p) => p.message)).toEqual([
      'SCOPE at pg-ha.env:1 and pg-ha.env:3: set 2 times, must be set once (delete all but one line; docker compose would silently use the last, which hides the mistake)',
    ]);
    expect(entries.map((e) => e.key)).toEqual(['NAMESPACE']);
  });
});

describe('the file and the environment together', () => {
  // Not a password: a value that must never be printed.
  const passwordStandIn = `stand-in-${process.pid}`;

  const input = (text: string, env: Record<string, string> = {}) => {
    const file = join(mkdtempSync(join(tmpdir(), 'pg-ha-env-')), 'pg-ha.env');
    writeFileSync(file, text);
    return readSettingsInput(file, env, 'pg-ha.env');
  };

  test('a variable from the environment overrides the file, as in compose, with a note naming both values', () => {
    const read = input('NAMESPACE=shop\n', { NAMESPACE: 'default', SCOPE: 'orders', POSTGRES_PASSWORD: passwordStandIn });
    expect(read.values).toEqual({ NAMESPACE: 'default', SCOPE: 'orders' });
    expect(read.sources).toEqual({ NAMESPACE: 'the environment', SCOPE: 'the environment' });
    // One line per variable the environment sets (a CI job's NAMESPACE=default changes every object);
    // variables that are not settings are not read, so a password in the environment is never shown.
    expect(read.notes).toEqual([
      'note: SCOPE=orders from the environment (pg-ha.env does not set it)',
      'note: NAMESPACE=default from the environment, which overrides pg-ha.env:1 (NAMESPACE=shop)',
    ]);
    expect(read.notes.join('\n')).not.toContain(passwordStandIn);
  });

  test('a token in a URL is not shown in a note', () => {
    expect(input('', { ARGOCD_REPO_URL: 'https://ci:glpat-secret@gitlab.example.com/db/pg.git' }).notes)
      .toEqual(['note: ARGOCD_REPO_URL=https://ci:***@gitlab.example.com/db/pg.git from the environment (pg-ha.env does not set it)']);
  });

  test('an empty value means the default, and a note names it (in the file, or in the environment over the file)', () => {
    const read = input('POSTGRES_DB=\nSCOPE=shop\nPOSTGRES_STORAGE_CLASS= # later\n', { SCOPE: '' });
    expect(read.values).toEqual({});
    expect(read.notes).toEqual([
      'note: SCOPE is empty in the environment, which overrides pg-ha.env:2 (SCOPE=shop): the default applies: pg-ha',
      'note: POSTGRES_DB is empty at pg-ha.env:1: the default applies: app (give a value, or delete the line)',
      'note: POSTGRES_STORAGE_CLASS is empty at pg-ha.env:3: the default applies: (cluster default) (give a value, or delete the line)',
    ]);
  });
});
