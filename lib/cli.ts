/**
/**
 * The command line (main.ts): read the settings and the deployed state, say what they change, write
 * dist/ and the optional Argo CD Application, and say in one line what was written. The deployed
 * state is read from the committed synth output, whichever command runs the synth. Both outputs are
 * replaced only when everything succeeded; invalid settings are all reported, in the user's words,
 * and leave them untouched.
 */
import { spawnSync } from 'child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { basename, dirname, join, relative, resolve, sep } from 'path';
import { ApiObject, App, YamlOutputType } from 'cdk8s';
import { RenderedApplication } from './gitops/argocd-application';
import { DeployedManifests } from './k8s/claim-templates';
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

const MANIFEST_FILE = /\.ya?ml$/;

/** The previous synth output: what running clusters were applied from. */
export interface PreviousOutput {
  /** Where it was read from, for stderr: `git HEAD 1a2b3c4:dist/`, `the files in /tmp/x/ (not committed in git)`. */
  readonly source: string;
  /** Its manifest files, name -> text (none for a new cluster). */
  readonly files: Record<string, string>;
  /** The commit it was read from, when git holds it. */
  readonly commit?: string;
}

/**
 * The previous output of `outdir`, from a place every way of running the synth keeps: as git's HEAD
 * commit holds it when `outdir` is committed there (`cdk8s synth` empties `outdir` before the app
 * runs, `npm run synth` does not; both leave the commit alone, and a commit is what Argo CD deploys),
 * otherwise the files in `outdir` (not in a git repository, no commit yet, or not committed).
 */
