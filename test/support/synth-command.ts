/**
 * Runs the synth command as users run it (`npm run synth`, i.e. main.ts; or `npx cdk8s synth`), with
 * only the given variables set. Behaviour tests run it in a temporary project (a copy of main.ts on
 * this repository's lib/, with its own pg-ha.env, empty unless given): they do not depend on the
 * settings a fork commits in pg-ha.env. Only the tests of the committed files run it on the repository.
 */
import { spawn, spawnSync, SpawnSyncReturns } from 'child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ROOT } from './synth';

const ARGS = ['--require', 'tsx/cjs', 'main.ts'];

/** A new empty directory for the synth's output. */
export const newOutdir = () => mkdtempSync(join(tmpdir(), 'pg-ha-dist-'));

/** The environment main.ts sees: PATH and HOME, `variables`, the output directory (when given); no setting leaks in from the shell. */
const environment = (variables: Record<string, string>, outdir?: string) => ({
  PATH: process.env.PATH, HOME: process.env.HOME, CDK8S_CHECK_UPGRADE: 'false', ...variables, ...(outdir ? { CDK8S_OUTDIR: outdir } : {}),
});

export interface ProjectOptions {
  /** The text of its pg-ha.env. @default '' (every setting at its default) */
  readonly envFile?: string;
  /** Files of its dist/ (name -> text). @default - no dist/ */
  readonly dist?: Record<string, string>;
  /** Make it a git repository and commit everything (dist/ included) once. @default false */
  readonly git?: boolean;
}

/**
 * A project directory as a fork's checkout has it: main.ts (importing this repository's lib/),
 * pg-ha.env, cdk8s.yaml and node_modules (a link); dist/ and a git commit when asked.
 */
export function newProject(options: ProjectOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'pg-ha-project-'));
  const main = readFileSync(join(ROOT, 'main.ts'), 'utf8').replace(/'\.\/lib(\/cli)?'/g, (_, cli) => JSON.stringify(join(ROOT, 'lib', cli ? 'cli' : '')));
  writeFileSync(join(dir, 'main.ts'), main);
  writeFileSync(join(dir, 'pg-ha.env'), options.envFile ?? '');
  copyFileSync(join(ROOT, 'cdk8s.yaml'), join(dir, 'cdk8s.yaml'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  if (options.dist) {
    mkdirSync(join(dir, 'dist'));
    for (const [name, text] of Object.entries(options.dist)) writeFileSync(join(dir, 'dist', name), text);
  }
  if (options.git) {
    writeFileSync(join(dir, '.gitignore'), 'node_modules\n');
    git(dir, ['init', '-q']);
    git(dir, ['add', '-A']);
    git(dir, ['commit', '-q', '-m', 'fork']);
  }
  return dir;
}

/** Runs git in `dir` with a fixed identity; throws on failure. */
export function git(dir: string, args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} in ${dir} failed: ${r.stderr}`);
  return r.stdout;
}

/** `npm run synth` in `project` (its own dist/ unless `outdir` is given); `args` go to main.ts (`--settings FILE`). */
export function runMain(project: string, variables: Record<string, string> = {}, outdir?: string, args: readonly string[] = []): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...ARGS, ...args], { cwd: project, encoding: 'utf8', env: environment(variables, outdir) });
}

/** `npx cdk8s synth` in `project`: the cdk8s CLI removes dist/, then runs cdk8s.yaml's `app`. */
export function runCdk8sSynth(project: string, variables: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(ROOT, 'node_modules', 'cdk8s-cli', 'bin', 'cdk8s'), 'synth'], { cwd: project, encoding: 'utf8', env: environment(variables) });
}

/**
 * Runs the synth command of a new project (its pg-ha.env empty: every setting at its default) into
 * `outdir` and waits for it; `args` go to main.ts (`--settings FILE`).
 */
export function runSynthCommand(variables: Record<string, string> = {}, outdir = newOutdir(), args: readonly string[] = []): SpawnSyncReturns<string> {
  return runMain(newProject(), variables, outdir, args);
}

/** A temporary env file holding `text`, for `--settings`. */
export function envFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'pg-ha-env-')), 'test.env');
  writeFileSync(file, text);
  return file;
}

/** Runs the synth command of a new project with `text` as its env file (`--settings`) and `variables` in the environment. */
export function runSynthWith(text: string, variables: Record<string, string> = {}, outdir = newOutdir()): SpawnSyncReturns<string> & { file: string } {
  const file = envFile(text);
  return { ...runSynthCommand(variables, outdir, ['--settings', file]), file };
}

/**
 * Runs the repository's own synth command (its pg-ha.env: what dist/ is made from) into `outdir`
 * without blocking (several can run at once); resolves to the output directory.
 */
export function runRepositorySynthAsync(outdir = newOutdir()): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ARGS, { cwd: ROOT, env: environment({}, outdir), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => (code === 0 ? resolve(outdir) : reject(new Error(`main.ts exited with ${code}: ${stderr}`))));
  });
}
