/**
 * The command line (main.ts): read the settings, say what they change, write dist/ and the optional
 * Argo CD Application, and say in one line what was written. Both are replaced only when everything
 * succeeded; invalid settings are all reported, in the user's words, and leave them untouched.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { basename, dirname, join, resolve } from 'path';
import { ApiObject, App, YamlOutputType } from 'cdk8s';
import { RenderedApplication } from './gitops/argocd-application';
import { derivedNotes, parseVariables, readSettingsInput, shownPath } from './settings/env-file';
import { featuresOn } from './settings/optional-features';
import { PgHaSettings } from './settings/pg-ha-settings';
import { findProblems } from './settings/settings-check';
import { ConfigError } from './validation';

/** What the synth wrote: its files and the kind of each object in them. */
export interface SynthOutput {
  readonly files: readonly string[];
  readonly kinds: readonly string[];
}

/** Synthesizes into a temporary directory and swaps it into place only when `build` and the synth succeeded. */
export function synthAtomically(outdir: string, build: (app: App) => void): SynthOutput {
  const target = resolve(outdir);
  const staging = mkdtempSync(join(dirname(target), `.${basename(target)}.staging-`));
  try {
    const app = new App({ outdir: staging, yamlOutputType: YamlOutputType.FILE_PER_CHART });
    build(app);
    app.synth();
    const files = app.charts.map((chart) => join(target, `${chart.node.id}.k8s.yaml`));
    const kinds = app.charts.flatMap((chart) => chart.node.findAll().filter(ApiObject.isApiObject).map((object) => object.kind));
    rmSync(target, { recursive: true, force: true });
    chmodSync(staging, 0o755);
    renameSync(staging, target);
    return { files, kinds };
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

/** Writes `rendered` through a temporary file and a rename, so a reader never sees half a file. */
export function writeApplication(rendered: RenderedApplication): void {
  mkdirSync(dirname(rendered.file), { recursive: true });
  const staging = `${rendered.file}.tmp-${process.pid}`;
  writeFileSync(staging, rendered.yaml, { mode: 0o644 });
  renameSync(staging, rendered.file);
}

/** One synth run of the command line. */
export interface SynthRun {
  /** The command line's arguments (`--settings FILE`). */
  readonly args: readonly string[];
  /** The settings file read without `--settings` (pg-ha.env; it may be absent). */
  readonly defaultEnvFile: string;
  /** The environment: a setting variable in it overrides the file. */
  readonly env: Record<string, string | undefined>;
  /** The synth output directory (dist/). */
  readonly outdir: string;
  /**
   * Builds the chart from `settings` into `app` and renders the Argo CD Application (returned, not
   * written); throws a ConfigError for a bad setting.
   */
  readonly build: (app: App, settings: PgHaSettings) => RenderedApplication | undefined;
  /** Writes a line to stderr (notes and problems). */
  readonly stderr: (line: string) => void;
  /** Writes a line to stdout (the summary). */
  readonly stdout: (line: string) => void;
}

const PROGRAM = 'pg-ha-cdk8s';

/**
 * Runs the synth: notes first, then dist/ and the Application, and one summary line; or every
 * problem, one per line, each starting with the variable and where it was set. Returns the exit code.
 */
export function runSynth(run: SynthRun): number {
  const { outdir } = run;
  let envFile: string;
  try {
    envFile = envFileFrom(run.args, run.defaultEnvFile);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    run.stderr(`${PROGRAM}: ${error.message}`);
    return 2;
  }
  const input = readSettingsInput(envFile, run.env);
  const parsed = parseVariables(input.values, input.sources);
  [...input.notes, ...derivedNotes(input, parsed.settings)].forEach((note) => run.stderr(`${PROGRAM}: ${note}`));
  let firstError: ConfigError | undefined;
  if (input.problems.length === 0 && parsed.problems.length === 0) {
    let application: RenderedApplication | undefined;
    try {
      const output = synthAtomically(outdir, (app) => { application = run.build(app, parsed.settings); });
      if (application) writeApplication(application);
      run.stdout(summaryLine(output, application, parsed.settings));
      return 0;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      firstError = error;
    }
  }
  const problems = findProblems(input, (settings) => {
    // Built to be checked, never synthesized: nothing is written.
    const app = new App({ outdir: tmpdir() });
    run.build(app, settings);
    app.charts.forEach((chart) => chart.toJson());
  });
  const messages = problems.length ? problems.map((problem) => problem.message) : [firstError!.message];
  messages.forEach((message) => run.stderr(message));
  const count = messages.length === 1 ? 'an invalid setting' : `${messages.length} invalid settings`;
  run.stderr(`${PROGRAM}: ${count}: nothing was written; ${outdir} is unchanged.`);
  return 1;
}

/**
 * The one line a successful synth prints: the files written, their objects by kind, and the
 * optional features that are on.
 */
export function summaryLine(output: SynthOutput, application: RenderedApplication | undefined, settings: PgHaSettings): string {
  const counts = new Map<string, number>();
  for (const kind of output.kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  const byKind = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([kind, n]) => `${n} ${kind}`).join(', ');
  const files = output.files.map(shownPath).join(', ');
  const also = application ? ` and ${shownPath(application.file)} (the Argo CD Application)` : '';
  const features = featuresOn(settings);
  return `${PROGRAM}: wrote ${files}: ${output.kinds.length} objects (${byKind})${also}; features on: ${features.length ? features.join(', ') : 'none'}`;
}

/**
 * The settings file the command line names (`--settings FILE` or `--settings=FILE`; compose's
 * `--env-file` would be read by Node 20 itself, which loads that file into the environment), or
 * `defaultFile`. Another argument, or a named file that does not exist, is an error.
 */
export function envFileFrom(args: readonly string[], defaultFile: string): string {
  let named: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--settings' && i + 1 < args.length) named = args[++i];
    else if (args[i].startsWith('--settings=')) named = args[i].slice('--settings='.length);
    else throw new UsageError(`unknown argument ${JSON.stringify(args[i])}; usage: npm run synth [-- --settings FILE]`);
  }
  if (named === undefined) return defaultFile;
  if (!existsSync(named)) throw new UsageError(`--settings ${named}: no such file`);
  return resolve(named);
}

/** A command line the program does not understand. */
export class UsageError extends Error {}
