/*
 * The images dist/ names, built here by e2e/images/build.sh (nothing can be pulled), imported
 * into a node's containerd under their exact names (namespace k8s.io, the one the CRI uses).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { log } from '../log';

const IMPORT_SCRIPT = path.join(__dirname, '..', '..', 'images', 'import.sh');

export function importImages(containerdSocket: string): Promise<void> {
  const t0 = Date.now();
  if (!fs.existsSync(IMPORT_SCRIPT)) throw new Error(`${IMPORT_SCRIPT} is missing`);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [IMPORT_SCRIPT, containerdSocket], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`importing the images into ${containerdSocket} failed (${code}): ${output.trim()}`));
      log(`images imported into ${containerdSocket} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      resolve();
    });
  });
}
