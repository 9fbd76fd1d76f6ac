/*
 * The images dist/ names, built here by e2e/images/build.sh (nothing can be pulled), imported
 * into a node's containerd under their exact names (namespace k8s.io, the one the CRI uses).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { log } from '../log';

const IMPORT_SCRIPT = path.join(__dirname, '..', '..', 'images', 'import.sh');

export async function importImages(containerdSocket: string): Promise<void> {
  const t0 = Date.now();
  if (!fs.existsSync(IMPORT_SCRIPT)) throw new Error(`${IMPORT_SCRIPT} is missing`);
  const r = spawnSync('bash', [IMPORT_SCRIPT, containerdSocket], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`importing the images into ${containerdSocket} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  log(`images imported into ${containerdSocket} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
