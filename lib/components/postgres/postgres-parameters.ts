/**
 * PostgreSQL parameters (POSTGRES_PARAMETERS, `patroni.parameters`): each name and value checked
 * against PostgreSQL 17's own list (postgresql-17-parameters.json: context, type, unit, range and
 * enum values, from `postgres --describe-config` and pg_settings; see scripts/postgres-parameters.sh)
 * as PostgreSQL parses them (a bad value of a restart parameter stops the server from starting), and
 * memory sizes against the container's memory limit (only what certainly cannot fit: see
 * checkFitsMemory), then routed to where it takes effect:
 *
 * - Patroni's dynamic configuration in the DCS (most parameters, and the ones that must be equal on
 *   every member): the converge Job applies a change to the running cluster;
 * - Spilo's local configuration (parameters Spilo's template sets locally, which win over the DCS):
 *   SPILO_CONFIGURATION, read when the pod starts, so they change with a pod rollout;
 * - refused: parameters Patroni or Spilo own (a value given here would be ignored or break them).
 */
import { checkEach, ConfigError, configErrorsOf, throwAll } from '../../validation';
import PG17 from './postgresql-17-parameters.json';

/** A parameter's value as given (numbers are written as they are). */
export type ParameterValue = string | number;

/** What PostgreSQL 17 says of a parameter (pg_settings' columns). */
export interface ParameterSpec {
  /** When a change takes effect: `postmaster` (restart), `sighup` (reload), `user`, ... */
  readonly context: string;
  readonly type: string;
  /** The unit of a number without one: `kB`, `8kB`, `MB`, `ms`, `s`, `min`, ... */
  readonly unit?: string;
  /** The range, in `unit`, of an integer or real parameter. */
  readonly min?: number;
  readonly max?: number;
  /** The values of an enum parameter. */
  readonly values?: readonly string[];
}

/** Context, type, unit, range and values of each PostgreSQL 17 parameter, by its canonical name. */
export const POSTGRES_17_PARAMETERS: Readonly<Record<string, ParameterSpec>> = PG17.parameters;

/**
 * Must be equal on every member; a replica cannot run with a lower value than its primary, so a
 * decrease restarts the primary first (Patroni passes them on the command line from the DCS).
 */
export const MUST_MATCH_PARAMETERS = ['max_connections', 'max_locks_per_transaction', 'max_prepared_transactions', 'max_wal_senders', 'max_worker_processes'] as const;

/** Owned by Patroni or Spilo: the reason a value given here is refused. */
const OWNED: Record<string, string> = {
  listen_addresses: 'Patroni sets it from its listen address',
  port: 'Patroni sets it from its listen address (the Services and probes use 5432)',
  hot_standby: 'Patroni needs replicas to serve reads',
  wal_level: 'Spilo sets it for streaming replication (and Patroni checks it)',
  wal_log_hints: 'pg_rewind needs it after a failover (use_pg_rewind)',
  archive_mode: 'Spilo sets it (on), the backups settings decide what archiving does',
  cluster_name: 'Patroni sets it to the member name',
  synchronous_standby_names: 'Patroni manages it in synchronous mode (SYNCHRONOUS_MODE)',
  primary_conninfo: 'Patroni writes the replication connection',
  primary_slot_name: 'Patroni manages replication slots',
  restore_command: 'Patroni and Spilo write the recovery configuration (backups settings)',
  recovery_target: 'Patroni and Spilo write the recovery configuration (backups settings)',
  data_directory: 'Spilo sets the data directory on the volume',
  config_file: 'Patroni writes postgresql.conf',
  hba_file: 'Patroni writes pg_hba.conf',
  ident_file: 'Patroni writes pg_ident.conf',
  unix_socket_directories: 'Patroni and Spilo connect through the socket directory they set',
  external_pid_file: 'Patroni supervises the postmaster itself',
  ssl: 'Spilo turns TLS on with its certificate (POSTGRES_TLS_* settings)',
  ssl_cert_file: 'set by the TLS settings (POSTGRES_TLS_*)',
  ssl_key_file: 'set by the TLS settings (POSTGRES_TLS_*)',
  ssl_ca_file: 'set by the TLS settings (POSTGRES_TLS_*)',
  ssl_crl_file: 'Spilo sets it from SSL_CRL_FILE',
};
/** Owned while backups are on (WAL-G ships WAL through Spilo's archive_command). */
const OWNED_WITH_BACKUPS: Record<string, string> = {
  archive_command: 'with backups on, WAL-G archives WAL through it (BACKUPS_ENABLED)',
  archive_timeout: 'with backups on, Spilo sets it for WAL-G (BACKUPS_ENABLED)',
};
/** Set by Spilo's template in the local configuration, which wins over the DCS. */
const SPILO_LOCAL = new Set([
  'shared_buffers', 'shared_preload_libraries', 'archive_command', 'logging_collector', 'log_destination', 'log_directory',
  'log_filename', 'log_file_mode', 'log_rotation_age', 'log_truncate_on_rotation', 'pg_stat_statements.track_utility',
]);
/** Extension parameter prefixes Spilo sets locally. */
const SPILO_LOCAL_PREFIXES = ['bg_mon.', 'extwlist.'];

