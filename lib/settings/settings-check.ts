/**
 * Every problem of a synth's settings in one run. The parsers and the file reader report each bad
 * value; the constructs throw at their first error, so after each one the variables it is about are
 * set aside (their defaults apply) and the chart is built again, until it builds or no variable the
 * user set is left to blame. An error that names a variable already set aside is a consequence of
 * an earlier one (BACKUPS=true without the bucket that was refused) and is not reported again.
 */
import { ConfigError, ConfigErrors } from '../validation';
import { parseVariables, SettingsInput } from './env-file';
import { variablesFor } from './env-table';
import { PgHaSettings } from './pg-ha-settings';
import { problemOf, SettingProblem } from './setting-problems';

/**
 * Every problem of `input`. `build` builds the chart (and whatever else the synth renders) from
 * settings and throws a ConfigError for a bad one; it is called once per problem found, plus one.
 */
export function findProblems(input: SettingsInput, build: (settings: PgHaSettings) => void, readFile?: (path: string) => string): SettingProblem[] {
  const parsed = parseVariables(input.values, input.sources, readFile);
  const problems: SettingProblem[] = [...input.problems, ...parsed.problems];
  const setAside = new Set(problems.flatMap((problem) => problem.variables));
  // Each round sets at least one variable aside, so there are at most as many rounds as variables.
  for (let round = 0; round <= Object.keys(input.values).length; round++) {
    const kept = Object.fromEntries(Object.entries(input.values).filter(([variable]) => !setAside.has(variable)));
    const errors = buildErrors(() => build(parseVariables(kept, input.sources, readFile).settings));
    if (errors.length === 0) break;
    // Judged against the variables set aside before this round: one build's errors are independent.
    const asideBefore = new Set(setAside);
    const given = (variable: string) => variable in input.values && !asideBefore.has(variable);
    let progress = false;
    for (const error of errors) {
      const named = variablesFor(error.setting);
      const mentioned = variablesFor(error.expected).filter((variable) => !named.includes(variable));
      const consequence = [...named, ...mentioned].some((variable) => asideBefore.has(variable));
      const blamed = named.some(given) ? named.filter(given) : mentioned.filter(given);
      if (!consequence) problems.push(problemOf(error, blamed, input.sources));
      for (const variable of [...named, ...mentioned].filter(given)) {
        progress ||= !setAside.has(variable);
        setAside.add(variable);
      }
    }
    if (!progress) break;
  }
  return problems;
}

/** The ConfigErrors `build` throws (several at once from a ConfigErrors), none when it succeeds. */
function buildErrors(build: () => void): readonly ConfigError[] {
  try {
    build();
    return [];
  } catch (error) {
    if (error instanceof ConfigErrors) return error.errors;
    if (error instanceof ConfigError) return [error];
    throw error;
  }
}
