/**
 * A compose deployment's `.env.postgres` used as pg-ha.env: every variable its design document
 * documents is a setting or derived in Kubernetes (explained, with a warning when the value cannot
 * be used); a password is refused with the command that puts it into a Secret; an unknown name gets
 * the closest known setting, not the whole list.
 */
import { copyFileSync, mkdtempSync, readFileSync, existsSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import {
  closestVariable, DERIVED_VARIABLES, derivedVariableNotes, isPasswordVariable, loadSettings, parseEnvFile, SETTINGS, settingsFromVariables,
} from '../../lib';
import { synth } from '../support/synth';
import { newOutdir, runSynthWith } from '../support/synth-command';

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

/** Runs the synth command with `envFileText` as its settings file; `outdir` does not exist before. */
function synthWith(envFileText: string, env: Record<string, string> = {}) {
  const outdir = join(newOutdir(), 'dist');
  return { ...runSynthWith(envFileText, env, outdir), outdir };
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
    expect(result.stderr).not.toMatch(/invalid setting/);
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
    // Both host ports, each saying what to add instead in the compose user's words
    expect(result.stderr).toMatch(/^POSTGRES_WRITE_HOST_PORT at \S+:\d+: 30432 must be unset while ROUTER_SERVICE_TYPE is ClusterIP .* add either ROUTER_SERVICE_TYPE=LoadBalancer, .* or ROUTER_SERVICE_TYPE=NodePort: every node listens on this port; and ROUTER_SOURCE_RANGES=.* \(docs\/external-access\.md\)/m);
    expect(result.stderr).toMatch(/^POSTGRES_READ_HOST_PORT at \S+:\d+: 30433 must be unset while ROUTER_SERVICE_TYPE is ClusterIP/m);
    expect(existsSync(result.outdir)).toBe(false);
  });

  test('a host port outside the node-port range: the advice says NodePort cannot take it', () => {
    const result = synthWith('POSTGRES_WRITE_HOST_PORT=25432\n');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('or ROUTER_SERVICE_TYPE=NodePort with a port from 30000 to 32767 (Kubernetes\' node-port range; 25432 is outside it)');
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
    expect(() => parseEnvFile(text, 'pg-ha.env')).toThrow(new RegExp(`^${name} at pg-ha\\.env:3: \\(value not shown\\) must be a setting, not a password: pg-ha\\.env is committed to git`));
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
    expect(result.stderr).toMatch(/^POSTGRES_PASSWORD at \S+:1: \(value not shown\) must be a setting, not a password/m);
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
    expect(() => parseEnvFile(`${typo}=x\n`, 'pg-ha.env')).toThrow(`${typo} at pg-ha.env:1: not a setting; did you mean ${meant}? (every setting: docs/configuration.md)`);
  });

  test('far from every setting: no guess, and never the whole list', () => {
    expect(closestVariable('TRAEFIK_CERTRESOLVER')).toBeUndefined();
    let message = '';
    try { parseEnvFile('TRAEFIK_CERTRESOLVER=le\n', 'pg-ha.env'); } catch (error) { message = (error as Error).message; }
    expect(message).toBe('TRAEFIK_CERTRESOLVER at pg-ha.env:1: not a setting; none is close to this name (every setting: docs/configuration.md)');
    expect(message.length).toBeLessThan(200);
  });
});
