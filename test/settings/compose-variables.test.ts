/**
 * A compose deployment's `.env.postgres` used as pg-ha.env: every variable its design document
 * documents is a setting or derived in Kubernetes (explained, with a warning when the value cannot
 * be used); a password is refused with the command that puts it into a Secret; an unknown name gets
 * the closest known setting, not the whole list.
 */
import { spawnSync } from 'child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import {
  closestVariable, DERIVED_VARIABLES, derivedVariableNotes, isPasswordVariable, loadSettings, parseEnvFile, SETTINGS, settingsFromVariables,
} from '../../lib';
import { synth } from '../support/synth';

const root = join(__dirname, '..', '..');
const COMPOSE_FILE = join(root, 'test', 'fixtures', 'compose', '.env.postgres');

/**
 * Every variable the compose deployment's design document names (its Configuration table, its
 * Networking table's ports and its Traefik section): /work/shared/reference/compose-deployment.md.
 */
const DOCUMENTED = [
  'SCOPE', 'ETCD3_HOSTS', 'PATRONI_NAME', 'POSTGRES_USER', 'POSTGRES_DB', 'POSTGRES_WRITE_PORT', 'POSTGRES_READ_PORT',
  'ETCD_CLIENT_PORT', 'POSTGRES_PORT', 'POSTGRES_WRITE_HOST_PORT', 'POSTGRES_READ_HOST_PORT', 'POSTGRES_EXPORTER_PORT', 'DEFAULT_URL',
];

/** Runs the synth command with `envFile` as pg-ha.env, in a copy of the project's entry point. */
function synthWith(envFileText: string, env: Record<string, string> = {}) {
  const project = mkdtempSync(join(tmpdir(), 'pg-ha-compose-'));
  writeFileSync(join(project, 'pg-ha.env'), envFileText);
  // main.ts reads pg-ha.env beside itself: a copy that imports the real lib/.
  writeFileSync(join(project, 'main.ts'), readFileSync(join(root, 'main.ts'), 'utf8').replace(/'\.\/lib(\/cli)?'/g, (_, cli) => JSON.stringify(join(root, 'lib', cli ? 'cli' : ''))));
  const outdir = join(project, 'dist');
  const result = spawnSync(process.execPath, ['--require', 'tsx/cjs', join(project, 'main.ts')], {
    cwd: root, encoding: 'utf8', env: { ...process.env, ...env, CDK8S_OUTDIR: outdir },
  });
  return { ...result, outdir };
}

