import { execFileSync, spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseEnvFile, SETTINGS, settingsFromVariables } from '../lib';
import { synth } from './support/synth';

const root = join(__dirname, '..');

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

  test('every setting has a unique variable', () => {
    expect(new Set(SETTINGS.map((s) => s.env)).size).toBe(SETTINGS.length);
  });

  test('the committed pg-ha.env parses', () => {
    expect(() => parseEnvFile(readFileSync(join(root, 'pg-ha.env'), 'utf8'), 'pg-ha.env')).not.toThrow();
  });
});

describe('the synth command', () => {
  const run = (env: Record<string, string>, outdir: string) => spawnSync(process.execPath, ['--require', 'tsx/cjs', 'main.ts'], {
    cwd: root, encoding: 'utf8', env: { ...process.env, ...env, CDK8S_OUTDIR: outdir },
  });

  test('invalid settings: clear error, non-zero exit, existing output untouched', () => {
    // GIVEN an output directory holding a previous synth
    const outdir = mkdtempSync(join(tmpdir(), 'pg-ha-dist-'));
    writeFileSync(join(outdir, 'pg-ha.k8s.yaml'), 'previous\n');
    // WHEN the synth runs with an even etcd member count
    const result = run({ ETCD_REPLICAS: '4' }, outdir);
    // THEN it names the setting, the value, what is valid and the variable, and writes nothing
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('etcd.replicas must be an odd integer from 1 to 9');
    expect(result.stderr).toContain('(got 4)');
    expect(result.stderr).toContain('[set by ETCD_REPLICAS in pg-ha.env or the environment]');
    expect(readdirSync(outdir)).toEqual(['pg-ha.k8s.yaml']);
    expect(readFileSync(join(outdir, 'pg-ha.k8s.yaml'), 'utf8')).toBe('previous\n');
  });

  test('the Patroni timing rule names every variable involved', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'pg-ha-dist-'));
    const result = run({ PATRONI_LOOP_WAIT: '10', PATRONI_RETRY_TIMEOUT: '10' }, outdir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('[set by PATRONI_LOOP_WAIT, PATRONI_RETRY_TIMEOUT in pg-ha.env or the environment]');
  });

  test('valid settings replace the output with exactly the chart file', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'pg-ha-dist-'));
    writeFileSync(join(outdir, 'stale.k8s.yaml'), 'stale\n');
    const result = run({ SCOPE: 'orders' }, outdir);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readdirSync(outdir)).toEqual(['orders.k8s.yaml']);
  });

  test('is deterministic and the committed dist/ equals a fresh synth', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'pg-ha-dist-'));
    execFileSync(process.execPath, ['--require', 'tsx/cjs', 'main.ts'], { cwd: root, env: { ...process.env, CDK8S_OUTDIR: outdir } });
    const fresh = readFileSync(join(outdir, 'pg-ha.k8s.yaml'), 'utf8');
    const again = mkdtempSync(join(tmpdir(), 'pg-ha-dist-'));
    execFileSync(process.execPath, ['--require', 'tsx/cjs', 'main.ts'], { cwd: root, env: { ...process.env, CDK8S_OUTDIR: again } });
    expect(readFileSync(join(again, 'pg-ha.k8s.yaml'), 'utf8')).toBe(fresh);
    expect(readFileSync(join(root, 'dist', 'pg-ha.k8s.yaml'), 'utf8')).toBe(fresh);
  });
});