export function readPreviousOutput(outdir: string): PreviousOutput {
  const dir = resolve(outdir);
  const committed = committedOutput(dir);
  if (committed) return committed;
  const names = existsSync(dir) ? readdirSync(dir).filter((f) => MANIFEST_FILE.test(f)).sort() : [];
  const files = Object.fromEntries(names.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
  return { source: names.length ? `the files in ${shownPath(dir)}/ (not committed in git)` : `none (${shownPath(dir)}/ is neither committed in git nor has files): a new cluster`, files };
}

/** `outdir` as the HEAD commit of its git repository holds it; undefined when git does not hold it there. */
function committedOutput(dir: string): PreviousOutput | undefined {
  // cdk8s synth removed `dir` itself: git runs in its nearest existing parent.
  let existing = dir;
  while (!existsSync(existing)) existing = dirname(existing);
  const git = (args: string[], cwd = existing) => {
    const r = spawnSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    return r.status === 0 ? r.stdout : undefined;
  };
  const top = git(['rev-parse', '--show-toplevel'])?.trim();
  const commit = top === undefined ? undefined : git(['rev-parse', '--short', 'HEAD'], top)?.trim();
  if (top === undefined || commit === undefined) return undefined;
  const path = relative(realpathSync(top), join(realpathSync(existing), relative(existing, dir))).split(sep).join('/');
  if (path === '' || path.startsWith('..')) return undefined;
  const names = git(['ls-tree', '-z', '--name-only', `HEAD:${path}`], top)?.split('\0').filter((f) => MANIFEST_FILE.test(f)).sort();
  if (!names?.length) return undefined;
  const texts = names.map((f) => git(['show', `HEAD:${path}/${f}`], top));
  if (texts.some((t) => t === undefined)) return undefined;
  const files = Object.fromEntries(names.map((f, i) => [f, texts[i]!]));
  return { source: `git HEAD ${commit}:${path}/`, files, commit };
}

/**
 * Puts `previous` back into `outdir` when `outdir` is gone (cdk8s synth removes it before the app
 * runs) and git holds it: a refused synth leaves the committed output as it was. Returns whether it did.
 */
export function restorePreviousOutput(outdir: string, previous: PreviousOutput): boolean {
  if (existsSync(outdir) || previous.commit === undefined) return false;
  mkdirSync(outdir, { recursive: true });
  for (const [name, text] of Object.entries(previous.files)) writeFileSync(join(outdir, name), text, { mode: 0o644 });
  return true;
}

/** Synthesizes into a temporary directory and swaps it into place only when `build` and the synth succeeded. */
export function synthAtomically(outdir: string, build: (app: App) => void): SynthOutput {
  const target = resolve(outdir);
  mkdirSync(dirname(target), { recursive: true });
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
   * Builds the chart from `settings` over the `deployed` objects (the previous output: their
   * immutable fields stay) into `app` and renders the Argo CD Application (returned, not written);
   * throws a ConfigError for a bad setting.
   */
  readonly build: (app: App, settings: PgHaSettings, deployed: DeployedManifests) => RenderedApplication | undefined;
  /** Writes a line to stderr (notes and problems). */
  readonly stderr: (line: string) => void;
  /** Writes a line to stdout (the summary). */
  readonly stdout: (line: string) => void;
}

const PROGRAM = 'pg-ha-cdk8s';

/**
 * Runs the synth over the deployed state (readPreviousOutput, read before anything is written):
 * notes first, then dist/ and the Application, and one summary line; or where the deployed state was
 * read from and every problem, one per line, each starting with the variable and where it was set.
 * When the synth does not succeed and `cdk8s synth` had removed dist/, dist/ is put back from git.
 * Returns the exit code.
 */
export function runSynth(run: SynthRun): number {
  const { outdir } = run;
  const previous = readPreviousOutput(outdir);
  const restore = () => {
    if (restorePreviousOutput(outdir, previous)) {
      run.stderr(`${PROGRAM}: ${outdir} had been removed before the synth ran (cdk8s synth does that); restored it from ${previous.source}`);
    }
  };
  try {
    return synthOver(run, previous, restore);
  } catch (error) {
    restore();
    throw error;
  }
}

function synthOver(run: SynthRun, previous: PreviousOutput, restore: () => void): number {
  const { outdir } = run;
  let envFile: string;
  try {
    envFile = envFileFrom(run.args, run.defaultEnvFile);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    run.stderr(`${PROGRAM}: ${error.message}`);
    restore();
    return 2;
  }
  const deployed = DeployedManifests.parse(previous.files);
  const input = readSettingsInput(envFile, run.env);
  const parsed = parseVariables(input.values, input.sources);
  [...input.notes, ...derivedNotes(input, parsed.settings)].forEach((note) => run.stderr(`${PROGRAM}: ${note}`));
  let firstError: ConfigError | undefined;
  if (input.problems.length === 0 && parsed.problems.length === 0) {
    let application: RenderedApplication | undefined;
    try {
      const output = synthAtomically(outdir, (app) => { application = run.build(app, parsed.settings, deployed); });
      if (application) writeApplication(application);
      run.stdout(summaryLine(output, application, parsed.settings, previous.source));
      return 0;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      firstError = error;
    }
  }
  const problems = findProblems(input, (settings) => {
    // Built to be checked, never synthesized: nothing is written.
    const app = new App({ outdir: tmpdir() });
    run.build(app, settings, deployed);
    app.charts.forEach((chart) => chart.toJson());
  });
  const messages = problems.length ? problems.map((problem) => problem.message) : [firstError!.message];
  // The problems may be about the deployed state (immutable fields, the etcd TLS move): say where it was read.
  run.stderr(`${PROGRAM}: deployed state: ${previous.source}`);
  messages.forEach((message) => run.stderr(message));
  restore();
  const count = messages.length === 1 ? 'an invalid setting' : `${messages.length} invalid settings`;
  run.stderr(`${PROGRAM}: ${count}: nothing was written; ${outdir} is unchanged.`);
  return 1;
}

/**
 * The one line a successful synth prints: the files written, their objects by kind, where the
 * deployed state was read from, and the optional features that are on.
 */
export function summaryLine(output: SynthOutput, application: RenderedApplication | undefined, settings: PgHaSettings, deployedState: string): string {
  const counts = new Map<string, number>();
  for (const kind of output.kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  const byKind = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([kind, n]) => `${n} ${kind}`).join(', ');
  const files = output.files.map(shownPath).join(', ');
  const also = application ? ` and ${shownPath(application.file)} (the Argo CD Application)` : '';
  const features = featuresOn(settings);
  return `${PROGRAM}: wrote ${files}: ${output.kinds.length} objects (${byKind})${also}; deployed state: ${deployedState}; `
    + `features on: ${features.length ? features.join(', ') : 'none'}`;
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