describe('the compose deployment\'s variables', () => {
  const fileVars = parseEnvFile(readFileSync(COMPOSE_FILE, 'utf8'), '.env.postgres');

  test('the fixture carries every documented variable, and no password', () => {
    expect(Object.keys(fileVars).sort()).toEqual([...DOCUMENTED].sort());
    expect(Object.keys(fileVars).filter(isPasswordVariable)).toEqual([]);
  });

  test('each documented variable is a setting or derived in Kubernetes, never both', () => {
    const settings = new Set(SETTINGS.map((s) => s.env));
    const derived = new Set(DERIVED_VARIABLES.map((d) => d.env));
    for (const name of DOCUMENTED) expect([name, settings.has(name) !== derived.has(name)]).toEqual([name, true]);
    expect(DOCUMENTED.filter((name) => derived.has(name)).sort()).toEqual(['ETCD3_HOSTS', 'PATRONI_NAME']);
  });

  test('the ports map to the settings of the same meaning', () => {
    expect(settingsFromVariables({ POSTGRES_PORT: '6543', ETCD_CLIENT_PORT: '12379', POSTGRES_WRITE_HOST_PORT: '30432', POSTGRES_READ_HOST_PORT: '30433' })).toEqual({
      postgres: { port: 6543 }, etcd: { clientPort: 12379 }, router: { external: { writeNodePort: 30432, readNodePort: 30433 } },
    });
  });

  test('the file synthesizes with the one line the migration guide adds (the host ports become node ports)', () => {
    const result = synthWith(readFileSync(COMPOSE_FILE, 'utf8'), { ROUTER_SERVICE_TYPE: 'NodePort', ROUTER_SOURCE_RANGES: '10.20.0.0/16' });
    expect(result.stderr).not.toMatch(/invalid configuration/);
    expect(result.status).toBe(0);
    const yaml = readFileSync(join(result.outdir, 'pg-ha.k8s.yaml'), 'utf8');
    expect(yaml).toMatch(/name: pg-ha-rw[\s\S]*?nodePort: 30432/);
    expect(yaml).toMatch(/name: pg-ha-ro[\s\S]*?nodePort: 30433/);
    // Derived variables are explained once each; compose's values cannot be the derived ones.
    expect(result.stderr.match(/ETCD3_HOSTS/g)).toHaveLength(1);
    expect(result.stderr).toContain('warning: ETCD3_HOSTS=etcd-1:2379,etcd-2:2379,etcd-3:2379 is not used');
    expect(result.stderr).toContain('the chart uses pg-ha-etcd-0.pg-ha-etcd-headless.pg-ha.svc.cluster.local:2379,');
    expect(result.stderr).toContain('warning: PATRONI_NAME=pg-0 is not used');
    expect(result.stderr).toContain('the chart uses pg-ha-0,pg-ha-1,pg-ha-2');
  });

  test('as it is, the file is refused at the host ports, naming the variable and the Service type they need', () => {
    const result = synthWith(readFileSync(COMPOSE_FILE, 'utf8'));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('router.external.writeNodePort must be unset while router.external.serviceType is "ClusterIP" (ROUTER_SERVICE_TYPE=ClusterIP)');
    expect(result.stderr).toContain('[set by POSTGRES_WRITE_HOST_PORT in pg-ha.env or the environment]');
    expect(existsSync(result.outdir)).toBe(false);
  });

  test('a derived value that matches is explained, not warned about', () => {
    const settings = {};
    const cluster = { name: 'pg', namespace: 'db', clusterDomain: 'cluster.local' };
    expect(derivedVariableNotes({ PATRONI_NAME: 'pg-1', PGUSER_SUPERUSER: 'postgres' }, settings, cluster)).toEqual([
      'note: PATRONI_NAME is derived in Kubernetes: each member\'s Patroni name is its pod name, <SCOPE>-0 to <SCOPE>-<POSTGRES_REPLICAS - 1> (pg-0,pg-1,pg-2); the line can go',
      'note: PGUSER_SUPERUSER is derived in Kubernetes: Patroni\'s superuser is Spilo\'s (postgres); the line can go',
    ]);
    const hosts = [0, 1, 2].map((i) => `pg-etcd-${i}.pg-etcd-headless.db.svc.cluster.local:2379`);
    expect(derivedVariableNotes({ ETCD3_HOSTS: [...hosts].reverse().join(',') }, settings, cluster)[0]).toMatch(/^note: ETCD3_HOSTS/);
    expect(derivedVariableNotes({ ETCD3_HOSTS: hosts.join(',') }, { etcd: { clientPort: 12379 } }, cluster)[0]).toMatch(/^warning: ETCD3_HOSTS=.* the chart uses .*:12379/);
  });

  test('loadSettings hands the notes to the caller and ignores derived variables for the settings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-ha-env-'));
    copyFileSync(COMPOSE_FILE, join(dir, 'pg-ha.env'));
    const notes: string[] = [];
    const settings = loadSettings(join(dir, 'pg-ha.env'), {}, (line) => notes.push(line));
    expect(notes.map((n) => n.split(' ')[1])).toEqual(['ETCD3_HOSTS=etcd-1:2379,etcd-2:2379,etcd-3:2379', 'PATRONI_NAME=pg-0']);
    expect(settings).not.toHaveProperty('ETCD3_HOSTS');
    expect(synth({ ...settings, router: { ...settings.router, external: { ...settings.router?.external, serviceType: 'NodePort', allowAnySource: true } } })
      .get('StatefulSet', 'pg-ha').spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'ETCD3_HOSTS').value)
      .toMatch(/^pg-ha-etcd-0\.pg-ha-etcd-headless/);
  });
});

