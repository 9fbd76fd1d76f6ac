/**
 * Settings from `pg-ha.env` and the environment: variable text -> PgHaSettings.
 *
 * The file is read the way docker compose reads its `.env` (users copy lines from their
 * `.env.postgres` and from the docs): `#` comment lines, `export ` prefixes, values in double quotes
 * (with `\n`, `\t`, `\"`, `\\` escapes) or single quotes (literal), and after an unquoted value a
 * comment that starts at a `#` preceded by a space or tab (`POSTGRES_DB=orders # ours` is `orders`;
 * `a#b` keeps its `#`). Unlike compose, values are not interpolated (`$user` stays as written: a
 * PostgreSQL `search_path` holds one), and a value spans one line. Where compose is silent, the
 * file is stricter: a key given twice is an error naming both lines; an empty value means the
 * default and says so; a variable set in the environment overrides the file, as in compose, and says
 * so (a CI job's `NAMESPACE=default` changes every object).
 *
 * Only the variables in SETTINGS are read from the environment; an unknown key in the file is an
 * error (a typo would otherwise be silently ignored). Passwords are never settings: they live in a
 * Secret. A compose `.env.postgres` is read as well (compose-variables.ts).
 */
import { existsSync, readFileSync } from 'fs';
import { relative } from 'path';
import { k8s } from 'cdk8s-plus-28';
import { checkQuantity, ConfigError } from '../validation';
import { derivedVariableNotes, isPasswordVariable, knownVariables, passwordVariableProblem, unknownVariableProblem } from './compose-variables';
import { DEFAULTS } from './defaults';
import { SETTINGS, SettingSpec } from './env-table';
import { parseAnnotations, parseLabelMap, parseParameterList, parseTolerations } from './parsers';
import { PgHaSettings } from './pg-ha-settings';
import { setSetting, SettingValue } from './setting-paths';
import { ENVIRONMENT, hideUrlCredentials, problemOf, SettingProblem, SettingsError, VariableSources } from './setting-problems';

/** One `KEY=VALUE` line of the file, its value unquoted and without its comment. */
export interface EnvFileEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line number. */
  readonly line: number;
}

/** The lines of an env file that hold variables, and what is wrong with the others. */
export interface EnvFileContents {
  readonly entries: readonly EnvFileEntry[];
  readonly problems: readonly SettingProblem[];
}

