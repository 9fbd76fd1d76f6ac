/**
 * The roles the init Job creates and sets passwords on (POSTGRES_USER, MONITOR_USER, POOLER_USER)
 * are never a role Spilo or Patroni uses, nor each other: `POSTGRES_USER=postgres` would run
 * `ALTER ROLE postgres ... PASSWORD <app password>`, handing the application the superuser and
 * breaking Patroni's own login. Refused at synth, and by the Job's script (its env may be edited).
 */
import { spawnSync } from 'child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { findProblems, PgHaChart, PgHaSettings, SPILO_ROLES, SUPERUSER, REPLICATION_USER } from '../../lib';
import { App } from 'cdk8s';
import { container, envOf } from '../support/manifests';
import { synth } from '../support/synth';

describe('at synth', () => {
  test('Spilo\'s and Patroni\'s roles are reserved: the superuser, the replication role and the roles Spilo\'s post_init creates', () => {
    expect(Object.keys(SPILO_ROLES)).toEqual([SUPERUSER, REPLICATION_USER, 'admin', 'cron_admin', 'robot_zmon', 'zalandos']);
  });

  test.each(Object.keys(SPILO_ROLES))('POSTGRES_USER=%s is refused, with the list of what is taken', (role) => {
    expect(() => synth({ postgresUser: role })).toThrow(new RegExp(`^postgresUser must be a role of its own, not ${SPILO_ROLES[role].replace(/[()]/g, '\\$&')}`));
    expect(() => synth({ postgresUser: role })).toThrow(/Taken: postgres \(the superuser .*\), standby .*, zalandos .*, postgres_exporter \(the exporters' role \(postgres.monitorUser\)\), and names starting with "pg_"/);
  });

  test('the exporters\' and the pooler\'s roles are neither Spilo\'s nor the application\'s', () => {
    expect(() => synth({ postgresUser: 'postgres_exporter' })).toThrow(/^postgresUser must be a role of its own, not the exporters' role \(postgres.monitorUser\)/);
    expect(() => synth({ postgres: { monitorUser: 'postgres' } })).toThrow(/^postgres.monitorUser must be a role of its own, not the superuser/);
    expect(() => synth({ pooler: { enabled: true, user: 'standby' } })).toThrow(/^pooler.user must be a role of its own, not the role replicas stream as/);
    expect(() => synth({ pooler: { enabled: true }, postgresUser: 'pooler' })).toThrow(/^postgresUser must be a role of its own, not the pooler's role \(pooler.user\)/);
    // Without the pooler, its role name is free.
    expect(() => synth({ postgresUser: 'pooler' })).not.toThrow();
  });

  test('the synth command\'s words: every refused role at once, each naming its variable', () => {
    const sources = { POSTGRES_USER: 'pg-ha.env:1', MONITOR_USER: 'pg-ha.env:2' };
    const build = (settings: PgHaSettings) => new PgHaChart(new App(), 'pg-ha', settings).toJson();
    const messages = findProblems({ values: { POSTGRES_USER: 'postgres', MONITOR_USER: 'admin' }, sources, fileValues: {}, notes: [], problems: [] }, build)
      .map((problem) => problem.message);
    expect(messages).toEqual([
      expect.stringMatching(/^MONITOR_USER at pg-ha.env:2: "admin" must be a role of its own, not Spilo's role of administrators: the init Job sets the password of MONITOR_USER's role/),
      expect.stringMatching(/^POSTGRES_USER at pg-ha.env:1: "postgres" must be a role of its own, not the superuser Patroni, Spilo and the Jobs log in as/),
    ]);
  });
});

describe('in the init Job\'s script (its env may be edited after the synth)', () => {
  const s = synth({ pooler: { enabled: true } });
  const jobEnv = envOf(container(s.job('pg-ha-init-'), 'init'));
  const files = s.get('ConfigMap', 'pg-ha-init').data;

  /** Runs init.sh with the Job's own plain env, `changes` over it, and stand-ins for pg_isready and psql that log their calls. */
  const runInit = (changes: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-ha-init-'));
    for (const tool of ['pg_isready', 'psql']) {
      writeFileSync(join(dir, tool), `#!/bin/sh\necho ${tool} >> "${dir}/calls"\n`);
      chmodSync(join(dir, tool), 0o755);
    }
    writeFileSync(join(dir, 'init.sh'), files['init.sh']);
    const plain = Object.fromEntries(Object.entries(jobEnv).filter(([, e]) => e.value !== undefined).map(([name, e]) => [name, String(e.value)]));
    const result = spawnSync('sh', [join(dir, 'init.sh')], {
      encoding: 'utf8', env: { PATH: `${dir}:${process.env.PATH}`, ...plain, SQL_DIR: dir, ...changes },
    });
    let calls = '';
    try { calls = readFileSync(join(dir, 'calls'), 'utf8'); } catch { /* never called */ }
    return { ...result, calls };
  };

  test('the Job carries the reserved list the synth checks (written once, in lib/settings/reserved-roles.ts)', () => {
    expect(jobEnv.RESERVED_ROLES.value).toBe(Object.keys(SPILO_ROLES).join(' '));
    expect(jobEnv.RESERVED_ROLE_PREFIX.value).toBe('pg_');
  });

  test('the Job as synthesized runs', () => {
    const result = runInit({});
    expect(result.stderr).toBe('');
    expect(result.calls).toBe('pg_isready\npsql\n');
  });

  test.each([
    [{ APP_USER: 'postgres' }, 'init: APP_USER=postgres (POSTGRES_USER) is refused: the role is one Spilo, Patroni, the exporters or the pooler use'],
    [{ APP_USER: 'pooler' }, 'init: APP_USER=pooler (POSTGRES_USER) is refused'],
    [{ APP_USER: 'pg_monitor' }, 'init: APP_USER=pg_monitor (POSTGRES_USER) is refused: the role is PostgreSQL\'s own (names starting with pg_)'],
    [{ MONITOR_USER: 'standby' }, 'init: MONITOR_USER=standby (MONITOR_USER) is refused'],
    [{ POOLER_USER: 'robot_zmon' }, 'init: POOLER_USER=robot_zmon (POOLER_USER) is refused'],
  ])('%j: refused with a log line naming the variable, before connecting', (changes, line) => {
    const result = runInit(changes);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(line);
    expect(result.calls).toBe('');
  });
});