/** Where the parameters go. */
export interface RoutedParameters {
  /** Into Patroni's dynamic configuration (DCS). */
  readonly dcs: Record<string, ParameterValue>;
  /** Into Spilo's local configuration (SPILO_CONFIGURATION's `postgresql.parameters`). */
  readonly local: Record<string, ParameterValue>;
}

const byLowerCase = new Map(Object.keys(POSTGRES_17_PARAMETERS).map((name) => [name.toLowerCase(), name]));
/** An extension's parameter (`pg_stat_statements.max`): not in PostgreSQL's list, so only its form is checked. */
const CUSTOM_NAME = /^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)+$/i;

/** The memory the PostgreSQL container may use (its limit), as given and in bytes. */
export interface MemoryLimit {
  /** The setting it comes from, for messages (`postgres.resources.limits.memory`). */
  readonly setting: string;
  readonly text: string;
  readonly bytes: number;
}

/**
 * Checks every name and value of `parameters` (given as `setting`) and routes each one; every bad
 * parameter is reported (thrown together). With `memoryLimit`, memory sizes that cannot fit in it
 * are refused.
 */
export function routeParameters(setting: string, parameters: Record<string, ParameterValue>, options: { backupsEnabled: boolean; memoryLimit?: MemoryLimit }): RoutedParameters {
  const dcs: Record<string, ParameterValue> = {};
  const local: Record<string, ParameterValue> = {};
  const named: Array<{ name: string; value: ParameterValue; bytes?: number; at: string }> = [];
  // Every parameter is checked, and the sizes of those that parse against the memory limit: all errors at once.
  const errors = Object.entries(parameters).flatMap(([given, value]) => configErrorsOf(() => {
    const name = canonicalName(setting, given);
    const at = `${setting}["${given}"]`;
    checkValue(at, value);
    const owner = OWNED[name] ?? (options.backupsEnabled ? OWNED_WITH_BACKUPS[name] : undefined)
      ?? (name.startsWith('recovery_target') ? OWNED.recovery_target : undefined);
    if (owner) throw new ConfigError(at, value, `no value: ${name} is not settable here (${owner})`);
    const spec = POSTGRES_17_PARAMETERS[name];
    const parsed = spec ? checkTypedValue(at, name, spec, value) : undefined;
    named.push({ name, value, bytes: parsed !== undefined && spec?.unit && MEMORY_UNIT_BYTES[spec.unit] !== undefined ? parsed * MEMORY_UNIT_BYTES[spec.unit] : undefined, at });
  }));
  if (options.memoryLimit) errors.push(...configErrorsOf(() => checkFitsMemory(named, options.memoryLimit!)));
  throwAll(errors);
  for (const { name, value } of named) {
    const isLocal = SPILO_LOCAL.has(name) || SPILO_LOCAL_PREFIXES.some((prefix) => name.startsWith(prefix));
    (isLocal ? local : dcs)[name] = value;
  }
  return { dcs, local };
}

