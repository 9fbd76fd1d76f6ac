/**
 * PostgreSQL parameters (POSTGRES_PARAMETERS, `patroni.parameters`): each name checked against
 * PostgreSQL 17's own list (postgresql-17-parameters.json, from `postgres --describe-config`; see
 * scripts/postgres-parameters.sh), then routed to where it takes effect:
 *
 * - Patroni's dynamic configuration in the DCS (most parameters, and the ones that must be equal on
 *   every member): the converge Job applies a change to the running cluster;
 * - Spilo's local configuration (parameters Spilo's template sets locally, which win over the DCS):
 *   SPILO_CONFIGURATION, read when the pod starts, so they change with a pod rollout;
 * - refused: parameters Patroni or Spilo own (a value given here would be ignored or break them).
 */
import { ConfigError } from '../../validation';
import PG17 from './postgresql-17-parameters.json';

/** A parameter's value as given (numbers are written as they are). */
export type ParameterValue = string | number;

/** Context (when a change takes effect) and type of a PostgreSQL 17 parameter, by its canonical name. */
export const POSTGRES_17_PARAMETERS: Readonly<Record<string, { readonly context: string; readonly type: string }>> = PG17.parameters;

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

/** Checks every name and value of `parameters` (given as `setting`) and routes each one. */
export function routeParameters(setting: string, parameters: Record<string, ParameterValue>, options: { backupsEnabled: boolean }): RoutedParameters {
  const dcs: Record<string, ParameterValue> = {};
  const local: Record<string, ParameterValue> = {};
  for (const [given, value] of Object.entries(parameters)) {
    const name = canonicalName(setting, given);
    const at = `${setting}["${given}"]`;
    checkValue(at, value);
    const owner = OWNED[name] ?? (options.backupsEnabled ? OWNED_WITH_BACKUPS[name] : undefined)
      ?? (name.startsWith('recovery_target') ? OWNED.recovery_target : undefined);
    if (owner) throw new ConfigError(at, value, `no value: ${name} is not settable here (${owner})`);
    const isLocal = SPILO_LOCAL.has(name) || SPILO_LOCAL_PREFIXES.some((prefix) => name.startsWith(prefix));
    (isLocal ? local : dcs)[name] = value;
  }
  return { dcs, local };
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
