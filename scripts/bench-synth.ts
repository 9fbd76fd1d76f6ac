/**
 * Synth speed benchmark: wall time of the ways to produce dist/, each run RUNS times (default 7),
 * printed as min / median / max seconds. Output goes to a temp dir; dist/ is not touched.
 *
 *   npm run bench:synth            RUNS=15 npm run bench:synth
 */
import { spawnSync } from 'child_process';
import { mkdtempSync } from 'fs';
import { cpus, tmpdir } from 'os';
import { join } from 'path';

const root = join(__dirname, '..');
const runs = Number(process.env.RUNS ?? 7);
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

const cases: Array<[string, string[]]> = [
  ['app alone: node --require tsx/cjs main.ts (npm run synth)', [process.execPath, '--require', 'tsx/cjs', 'main.ts']],
  ['cdk8s synth (CLI + app from cdk8s.yaml)', [bin('cdk8s'), 'synth', '--no-check-upgrade']],
  ['default cdk8s template: ts-node main.ts (type-checks on every synth)', [bin('ts-node'), 'main.ts']],
];

function time(cmd: string[]): number {
  const outdir = mkdtempSync(join(tmpdir(), 'pg-ha-bench-'));
  const start = process.hrtime.bigint();
  const result = spawnSync(cmd[0], [...cmd.slice(1), ...(cmd[1] === 'synth' ? ['-o', outdir] : [])], {
    cwd: root, env: { ...process.env, CDK8S_OUTDIR: outdir, CDK8S_CHECK_UPGRADE: 'false' }, encoding: 'utf8',
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`${cmd.join(' ')} failed:\n${result.stderr}`);
  return seconds;
}

const fmt = (n: number) => n.toFixed(2);
console.log(`synth benchmark: ${runs} runs each, ${cpus().length} x ${cpus()[0].model}, node ${process.version}`);
for (const [label, cmd] of cases) {
  time(cmd); // warm the file cache
  const samples = Array.from({ length: runs }, () => time(cmd)).sort((a, b) => a - b);
  console.log(`${label}: min ${fmt(samples[0])} s, median ${fmt(samples[Math.floor(samples.length / 2)])} s, max ${fmt(samples[samples.length - 1])} s`);
}
