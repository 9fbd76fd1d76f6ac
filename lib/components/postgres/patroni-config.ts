/**
 * Patroni's configuration for Spilo (SPILO_CONFIGURATION), as a template a reviewer reads like the
 * YAML it produces. Spilo merges it into the patroni.yml it writes; `bootstrap.dcs` is applied
 * once, when the cluster is first created (later: `patronictl edit-config`).
 */
import { stringify } from 'yaml';
import { DEFAULTS } from '../../settings/defaults';
import { PatroniSettings } from '../../settings/component-settings';
import { checkInt, ConfigError } from '../../validation';

/** PostgreSQL parameters the chart sets; `PatroniSettings.parameters` are merged over them. */
const CHART_PARAMETERS: Record<string, string | number> = {
  password_encryption: 'scram-sha-256',
  // A promoted standby looks for new WAL every second instead of every 5 (faster failover).
  wal_retrieve_retry_interval: '1s',
};

/** The timing settings, validated against Patroni's own rules. */
function patroniTiming(settings: PatroniSettings) {
  const ttl = checkInt('patroni.ttl', settings.ttl ?? DEFAULTS.patroni.ttl, 20, 3600);
  const loopWait = checkInt('patroni.loopWait', settings.loopWait ?? DEFAULTS.patroni.loopWait, 1, 3600);
  const retryTimeout = checkInt('patroni.retryTimeout', settings.retryTimeout ?? DEFAULTS.patroni.retryTimeout, 3, 3600);
  if (loopWait + 2 * retryTimeout > ttl) {
    throw new ConfigError(
      'patroni.loopWait + 2 * patroni.retryTimeout',
      `${loopWait} + 2 * ${retryTimeout} = ${loopWait + 2 * retryTimeout}`,
      `<= patroni.ttl (${ttl}); otherwise Patroni silently lowers loop_wait, then retry_timeout`,
    );
  }
  const maximumLagOnFailover = checkInt('patroni.maximumLagOnFailover', settings.maximumLagOnFailover ?? DEFAULTS.patroni.maximumLagOnFailover, 0, Number.MAX_SAFE_INTEGER);
  return { ttl, loopWait, retryTimeout, maximumLagOnFailover };
}

/** One `key: value` line of YAML, indented. */
const yamlLine = (indent: string, key: string, value: string | number) => `${indent}${stringify({ [key]: value }).trimEnd()}`;

/** SPILO_CONFIGURATION for `settings`. */
export function renderPatroniConfig(settings: PatroniSettings): string {
  const { ttl, loopWait, retryTimeout, maximumLagOnFailover } = patroniTiming(settings);
  const parameters = Object.entries({ ...CHART_PARAMETERS, ...settings.parameters })
    .map(([key, value]) => yamlLine('        ', key, value))
    .join('\n');
  // synchronous_mode_strict stays off: with no synchronous standby left, the leader keeps accepting writes.
  return `bootstrap:
  dcs:
    ttl: ${ttl}
    loop_wait: ${loopWait}
    retry_timeout: ${retryTimeout}
    maximum_lag_on_failover: ${maximumLagOnFailover}
    synchronous_mode: ${settings.synchronousMode ?? DEFAULTS.patroni.synchronousMode}
    synchronous_mode_strict: false
    failsafe_mode: ${settings.failsafeMode ?? DEFAULTS.patroni.failsafeMode}
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
${parameters}
`;
}
