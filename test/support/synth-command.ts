/** Runs the synth command (main.ts, as `npm run synth` does) with only the given variables set. */
import { spawn, spawnSync, SpawnSyncReturns } from 'child_process';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ROOT } from './synth';

const ARGS = ['--require', 'tsx/cjs', 'main.ts'];

/** A new empty directory for the synth's output. */
export const newOutdir = () => mkdtempSync(join(tmpdir(), 'pg-ha-dist-'));

/** The environment main.ts sees: PATH and HOME, `variables`, the output directory; no setting leaks in from the shell. */
const environment = (variables: Record<string, string>, outdir: string) => ({ PATH: process.env.PATH, HOME: process.env.HOME, ...variables, CDK8S_OUTDIR: outdir });

/** Runs the synth command and waits for it; `args` go to main.ts (`--settings FILE`). */
export function runSynthCommand(variables: Record<string, string> = {}, outdir = newOutdir(), args: readonly string[] = []): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...ARGS, ...args], { cwd: ROOT, encoding: 'utf8', env: environment(variables, outdir) });
}

/** A temporary env file holding `text`, for `--settings` (tests never depend on the committed pg-ha.env). */
export function envFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'pg-ha-env-')), 'test.env');
  writeFileSync(file, text);
  return file;
}

/** Runs the synth command with `text` as its env file (and `variables` in the environment). */
export function runSynthWith(text: string, variables: Record<string, string> = {}, outdir = newOutdir()): SpawnSyncReturns<string> & { file: string } {
  const file = envFile(text);
  return { ...runSynthCommand(variables, outdir, ['--settings', file]), file };
}

/** Runs the synth command without blocking (several can run at once); resolves to the output directory. */
export function runSynthCommandAsync(variables: Record<string, string> = {}, outdir = newOutdir()): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ARGS, { cwd: ROOT, env: environment(variables, outdir), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => (code === 0 ? resolve(outdir) : reject(new Error(`main.ts exited with ${code}: ${stderr}`))));
  });
}