/** Bytes of each memory unit PostgreSQL accepts in a value (case matters: "mb" is refused), and of the units pg_settings counts in. */
const MEMORY_UNIT_BYTES: Readonly<Record<string, number>> = { 'B': 1, 'kB': 1024, '8kB': 8192, 'MB': 1024 ** 2, '16MB': 16 * 1024 ** 2, 'GB': 1024 ** 3, 'TB': 1024 ** 4 };
const MEMORY_UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];
/** Milliseconds of each time unit PostgreSQL accepts. */
const TIME_UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const TIME_UNITS = Object.keys(TIME_UNIT_MS);
/** A boolean as PostgreSQL reads it (parse_bool): on/off, true/false, yes/no, 1/0 and unique prefixes, any case. */
const BOOLEAN = /^(t|tr|tru|true|f|fa|fal|fals|false|y|ye|yes|n|no|on|of|off|1|0)$/i;
const BOOLEAN_TEXT = 'on, off, true, false, yes, no, 1 or 0';
/** A number as PostgreSQL reads one (decimal, fractional, exponent, or hexadecimal), then an optional unit. */
const NUMBER_WITH_UNIT = /^\s*([+-]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))\s*([A-Za-z]*)\s*$/;

/**
 * The value as PostgreSQL parses it for `spec`: a boolean, one of an enum's values, or a number
 * with an accepted unit inside the range (returned in `spec.unit`, rounded for an integer, as the
 * server rounds it). A string parameter takes any value.
 */
function checkTypedValue(at: string, name: string, spec: ParameterSpec, value: ParameterValue): number | undefined {
  const text = String(value).trim();
  switch (spec.type) {
    case 'boolean':
      if (!BOOLEAN.test(text)) throw new ConfigError(at, value, `a boolean for ${name}: ${BOOLEAN_TEXT}`);
      return undefined;
    case 'enum': {
      const values = spec.values ?? [];
      // PostgreSQL also takes the boolean spellings for the enums that have "on" and "off" (synchronous_commit=true).
      const booleanToo = values.includes('on') && values.includes('off');
      if (!values.some((v) => v.toLowerCase() === text.toLowerCase()) && !(booleanToo && BOOLEAN.test(text))) {
        throw new ConfigError(at, value, `one of ${values.map((v) => JSON.stringify(v)).join(', ')} for ${name}${booleanToo ? ` (or ${BOOLEAN_TEXT})` : ''}`);
      }
      return undefined;
    }
    case 'integer':
    case 'real':
      return checkNumber(at, name, spec, value, text);
    default:
      return undefined;
  }
}

/** A number parameter's value in `spec.unit`, checked as PostgreSQL checks it (units, range). */
function checkNumber(at: string, name: string, spec: ParameterSpec, value: ParameterValue, text: string): number {
  const match = NUMBER_WITH_UNIT.exec(text);
  const isMemory = spec.unit !== undefined && MEMORY_UNIT_BYTES[spec.unit] !== undefined;
  const units = spec.unit === undefined ? [] : isMemory ? MEMORY_UNITS : TIME_UNITS;
  const valid = validNumber(name, spec, units);
  if (!match) throw new ConfigError(at, value, valid);
  const [, digits, unit] = match;
  const number = /^[+-]?0[xX]/.test(digits) ? parseInt(digits, 16) : Number(digits);
  if (unit !== '' && !units.includes(unit)) throw new ConfigError(at, value, valid);
  const table = isMemory ? MEMORY_UNIT_BYTES : TIME_UNIT_MS;
  const inUnit = unit === '' ? number : number * table[unit] / table[spec.unit!];
  const result = spec.type === 'integer' ? Math.round(inUnit) : inUnit;
  if (!Number.isFinite(result) || (spec.min !== undefined && result < spec.min) || (spec.max !== undefined && result > spec.max)) {
    throw new ConfigError(at, value, valid);
  }
  return result;
}