describe('a password variable', () => {
  // A variable name and a stand-in value: the refusal must not depend on the value, and must never print it.
  const valueStandIn = 'value-that-must-not-be-printed';
  const line = (name: string) => `${name}=${valueStandIn}`;

  test.each(['POSTGRES_PASSWORD', 'PGPASSWORD_SUPERUSER', 'PGPASSWORD_STANDBY', 'PGPASSWORD_ADMIN', 'DATA_SOURCE_PASS'])('%s is refused with the command that creates the Secret', (name) => {
    const text = `SCOPE=orders\nNAMESPACE=shop\n${line(name)}\n`;
    expect(() => parseEnvFile(text, 'pg-ha.env')).toThrow(/^pg-ha\.env:3 must be a setting, not a password: pg-ha\.env is committed to git/);
    let message = '';
    try { parseEnvFile(text, 'pg-ha.env'); } catch (error) { message = (error as Error).message; }
    expect(message).not.toContain(valueStandIn);
    expect(message).toContain('kubectl -n shop create secret generic orders-credentials');
    for (const key of ['superuser-password', 'replication-password', 'app-password', 'monitor-password']) expect(message).toContain(`--from-literal=${key}=`);
  });

  test('each known one is taken from the compose file\'s own variable in the command', () => {
    const text = [line('POSTGRES_PASSWORD'), line('PGPASSWORD_SUPERUSER'), line('PGPASSWORD_STANDBY')].join('\n');
    expect(() => parseEnvFile(text, 'pg-ha.env')).toThrow(
      /superuser-password="\$PGPASSWORD_SUPERUSER" --from-literal=replication-password="\$PGPASSWORD_STANDBY" --from-literal=app-password="\$POSTGRES_PASSWORD" --from-literal=monitor-password="\$\(openssl rand -hex 24\)"/,
    );
  });

  test('with EXISTING_SECRET the command creates that Secret', () => {
    expect(() => parseEnvFile(`EXISTING_SECRET=pg-passwords\n${line('POSTGRES_PASSWORD')}\n`, 'pg-ha.env')).toThrow(/create secret generic pg-passwords /);
  });

  test('the synth command exits non-zero, does not print the value and writes nothing', () => {
    const result = synthWith(`${line('POSTGRES_PASSWORD')}\n`);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('invalid configuration: ');
    expect(result.stderr).not.toContain(valueStandIn);
    expect(existsSync(result.outdir)).toBe(false);
  });
});

describe('an unknown name', () => {
  test.each([
    ['POSTGRES_USR', 'POSTGRES_USER'],
    ['ETCD_CLIENT_PROT', 'ETCD_CLIENT_PORT'],
    ['PORT_POSTGRES', 'POSTGRES_PORT'],
    ['postgres_db', 'POSTGRES_DB'],
    ['ETCD3_HOST', 'ETCD3_HOSTS'],
  ])('%s: did you mean %s?', (typo, meant) => {
    expect(closestVariable(typo)).toBe(meant);
    expect(() => parseEnvFile(`${typo}=x\n`, 'pg-ha.env')).toThrow(`pg-ha.env:1 must be a known setting: did you mean ${meant}? (every setting: docs/configuration.md) (got "${typo}")`);
  });

  test('far from every setting: no guess, and never the whole list', () => {
    expect(closestVariable('TRAEFIK_CERTRESOLVER')).toBeUndefined();
    let message = '';
    try { parseEnvFile('TRAEFIK_CERTRESOLVER=le\n', 'pg-ha.env'); } catch (error) { message = (error as Error).message; }
    expect(message).toBe('pg-ha.env:1 must be a known setting; none is close to this name (every setting: docs/configuration.md) (got "TRAEFIK_CERTRESOLVER")');
    expect(message.length).toBeLessThan(200);
  });
});