const ASSIGNMENT = /^(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=(.*)$/;
/** Escapes a double-quoted value may hold (compose's set; any other backslash stays as written). */
const DOUBLE_QUOTED_ESCAPES: Record<string, string> = { 'n': '\n', 'r': '\r', 't': '\t', '"': '"', '\\': '\\', '$': '$' };

/**
 * The value after `KEY=` as compose reads it, or what is wrong with it. `text` is the rest of the
 * line after the `=`.
 */
export function parseEnvValue(text: string): { value: string } | { error: string } {
  const rest = text.replace(/^[ \t]+/, '');
  const quote = rest[0];
  if (quote !== '"' && quote !== "'") {
    // An unquoted value ends where a comment starts: a '#' after a space or tab (`KEY= # x` is empty).
    const comment = /(^|[ \t])#/.exec(text);
    return { value: (comment ? text.slice(0, comment.index) : text).trim() };
  }
  let value = '';
  for (let i = 1; i < rest.length; i++) {
    const char = rest[i];
    if (char === '\\' && i + 1 < rest.length) {
      const next = rest[i + 1];
      if (quote === '"' && next in DOUBLE_QUOTED_ESCAPES) value += DOUBLE_QUOTED_ESCAPES[next];
      else if (next === quote) value += quote;
      else value += char + next;
      i++;
    } else if (char === quote) {
      const after = rest.slice(i + 1);
      if (!/^[ \t]*(#.*)?$/.test(after)) return { error: `text after the closing ${quote} (${JSON.stringify(after.trim())}); only a comment ("# ...") may follow` };
      return { value };
    } else {
      value += char;
    }
  }
  return { error: `a closing ${quote} on the same line (a value spans one line)` };
}

/**
 * Reads a KEY=VALUE file. An unknown key is an error naming the closest known setting; a password
 * is refused (it would be committed); a key given twice is an error naming both lines (both are
 * left out); a compose variable that Kubernetes derives is kept for derivedVariableNotes.
 */
export function readEnvFileText(text: string, fileName: string): EnvFileContents {
  const known = new Set(knownVariables());
  const entries: EnvFileEntry[] = [];
  const problems: SettingProblem[] = [];
  const passwords: Array<{ where: string; key: string }> = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${fileName}:${index + 1}`;
    const match = ASSIGNMENT.exec(line);
    if (!match) {
      problems.push({ variables: [], message: `${where}: ${JSON.stringify(raw)} must be a KEY=VALUE line (a comment line starts with "#")` });
      return;
    }
    const [, key, rest] = match;
    if (!known.has(key) && isPasswordVariable(key)) {
      passwords.push({ where, key });
      return;
    }
    if (!known.has(key)) {
      problems.push(unknownVariableProblem(key, where));
      return;
    }
    const parsed = parseEnvValue(rest);
    if ('error' in parsed) {
      problems.push({ variables: [key], message: `${key} at ${where}: ${JSON.stringify(rest.trim())} must have ${parsed.error}` });
      return;
    }
    entries.push({ key, value: parsed.value, line: index + 1 });
  });
  const lines = new Map<string, number[]>();
  for (const entry of entries) lines.set(entry.key, [...(lines.get(entry.key) ?? []), entry.line]);
  const twice = [...lines].filter(([, at]) => at.length > 1);
  for (const [key, at] of twice) {
    problems.push({
      variables: [key],
      message: `${key} at ${at.map((n) => `${fileName}:${n}`).join(' and ')}: set ${at.length} times, must be set once `
        + '(delete all but one line; docker compose would silently use the last, which hides the mistake)',
    });
  }
  // After the whole file: the message's command names its NAMESPACE and SCOPE, wherever they are.
  const values = Object.fromEntries(entries.map((entry) => [entry.key, entry.value]));
  if (passwords.length) problems.push(passwordVariableProblem(passwords, values));
  const repeated = new Set(twice.map(([key]) => key));
  return { entries: entries.filter((entry) => !repeated.has(entry.key)), problems };
}

/** The variables of an env file (KEY -> value); throws a SettingsError naming every bad line. */
export function parseEnvFile(text: string, fileName: string): Record<string, string> {
  const { entries, problems } = readEnvFileText(text, fileName);
  if (problems.length) throw new SettingsError(problems);
  return Object.fromEntries(entries.map((entry) => [entry.key, entry.value]));
}

/** What a synth reads: pg-ha.env and the environment, merged, with where each value came from. */
export interface SettingsInput {
  /** Each setting variable with a value: the file's, overridden by the environment's. Empty values are left out (the default applies). */
  readonly values: Readonly<Record<string, string>>;
  /** Where each of `values` came from (`pg-ha.env:5`, or ENVIRONMENT). */
  readonly sources: VariableSources;
  /** The file's variables as written (compose variables Kubernetes derives included). */
  readonly fileValues: Readonly<Record<string, string>>;
  /** One line per empty value and per variable the environment sets, for stderr. */
  readonly notes: readonly string[];
  /** What is wrong with the file's lines. */
  readonly problems: readonly SettingProblem[];
}

/**
 * Reads `envFile` (if present; shown as `fileName`) and the environment's setting variables. The
 * environment wins, as in compose, with a note naming both values; an empty value means the
 * default, with a note naming it.
 */
export function readSettingsInput(envFile: string, env: Record<string, string | undefined>, fileName = shownPath(envFile)): SettingsInput {
  const file = existsSync(envFile) ? readEnvFileText(readFileSync(envFile, 'utf8'), fileName) : { entries: [], problems: [] };
  const fileValues = Object.fromEntries(file.entries.map((entry) => [entry.key, entry.value]));
  const values: Record<string, string> = { ...fileValues };
  const sources: Record<string, string> = Object.fromEntries(file.entries.map((entry) => [entry.key, `${fileName}:${entry.line}`]));
  const notes: string[] = [];
  for (const spec of SETTINGS) {
    const fromEnv = env[spec.env];
    const inFile = sources[spec.env];
    const fileValue = fileValues[spec.env];
    if (fromEnv !== undefined) {
      const overrides = inFile ? `, which overrides ${inFile} (${spec.env}=${show(fileValue)})` : ` (${fileName} does not set it)`;
      notes.push(fromEnv.trim() === ''
        ? `note: ${spec.env} is empty in ${ENVIRONMENT}${overrides}: the default applies: ${spec.default}`
        : `note: ${spec.env}=${show(fromEnv)} from ${ENVIRONMENT}${overrides}`);
      values[spec.env] = fromEnv;
      sources[spec.env] = ENVIRONMENT;
    } else if (inFile && fileValue === '') {
      notes.push(`note: ${spec.env} is empty at ${inFile}: the default applies: ${spec.default} (give a value, or delete the line)`);
    }
  }
  for (const [key, value] of Object.entries(values)) {
    if (value.trim() === '') {
      delete values[key];
      delete sources[key];
    }
  }
  return { values, sources, fileValues, notes, problems: file.problems };
}

/** A path as the messages show it: relative to the working directory when inside it. */
export function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

/** A value in a note: as written, a credential in a URL hidden. */
const show = (value: string) => hideUrlCredentials(value);

/** The settings `values` make, and a problem for each value that does not parse (that variable is left out). */
export function parseVariables(
  values: Readonly<Record<string, string | undefined>>,
  sources: VariableSources = {},
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): { settings: PgHaSettings; problems: SettingProblem[] } {
  const settings: PgHaSettings = {};
  const problems: SettingProblem[] = [];
  for (const spec of SETTINGS) {
    const raw = values[spec.env];
    if (raw === undefined || raw.trim() === '') continue;
    try {
      setSetting(settings, spec.path, parse(spec, raw.trim(), readFile));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(problemOf(error, [spec.env], sources));
    }
  }
  return { settings, problems };
}

/**
 * Turns variables into PgHaSettings; `readFile` loads INIT_SQL_FILE-style settings. Throws the
 * ConfigError of the first value that does not parse (the synth command reports them all).
 */
export function settingsFromVariables(vars: Record<string, string | undefined>, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): PgHaSettings {
  const settings: PgHaSettings = {};
  for (const spec of SETTINGS) {
    const raw = vars[spec.env];
    if (raw === undefined || raw.trim() === '') continue;
    setSetting(settings, spec.path, parse(spec, raw.trim(), readFile));
  }
  return settings;
}

/** The notes about the file's compose variables that Kubernetes derives (ETCD3_HOSTS, ...). */
export function derivedNotes(input: SettingsInput, settings: PgHaSettings): string[] {
  const cluster = {
    name: settings.scope ?? DEFAULTS.scope,
    namespace: settings.namespace ?? DEFAULTS.namespace,
    clusterDomain: settings.clusterDomain ?? DEFAULTS.clusterDomain,
  };
  return derivedVariableNotes(input.fileValues, settings, cluster);
}

/**
 * The settings for a synth: `pg-ha.env` (if present), overridden by the environment. `onNote`
 * receives the notes (empty values, the environment's variables, the compose variables Kubernetes
 * derives). Throws a SettingsError naming every bad line and value.
 */
export function loadSettings(envFile: string, env: Record<string, string | undefined>, onNote: (line: string) => void = () => undefined): PgHaSettings {
  const input = readSettingsInput(envFile, env);
  const { settings, problems } = parseVariables(input.values, input.sources);
  if (input.problems.length || problems.length) throw new SettingsError([...input.problems, ...problems]);
  [...input.notes, ...derivedNotes(input, settings)].forEach((line) => onNote(line));
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
    case 'annotations':
      return parseAnnotations(spec.env, raw);
    case 'parameters':
      return parseParameterList(spec.env, raw);
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
