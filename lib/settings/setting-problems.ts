/**
 * What is wrong with the settings, said in the user's words: each problem starts with the variable
 * as it was written and where (`POSTGRES_DB at pg-ha.env:5`, `NAMESPACE from the environment`),
 * then the value and what is valid; the PgHaSettings path, for TypeScript users, comes last.
 */
import { ConfigError } from '../validation';
import { SETTINGS } from './env-table';

/** One invalid setting (or file line), ready to print. */
export interface SettingProblem {
  /** The variables it is about; empty for a line of the file that holds no variable. */
  readonly variables: readonly string[];
  /** The message, starting with the variables and where they were set. */
  readonly message: string;
}

/** Every problem of one synth, reported together. */
export class SettingsError extends Error {
  constructor(public readonly problems: readonly SettingProblem[]) {
    super(problems.map((problem) => problem.message).join('\n'));
    this.name = 'SettingsError';
  }
}

/** Where each variable's value came from: `pg-ha.env:5`, or ENVIRONMENT. */
export type VariableSources = Readonly<Record<string, string>>;

/** The source of a variable set in the environment. */
export const ENVIRONMENT = 'the environment';

/** `POSTGRES_DB at pg-ha.env:5`, `NAMESPACE from the environment`, or `SCOPE` when the source is unknown. */
export function located(variable: string, sources: VariableSources): string {
  const where = sources[variable];
  if (where === undefined) return variable;
  return where === ENVIRONMENT ? `${variable} from ${ENVIRONMENT}` : `${variable} at ${where}`;
}

/** A value as the messages show it: strings quoted, credentials in URLs hidden. */
export function showValue(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return hideUrlCredentials(text);
}

/** `https://user:token@host` -> `https://user:***@host`: a token in a Git URL is a password. */
export function hideUrlCredentials(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@"]+):[^\s/@"]+@/gi, '$1:***@');
}

/**
 * Settings paths in a message replaced by their variables (`at most postgres.resources.limits.memory`
 * -> `at most POSTGRES_MEMORY_LIMIT`). Quoted text is a value and stays; a one-word path is replaced
 * only when it is camelCase (`postgresUser`), so the words "scope" or "namespace" in a sentence stay.
 */
export function inUserWords(text: string): string {
  const byPath = new Map<string, string>(SETTINGS.map((spec) => [spec.path, spec.env]));
  return text.split(/("[^"]*")/).map((part, i) => (i % 2 === 1 ? part : part.replace(
    /(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?!\w)/g,
    (word) => (byPath.has(word) && (word.includes('.') || /[A-Z]/.test(word)) ? byPath.get(word)! : word),
  ))).join('');
}

/** What follows `prefix` in `setting` when it is a part of it (`["work_mem"]`, `[0]`, `.effect`), else undefined. */
function partAfter(setting: string, prefix: string): string | undefined {
  return setting.startsWith(prefix) && /^([[.]|$)/.test(setting.slice(prefix.length)) ? setting.slice(prefix.length) : undefined;
}

/**
 * The problem for a ConfigError of a construct or parser. `blamed` are the variables the user set
 * that it is about (none: the error names a setting the user did not write, shown as it is). An
 * error about a value inside one variable (`patroni.parameters["work_mem"]`, a parser's
 * `NODE_SELECTOR["app"]`) shows that part after the variable: `POSTGRES_PARAMETERS["work_mem"]`.
 */
export function problemOf(error: ConfigError, blamed: readonly string[], sources: VariableSources): SettingProblem {
  let isPath = false;
  const subject = blamed.length === 0 ? inUserWords(error.setting) : blamed.map((variable) => {
    const spec = SETTINGS.find((s) => s.env === variable);
    const ownPart = partAfter(error.setting, variable);
    const pathPart = spec && blamed.length === 1 ? partAfter(error.setting, spec.path) : undefined;
    isPath ||= ownPart === undefined;
    return `${variable}${ownPart ?? pathPart ?? ''}${located(variable, sources).slice(variable.length)}`;
  }).join(', ');
  const value = error.value === undefined ? '' : `${showValue(error.value)} `;
  const path = blamed.length > 0 && isPath ? ` (PgHaSettings: ${error.setting})` : '';
  return { variables: blamed, message: `${subject}: ${value}must be ${inUserWords(error.expected)}${path}` };
}
