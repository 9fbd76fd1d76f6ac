/**
 * Settings from `pg-ha.env` and the environment: variable text -> PgHaSettings.
 *
 * Like docker compose with its `.env` file, a variable set in the environment overrides the file.
 * Only the variables in SETTINGS are read; an unknown key in the file is an error (a typo would
 * otherwise be silently ignored). Passwords are never settings: they live in a Secret. A compose
 * `.env.postgres` is read as well (compose-variables.ts).
 */
import { existsSync, readFileSync } from 'fs';
import { k8s } from 'cdk8s-plus-28';
import { checkQuantity, ConfigError } from '../validation';
import { derivedVariableNotes, isPasswordVariable, knownVariables, passwordVariableError, unknownVariableError } from './compose-variables';
import { DEFAULTS } from './defaults';
import { SETTINGS, SettingSpec } from './env-table';
import { parseAnnotations, parseLabelMap, parseParameterList, parseTolerations } from './parsers';
import { PgHaSettings } from './pg-ha-settings';
import { setSetting, SettingValue } from './setting-paths';

/**
 * Reads a KEY=VALUE file (`#` comments, optional quotes). An unknown key is an error naming the
 * closest known setting; a password is refused (it would be committed); a compose variable that
 * Kubernetes derives is kept for derivedVariableNotes (compose-variables.ts).
 */
export function parseEnvFile(text: string, fileName: string): Record<string, string> {
  const known = new Set(knownVariables());
  const values: Record<string, string> = {};
  const passwords: Array<{ where: string; key: string }> = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    const where = `${fileName}:${index + 1}`;
    if (!match) {
      throw new ConfigError(where, raw, 'a KEY=VALUE line');
    }
    const [, key, rawValue] = match;
    if (!known.has(key) && isPasswordVariable(key)) {
      passwords.push({ where, key });
    } else if (!known.has(key)) {
      throw unknownVariableError(where, key);
    }
    values[key] = rawValue.replace(/^(["'])(.*)\1$/, '$2');
  });
  // After the whole file: the message's command names its NAMESPACE and SCOPE, wherever they are.
  if (passwords.length) throw passwordVariableError(passwords[0].where, passwords[0].key, values);
  return values;
}

/** Turns variables into PgHaSettings; `readFile` loads INIT_SQL_FILE-style settings. */
export function settingsFromVariables(vars: Record<string, string | undefined>, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): PgHaSettings {
  const settings: PgHaSettings = {};
  for (const spec of SETTINGS) {
    const raw = vars[spec.env];
    if (raw === undefined || raw === '') continue;
    setSetting(settings, spec.path, parse(spec, raw.trim(), readFile));
  }
  return settings;
}

/**
 * The settings for a synth: `pg-ha.env` (if present), overridden by the environment. `onNote`
 * receives one line per compose variable of the file that Kubernetes derives (ETCD3_HOSTS, ...).
 */
export function loadSettings(envFile: string, env: Record<string, string | undefined>, onNote: (line: string) => void = () => undefined): PgHaSettings {
  const fromFile = existsSync(envFile) ? parseEnvFile(readFileSync(envFile, 'utf8'), envFile) : {};
  const fromEnv = Object.fromEntries(SETTINGS.filter((spec) => env[spec.env] !== undefined).map((spec) => [spec.env, env[spec.env]]));
  const settings = settingsFromVariables({ ...fromFile, ...fromEnv });
  const cluster = {
    name: settings.scope ?? DEFAULTS.scope,
    namespace: settings.namespace ?? DEFAULTS.namespace,
    clusterDomain: settings.clusterDomain ?? DEFAULTS.clusterDomain,
  };
  derivedVariableNotes(fromFile, settings, cluster).forEach((line) => onNote(line));
  return settings;
}

/**
 * The value of `raw` for `spec`. The table ties each kind to the type at its path (KindFor), so the
 * value has that type; enumerations (`antiAffinity`, ...) are checked by the construct that reads them.
 */
function parse<P extends SettingSpec['path']>(spec: SettingSpec<P>, raw: string, readFile: (path: string) => string): SettingValue<P> {
  return parseKind(spec, raw, readFile) as SettingValue<P>;
}

function parseKind(spec: SettingSpec, raw: string, readFile: (path: string) => string): unknown {
  switch (spec.kind) {
    case 'int':
      if (!/^-?\d+$/.test(raw)) throw new ConfigError(spec.env, raw, 'a whole number');
      return Number(raw);
    case 'bool':
      if (!/^(true|false)$/i.test(raw)) throw new ConfigError(spec.env, raw, '"true" or "false"');
      return raw.toLowerCase() === 'true';
    case 'list':
      return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    case 'ports':
      return raw.split(',').map((item) => item.trim()).filter((item) => item !== '').map((item) => {
        if (!/^\d+$/.test(item)) throw new ConfigError(spec.env, raw, 'port numbers separated by commas, e.g. "443,9000"');
        return Number(item);
      });
    case 'quantity':
      return k8s.Quantity.fromString(checkQuantity(spec.env, raw));
    case 'labels':
      return parseLabelMap(spec.env, raw);
    case 'parameters':
      return parseParameterList(spec.env, raw);
    case 'annotations':
      return parseAnnotations(spec.env, raw);
    case 'tolerations':
      return parseTolerations(spec.env, raw);
    case 'file':
      try {
        return readFile(raw);
      } catch (error) {
        throw new ConfigError(spec.env, raw, `a readable file (${(error as Error).message})`);
      }
    default:
      return raw;
  }
}
