/**
 * File handling of the command line (main.ts): the deployed state is read from the committed synth
 * output; the synth output and the Argo CD Application are replaced only when everything succeeded,
 * so invalid settings leave them untouched.
 */
import { spawnSync } from 'child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'fs';
import { basename, dirname, join, relative, resolve, sep } from 'path';
import { App, YamlOutputType } from 'cdk8s';
import { RenderedApplication } from './gitops/argocd-application';

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
  return { source: names.length ? `the files in ${shown(dir)} (not committed in git)` : `none (${shown(dir)} is neither committed in git nor has files): a new cluster`, files };
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

/** `path` relative to the working directory when inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? `${rel}/` : `${path}/`;
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
export function synthAtomically(outdir: string, build: (app: App) => void): string[] {
  const target = resolve(outdir);
  mkdirSync(dirname(target), { recursive: true });
  const staging = mkdtempSync(join(dirname(target), `.${basename(target)}.staging-`));
  try {
    const app = new App({ outdir: staging, yamlOutputType: YamlOutputType.FILE_PER_CHART });
    build(app);
    app.synth();
    const files = app.charts.map((chart) => `${chart.node.id}.k8s.yaml`);
    rmSync(target, { recursive: true, force: true });
    chmodSync(staging, 0o755);
    renameSync(staging, target);
    return files;
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
