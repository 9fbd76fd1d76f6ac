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
import { newOutdir, runSynthWith } from '../support/synth-command';

const route = (parameters: Record<string, string | number>, backupsEnabled = false) => routeParameters('patroni.parameters', parameters, { backupsEnabled });

describe('the PostgreSQL 17 parameter list (from postgres --describe-config and pg_settings)', () => {
  test('holds the parameters of the real server, with their context, unit, range and values', () => {
    expect(Object.keys(POSTGRES_17_PARAMETERS).length).toBeGreaterThan(300);
    expect(POSTGRES_17_PARAMETERS.work_mem).toEqual({ context: 'user', type: 'integer', unit: 'kB', min: 64, max: 2147483647 });
    expect(POSTGRES_17_PARAMETERS.shared_buffers.unit).toBe('8kB');
    expect(POSTGRES_17_PARAMETERS.synchronous_commit.values).toEqual(['local', 'remote_write', 'remote_apply', 'on', 'off']);
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

  test('a misspelled name and a bad value stop the synth, each named after the variable, and nothing is written', () => {
    const outdir = newOutdir();
    const result = runSynthWith('POSTGRES_PARAMETERS=work_mem=16MB,effective_cache_sise=4GB,max_connections=abc\n', {}, outdir);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^POSTGRES_PARAMETERS\["effective_cache_sise"\] at \S+:1: "effective_cache_sise" must be a PostgreSQL 17 parameter name \(did you mean "effective_cache_size"\?\)/m);
    expect(result.stderr).toMatch(/^POSTGRES_PARAMETERS\["max_connections"\] at \S+:1: "abc" must be an integer from 1 to 262143 for max_connections \(no unit\)/m);
    expect(readdirSync(outdir)).toEqual([]);
  });
});

/**
 * Values are checked as PostgreSQL parses them, against its own list: a bad value of a restart
 * parameter (max_connections, shared_buffers) would stop every member from starting after the
 * converge Job's rolling restart; a bad reload parameter is ignored with a line in the server log.
 */
describe('values: type, unit and range', () => {
  test.each([
    ['max_connections', 300], ['max_connections', '300'], ['work_mem', '16MB'], ['work_mem', '1.5MB'], ['work_mem', 65536], ['work_mem', '64 kB'],
    ['shared_buffers', '256MB'], ['shared_buffers', 16384], ['checkpoint_timeout', '15min'], ['statement_timeout', '1.5min'], ['statement_timeout', 0],
    ['log_min_duration_statement', -1], ['random_page_cost', '1.1'], ['autovacuum_vacuum_cost_delay', '2ms'], ['jit', 'off'], ['jit', 'TRUE'], ['jit', 'y'],
    ['huge_pages', 'try'], ['synchronous_commit', 'remote_apply'], ['synchronous_commit', 'true'], ['wal_compression', 'ZSTD'], ['log_line_prefix', '%m [%p] any text'],
    ['pg_stat_statements.max', 'anything: an extension\'s parameter is not in the list'],
  ])('%s=%s is accepted', (name, value) => {
    expect(() => route({ [name]: value })).not.toThrow();
  });

  test.each([
    ['max_connections', 'abc', 'an integer from 1 to 262143 for max_connections (no unit)'],
    ['max_connections', 0, 'an integer from 1 to 262143'],
    ['max_connections', '100MB', 'an integer from 1 to 262143 for max_connections (no unit)'],
    ['work_mem', '64mb', 'an integer from 64 to 2147483647 in kB for work_mem, or a number with a unit: "B", "kB", "MB", "GB", "TB" (case matters)'],
    ['work_mem', '32kB', 'an integer from 64 to 2147483647 in kB'],
    ['work_mem', '10s', 'an integer from 64 to 2147483647 in kB for work_mem, or a number with a unit: "B", "kB"'],
    ['shared_buffers', '64kB', 'an integer from 16 to 1073741823 in units of 8kB for shared_buffers'],
    ['checkpoint_timeout', '10s', 'an integer from 30 to 86400 in s for checkpoint_timeout, or a number with a unit: "us", "ms", "s", "min", "h", "d"'],
    ['checkpoint_timeout', '5 minutes', 'an integer from 30 to 86400 in s for checkpoint_timeout'],
    ['random_page_cost', -1, 'a number of at least 0 for random_page_cost (no unit)'],
    ['jit', 'nope', 'a boolean for jit: on, off, true, false, yes, no, 1 or 0'],
    ['huge_pages', 'maybe', 'one of "off", "on", "try" for huge_pages (or on, off, true, false, yes, no, 1 or 0)'],
    ['password_encryption', 'on', 'one of "md5", "scram-sha-256" for password_encryption'],
  ])('%s=%s is refused: must be %s', (name, value, valid) => {
    expect(() => route({ [name]: value })).toThrow(`patroni.parameters["${name}"] must be ${valid}`);
  });

  test('every bad parameter is reported, not only the first', () => {
    expect(() => route({ max_connections: 'abc', work_mem: '16MB', jit: 'nope' })).toThrow(
      /^patroni.parameters\["max_connections"\] must be an integer.*\npatroni.parameters\["jit"\] must be a boolean/,
    );
  });
});

describe('memory sizes that cannot fit in the container\'s memory limit', () => {
  const limit = { setting: 'postgres.resources.limits.memory', text: '1Gi', bytes: 2 ** 30 };
  const routeIn = (parameters: Record<string, string | number>) => routeParameters('patroni.parameters', parameters, { backupsEnabled: false, memoryLimit: limit });

  test('shared_buffers (with wal_buffers) at or above the limit: the server\'s shared memory alone would fill it', () => {
    expect(() => routeIn({ shared_buffers: '2GB' })).toThrow('patroni.parameters["shared_buffers"] must be below postgres.resources.limits.memory (1Gi), with wal_buffers');
    expect(() => routeIn({ shared_buffers: 131072 })).toThrow('must be below postgres.resources.limits.memory'); // 131072 x 8kB = 1GiB
    expect(() => routeIn({ shared_buffers: '1000MB', wal_buffers: '24MB' })).toThrow('patroni.parameters["shared_buffers"] must be below');
    expect(() => routeIn({ shared_buffers: '512MB', wal_buffers: '16MB' })).not.toThrow();
  });

  test('one operation\'s memory (work_mem, maintenance_work_mem, ...) at or above the limit', () => {
    expect(() => routeIn({ maintenance_work_mem: '1GB' })).toThrow('patroni.parameters["maintenance_work_mem"] must be below postgres.resources.limits.memory (1Gi): one operation may use maintenance_work_mem');
    expect(() => routeIn({ work_mem: '2GB' })).toThrow('patroni.parameters["work_mem"] must be below');
    expect(() => routeIn({ work_mem: '64MB', maintenance_work_mem: '256MB' })).not.toThrow();
  });

  test('what only might not fit is left alone: a planner hint, or work_mem times many connections', () => {
    expect(() => routeIn({ effective_cache_size: '64GB', work_mem: '512MB', max_connections: 500 })).not.toThrow();
  });

  test('the synth command: POSTGRES_PARAMETERS=shared_buffers=2GB with the default 1Gi limit, in the user\'s words', () => {
    const result = runSynthWith('POSTGRES_PARAMETERS=shared_buffers=2GB,work_mem=abc\n');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^POSTGRES_PARAMETERS\["shared_buffers"\] at \S+:1: "2GB" must be below POSTGRES_MEMORY_LIMIT \(1Gi\), with wal_buffers/m);
    expect(result.stderr).toMatch(/^POSTGRES_PARAMETERS\["work_mem"\] at \S+:1: "abc" must be an integer/m);
    // A limit that fits them: accepted.
    expect(runSynthWith('POSTGRES_PARAMETERS=shared_buffers=2GB\nPOSTGRES_MEMORY_LIMIT=8Gi\nPOSTGRES_MEMORY_REQUEST=8Gi\n').status).toBe(0);
  });
});