/** What a number parameter takes, in words: the unit, the units accepted, the range. */
function validNumber(name: string, spec: ParameterSpec, units: readonly string[]): string {
  const kind = spec.type === 'integer' ? 'an integer' : 'a number';
  const range = spec.min === undefined || spec.max === undefined ? ''
    : spec.max > 1e300 ? ` of at least ${spec.min}` : ` from ${spec.min} to ${spec.max}`;
  if (spec.unit === undefined) return `${kind}${range} for ${name} (no unit)`;
  const inUnit = /^\d/.test(spec.unit) ? `in units of ${spec.unit}` : `in ${spec.unit}`;
  return `${kind}${range} ${inUnit} for ${name}, or a number with a unit: ${units.map((u) => JSON.stringify(u)).join(', ')} (case matters)`;
}

/** Parameters one backend may use up to for one operation (a sort, a hash, an index build, VACUUM). */
const PER_OPERATION_MEMORY = ['work_mem', 'maintenance_work_mem', 'autovacuum_work_mem', 'logical_decoding_work_mem', 'temp_buffers'];

/**
 * Refuses memory sizes that certainly cannot fit in the container's memory limit (the kernel would
 * kill PostgreSQL, and Patroni fail over, once they are reached): shared memory (shared_buffers +
 * wal_buffers) at or above the limit, and a single operation's memory (work_mem, ...) at or above
 * it. Sizes that fit only with luck (work_mem times max_connections) are left to the user.
 */
function checkFitsMemory(parameters: ReadonlyArray<{ name: string; value: ParameterValue; bytes?: number; at: string }>, limit: MemoryLimit): void {
  const bytes = (name: string) => parameters.find((p) => p.name === name)?.bytes;
  const shared = (bytes('shared_buffers') ?? 0) + Math.max(bytes('wal_buffers') ?? 0, 0);
  checkEach(parameters, ({ name, value, bytes: size, at }) => {
    if (size === undefined || size <= 0) return;
    if ((name === 'shared_buffers' || name === 'wal_buffers') && shared >= limit.bytes) {
      throw new ConfigError(at, value, `below ${limit.setting} (${limit.text}), with wal_buffers: the two are the server's shared memory, allocated once, `
        + 'and would fill the container\'s memory before any connection (Spilo\'s own shared_buffers is a fifth of the limit)');
    }
    if (PER_OPERATION_MEMORY.includes(name) && size >= limit.bytes) {
      throw new ConfigError(at, value, `below ${limit.setting} (${limit.text}): one operation may use ${name}, more than the container may hold`);
    }
  });
}

/** The name as PostgreSQL spells it; a misspelled name fails with the closest valid one. */
function canonicalName(setting: string, given: string): string {
  const known = byLowerCase.get(given.toLowerCase());
  if (known) return known;
  if (given.includes('.') && CUSTOM_NAME.test(given)) return given;
  const closest = closestName(given);
  throw new ConfigError(`${setting}["${given}"]`, given,
    `a PostgreSQL 17 parameter name${closest ? ` (did you mean "${closest}"?)` : ''}, or an extension's "prefix.name"`);
}

/** Values end up in postgresql.conf through Patroni: one line, not empty. */
function checkValue(at: string, value: ParameterValue): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ConfigError(at, value, 'a finite number or a string');
    return;
  }
  if (value.trim() === '' || /[\r\n\0]/.test(value)) throw new ConfigError(at, JSON.stringify(value), 'a non-empty value on one line');
}

/** The known parameter closest to `name` (edit distance), if any is close enough to be a typo. */
export function closestName(name: string): string | undefined {
  const lower = name.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const [candidateLower, candidate] of byLowerCase) {
    const distance = editDistance(lower, candidateLower);
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(lower.length / 3)) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
