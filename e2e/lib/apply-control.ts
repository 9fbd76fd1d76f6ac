/*
 * `npx tsx e2e/up.ts apply <dir>` by hand: a bed held by `up.ts --hold` listens on a unix
 * socket named after its address block; `up.ts apply` sends it the directory of a second
 * dist/, the held bed applies it (Testbed.apply) and answers what the apply did.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { ApplyResult } from './kube/dist-apply';
import { log } from './log';
import type { Testbed } from './testbed';

export function controlSocket(block: number): string {
  return path.join(os.tmpdir(), `pgha-e2e-up-${block}.sock`);
}

/** Serve applies to this bed until the returned close() is called. */
export function serveApply(bed: Testbed, block: number): () => void {
  const socket = controlSocket(block);
  fs.rmSync(socket, { force: true });
  let busy = false;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const answer = (code: number, value: unknown): void => {
        res.writeHead(code, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.method !== 'POST' || req.url !== '/apply') return answer(404, { error: 'POST /apply {"dir": ...} only' });
      if (busy) return answer(409, { error: 'an apply is already running on this bed' });
      let dir: string;
      try {
        dir = String(JSON.parse(body).dir);
      } catch {
        return answer(400, { error: 'body must be {"dir": "<directory of manifests>"}' });
      }
      busy = true;
      log(`apply requested through ${socket}: ${dir}`);
      bed.apply(dir).then((r) => answer(200, r), (e: Error) => answer(500, { error: e.message })).finally(() => { busy = false; });
    });
  });
  server.listen(socket);
  server.unref();
  log(`apply a second dist/ by hand: npx tsx e2e/up.ts apply <dir> (E2E_ADDRESS_BLOCK=${block}; socket ${socket})`);
  return () => {
    server.close();
    fs.rmSync(socket, { force: true });
  };
}

/** Ask the bed held on this block to apply `dir`; resolves with what the apply did. */
export function requestApply(block: number, dir: string): Promise<ApplyResult> {
  const socket = controlSocket(block);
  if (!fs.existsSync(socket)) throw new Error(`no held bed on address block ${block} (${socket} is missing): start one with E2E_ADDRESS_BLOCK=${block} npx tsx e2e/up.ts --hold`);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`apply: ${dir} is not a directory of manifests (*.yaml)`);
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: '/apply', method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        const v = JSON.parse(text);
        if (res.statusCode === 200) resolve(v as ApplyResult);
        else reject(new Error(`the held bed answered ${res.statusCode}: ${v.error}`));
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify({ dir: path.resolve(dir) }));
  });
}
