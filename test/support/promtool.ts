/**
 * Where `promtool` is: PROMTOOL=/path/to/promtool, else `promtool` on PATH, else the e2e test bed's
 * Debian 13 root (scripts/e2e-install.sh installs prometheus 2.53 there; its promtool needs only
 * libc and runs on the host). Undefined when none runs; `file` says which test is skipped.
 */
import { spawnSync } from 'child_process';
import { join } from 'path';

export function findPromtool(file: string): string | undefined {
  const e2eRoot = process.env.PG_HA_E2E_ROOT ?? '/var/cache/pg-ha-e2e/trixie';
  const candidates = process.env.PROMTOOL ? [process.env.PROMTOOL] : ['promtool', join(e2eRoot, 'usr/bin/promtool')];
  const promtool = candidates.find((c) => spawnSync(c, ['--version']).status === 0);
  if (promtool === undefined) process.stderr.write(`${file} skipped: no promtool among ${candidates.join(', ')} (run scripts/e2e-install.sh, or set PROMTOOL)\n`);
  return promtool;
}
