/**
 * PostgreSQL parameters (POSTGRES_PARAMETERS / patroni.parameters): names checked against
 * PostgreSQL 17's own list, each routed to where it takes effect, owned ones refused by name.
 */
import { readdirSync } from 'fs';
import { parse } from 'yaml';
import { parseParameterList } from '../../lib/settings/parsers';
import { closestName, MUST_MATCH_PARAMETERS, POSTGRES_17_PARAMETERS, routeParameters } from '../../lib/components/postgres/postgres-parameters';
import { settingsFromVariables } from '../../lib';
import { container, envOf } from '../support/manifests';
import { synth } from '../support/synth';
import { newOutdir, runSynthCommand } from '../support/synth-command';

const route = (parameters: Record<string, string | number>, backupsEnabled = false) => routeParameters('patroni.parameters', parameters, { backupsEnabled });

describe('the PostgreSQL 17 parameter list (from postgres --describe-config)', () => {
  test('holds the parameters of the real server, with their context', () => {
    expect(Object.keys(POSTGRES_17_PARAMETERS).length).toBeGreaterThan(300);
    expect(POSTGRES_17_PARAMETERS.work_mem).toEqual({ context: 'user', type: 'integer' });
    expect(POSTGRES_17_PARAMETERS.max_connections.context).toBe('postmaster');
    expect(POSTGRES_17_PARAMETERS.summarize_wal).toBeDefined(); // new in 17
    for (const name of MUST_MATCH_PARAMETERS) expect(POSTGRES_17_PARAMETERS[name].context).toBe('postmaster');
  });
});

describe('routing', () => {
  test('cluster-wide parameters (and the five that must match on every member) go to the DCS', () => {
    const routed = route({ work_mem: '16MB', max_connections: 200, max_worker_processes: 16, statement_timeout: '30s' });
    expect(routed).toEqual({ dcs: { work_mem: '16MB', max_connections: 200, max_worker_processes: 16, statement_timeout: '30s' }, local: {} });
  });

  test('parameters Spilo sets in its local configuration go there (the DCS value would be ignored)', () => {
    const routed = route({ shared_buffers: '512MB', shared_preload_libraries: 'pg_stat_statements', 'bg_mon.history_buckets': 60, archive_command: '/bin/true' });
    expect(routed.dcs).toEqual({});
    expect(routed.local).toEqual({ shared_buffers: '512MB', shared_preload_libraries: 'pg_stat_statements', 'bg_mon.history_buckets': 60, archive_command: '/bin/true' });
  });

  test('names are matched as PostgreSQL does (case-insensitively) and written as it spells them', () => {
    expect(route({ timezone: 'UTC', WORK_MEM: '8MB' }).dcs).toEqual({ TimeZone: 'UTC', work_mem: '8MB' });
  });

  test('an extension parameter (prefix.name) is accepted by form, not by the core list', () => {
    expect(route({ 'pg_stat_statements.max': 10000, 'auto_explain.log_min_duration': '1s' }).dcs)
      .toEqual({ 'pg_stat_statements.max': 10000, 'auto_explain.log_min_duration': '1s' });
  });
});

describe('refusals', () => {
  test.each([
    ['listen_addresses', '*', 'Patroni sets it from its listen address'],
    ['port', 5433, 'Patroni sets it'],
    ['hot_standby', 'off', 'Patroni needs replicas to serve reads'],
    ['wal_level', 'minimal', 'streaming replication'],
    ['synchronous_standby_names', '*', 'SYNCHRONOUS_MODE'],
    ['ssl_cert_file', '/x.crt', 'POSTGRES_TLS_'],
    ['recovery_target_time', '2024-01-01', 'recovery configuration'],
  ])('%s is owned by Patroni or Spilo: refused by name', (name, value, reason) => {
    expect(() => route({ [name]: value })).toThrow(`patroni.parameters["${name}"] must be no value: ${name} is not settable here (`);
    expect(() => route({ [name]: value })).toThrow(reason);
  });

  test('archive_command is refused only while backups archive WAL through it', () => {
    expect(() => route({ archive_command: '/bin/true' }, true)).toThrow('with backups on, WAL-G archives WAL through it');
    expect(route({ archive_command: '/bin/true' }, false).local).toEqual({ archive_command: '/bin/true' });
  });

  test('a misspelled name fails with the closest valid one', () => {
    expect(() => route({ shared_bufers: '1GB' })).toThrow('patroni.parameters["shared_bufers"] must be a PostgreSQL 17 parameter name (did you mean "shared_buffers"?)');
    expect(() => route({ max_conections: 10 })).toThrow('did you mean "max_connections"?');
    expect(closestName('zzzzzzzzzzzzzzzzzz')).toBeUndefined();
  });

  test('a value must be one non-empty line (it becomes a line of postgresql.conf)', () => {
    expect(() => route({ work_mem: ' ' })).toThrow('must be a non-empty value on one line');
    expect(() => route({ log_line_prefix: 'a\nb' })).toThrow('must be a non-empty value on one line');
  });
});

describe('POSTGRES_PARAMETERS', () => {
  test('parses name=value pairs; a value with commas is single-quoted as in postgresql.conf', () => {
    expect(parseParameterList('P', "work_mem=16MB, max_connections=200,search_path='\"$user\", public',log_line_prefix='%m ''x'' '"))
      .toEqual({ work_mem: '16MB', max_connections: '200', search_path: '"$user", public', log_line_prefix: "%m 'x' " });
  });

  test.each([
    ['work_mem', 'name=value pairs'],
    ['work_mem=', 'name=value pairs'],
    ["search_path='a,b", 'name=value pairs'],
    ['work_mem=1MB,work_mem=2MB', 'each parameter once'],
  ])('%s is refused', (text, valid) => {
    expect(() => parseParameterList('POSTGRES_PARAMETERS', text)).toThrow(valid);
  });

  test('fills patroni.parameters; each one lands where it takes effect in the manifests', () => {
    const s = synth(settingsFromVariables({ POSTGRES_PARAMETERS: 'work_mem=16MB,shared_buffers=512MB,max_connections=300' }));
    const dynamic = JSON.parse(s.get('ConfigMap', 'pg-ha-patroni').data['dynamic-config.json']);
    expect(dynamic.postgresql.parameters).toEqual({ password_encryption: 'scram-sha-256', wal_retrieve_retry_interval: '1s', work_mem: '16MB', max_connections: '300' });
    expect(dynamic.pg_ha_declared_parameters).toEqual(['max_connections', 'password_encryption', 'wal_retrieve_retry_interval', 'work_mem']);
    const spilo = parse(envOf(container(s.get('StatefulSet', 'pg-ha'), 'postgres')).SPILO_CONFIGURATION.value);
    expect(spilo.postgresql.parameters).toEqual({ shared_buffers: '512MB' });
  });

  test('a misspelled name stops the synth, names the variable and the closest name, and writes nothing', () => {
    const outdir = newOutdir();
    const result = runSynthCommand({ POSTGRES_PARAMETERS: 'work_mem=16MB,effective_cache_sise=4GB' }, outdir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('patroni.parameters["effective_cache_sise"] must be a PostgreSQL 17 parameter name (did you mean "effective_cache_size"?)');
    expect(result.stderr).toContain('POSTGRES_PARAMETERS');
    expect(readdirSync(outdir)).toEqual([]);
  });
});
