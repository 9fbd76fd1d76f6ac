/**
 * Patroni's configuration for Spilo, in two parts:
 *
 * - the dynamic configuration (timings, synchronous mode, failsafe, PostgreSQL parameters) lives in
 *   the DCS. The chart writes it once, as JSON, to a ConfigMap: Patroni reads it at bootstrap
 *   (`bootstrap.dcs`, through an env var that refers to the ConfigMap, so a change does not touch
 *   the pod template), and the converge Job applies each later change to the running cluster;
 * - SPILO_CONFIGURATION (a template a reviewer reads like the YAML it produces): what is local to
 *   each pod (REST API authentication, the parameters Spilo sets locally). Spilo merges it into
 *   the patroni.yml it writes when the pod starts.
 */
import { stringify } from 'yaml';
import { DEFAULTS } from '../../settings/defaults';
import { PatroniSettings } from '../../settings/component-settings';
import { checkInt, ConfigError } from '../../validation';
import { ParameterValue } from './postgres-parameters';

/** PostgreSQL parameters the chart sets; `PatroniSettings.parameters` are merged over them. */
export const CHART_PARAMETERS: Record<string, ParameterValue> = {
  password_encryption: 'scram-sha-256',
  // A promoted standby looks for new WAL every second instead of every 5 (faster failover).
  wal_retrieve_retry_interval: '1s',
};

/**
 * The key of the dynamic configuration that records which parameters Git declared, so the converge
 * Job can remove from the DCS a parameter that was removed from Git (and leave alone the ones Spilo
 * put there at bootstrap: wal_level, max_wal_senders, ...). Patroni keeps keys it does not know.
 */
export const DECLARED_PARAMETERS_KEY = 'pg_ha_declared_parameters';

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

/** Patroni's dynamic configuration as Git declares it (the body of `PATCH /config`). */
export function patroniDynamicConfig(settings: PatroniSettings, dcsParameters: Record<string, ParameterValue>) {
  const { ttl, loopWait, retryTimeout, maximumLagOnFailover } = patroniTiming(settings);
  const parameters = { ...CHART_PARAMETERS, ...dcsParameters };
  return {
    ttl,
    loop_wait: loopWait,
    retry_timeout: retryTimeout,
    maximum_lag_on_failover: maximumLagOnFailover,
    synchronous_mode: settings.synchronousMode ?? DEFAULTS.patroni.synchronousMode,
    // Off: with no synchronous standby left, the leader keeps accepting writes.
    synchronous_mode_strict: false,
    failsafe_mode: settings.failsafeMode ?? DEFAULTS.patroni.failsafeMode,
    postgresql: { use_pg_rewind: true, use_slots: true, parameters },
    [DECLARED_PARAMETERS_KEY]: Object.keys(parameters).sort(),
  };
}

/** How SPILO_CONFIGURATION refers to values the pod's environment holds (Kubernetes `$(VAR)` expansion). */
export interface SpiloConfigurationRefs {
  /** Env var holding the dynamic configuration as one line of JSON (a ConfigMap key). */
  readonly dynamicConfigVar: string;
  /** The REST API user of unsafe endpoints, and the env var holding its password (a Secret key). */
  readonly restApi: { readonly username: string; readonly passwordVar: string };
  /**
   * The env vars holding the superuser's and the replication user's passwords (Secret keys), written
   * over the ones Spilo's template renders from PGPASSWORD_SUPERUSER and PGPASSWORD_STANDBY: Spilo
   * 4.0-p3 renders those with pystache's HTML escaping (`&` becomes `&amp;`, zalando/spilo#1008), so
   * Patroni would set and use another password than the Secret's.
   */
  readonly passwordVars: { readonly superuser: string; readonly replication: string };
  /**
   * The command Patroni's callbacks run instead of Spilo's `python3 /scripts/callback_role.py`
   * (on_role_change still through Spilo's on_role_change.sh, which also ANALYZEs after a promotion).
   * @default - Spilo's own callbacks
   */
  readonly roleCallback?: string;
}

/** Spilo's wrapper of the on_role_change callback, and the HUMAN_ROLE it passes (Spilo's default). */
const SPILO_ON_ROLE_CHANGE = '/scripts/on_role_change.sh zalandos';

/** One `key: value` line of YAML, indented. */
const yamlLine = (indent: string, key: string, value: ParameterValue) => `${indent}${stringify({ [key]: value }).trimEnd()}`;

/**
 * `key:` followed by the kubelet's expansion of `$(envVar)` as a YAML literal block scalar: the
 * value is the variable's text exactly as it is, whatever printable characters it holds (quotes,
 * `\`, `#`, `:`, leading or trailing spaces...), where a quoted scalar would be broken by a `"` or
 * `\` in it. The explicit indentation indicator (`|2-`) keeps leading spaces in the value, `-` drops
 * the line break. Only a line break in the value could end the block: the secrets Job refuses a
 * credential that holds one (lib/assets/create-secret.py).
 */
export function yamlEnvBlockScalar(indent: string, key: string, envVar: string): string {
  return `${indent}${key}: |2-\n${indent}  $(${envVar})`;
}

/**
 * SPILO_CONFIGURATION: the dynamic configuration at bootstrap (JSON is YAML), the REST API's
 * credentials for unsafe endpoints (GET and OPTIONS, used by probes and HAProxy, stay open), the
 * superuser's and replication user's passwords as the Secret holds them, and the local parameters.
 * No value here is a secret: `$(VAR)` is expanded by the kubelet, into block scalars.
 */
export function renderSpiloConfiguration(refs: SpiloConfigurationRefs, localParameters: Record<string, ParameterValue>): string {
  const local = Object.entries(localParameters).map(([key, value]) => yamlLine('    ', key, value)).join('\n');
  return `bootstrap:
  dcs: $(${refs.dynamicConfigVar})
restapi:
  authentication:
    username: ${refs.restApi.username}
${yamlEnvBlockScalar('    ', 'password', refs.restApi.passwordVar)}
postgresql:
${refs.roleCallback ? `  callbacks:
    on_start: ${refs.roleCallback}
    on_stop: ${refs.roleCallback}
    on_role_change: ${SPILO_ON_ROLE_CHANGE} ${refs.roleCallback}
` : ''}  authentication:
    superuser:
${yamlEnvBlockScalar('      ', 'password', refs.passwordVars.superuser)}
    replication:
${yamlEnvBlockScalar('      ', 'password', refs.passwordVars.replication)}
${local ? `  parameters:\n${local}\n` : ''}`;
}
