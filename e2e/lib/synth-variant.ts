/*
 * A second dist/ for a running bed, as a user makes it: `npm run synth` (main.ts) with pg-ha.env
 * plus changed variables, over a copy of the dist/ the cluster was applied from (so the synth keeps
 * the running StatefulSets' immutable fields, as it does over a committed dist/).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const REPO = path.resolve(__dirname, '..', '..');

/** Synthesizes over a copy of `deployedDir` with `variables` set; returns the new directory (the caller removes it). */
export function synthVariant(deployedDir: string, variables: Record<string, string>): string {
  const outdir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-e2e-variant-')), 'dist');
  fs.cpSync(deployedDir, outdir, { recursive: true });
  const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', 'main.ts'], {
    cwd: REPO, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME, ...variables, CDK8S_OUTDIR: outdir },
  });
  if (r.status !== 0) throw new Error(`synth with ${JSON.stringify(variables)} over ${deployedDir} failed (${r.status}): ${r.stderr}`);
  return outdir;
}

export function removeVariant(dir: string): void {
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
}
