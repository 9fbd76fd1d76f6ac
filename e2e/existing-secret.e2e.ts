/*
 * Credentials with any printable characters: a cluster synthesized with EXISTING_SECRET (a new
 * cluster: etcd on TLS with authentication; the pooler on), whose Secret the user created before the
 * first apply with made-up passwords holding every character that breaks naive quoting (spaces
 * first and last, quotes, backslash, :, @, %, #, $, {, }, $(VAR) ...). Brought up, then each
 * credential proven by the program that uses it (scenarios/credential-characters.ts). Runs on its
 * own address block (E2E_ADDRESS_BLOCK + 50).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { addressBlock } from './lib/address-plan';
import { log } from './lib/log';
import { bringUp } from './scenarios/bring-up';
import { credentialCharacters, existingSecretFor } from './scenarios/credential-characters';
import { scenarioSuite } from './scenarios/suite';

export const EXISTING_SECRET_CONFIGURATION: Record<string, string> = {
  EXISTING_SECRET: 'pg-ha-own-credentials',
  POOLER: 'true',
  // a new cluster: etcd on TLS only with authentication (etcd's two passwords are in the Secret too)
  ETCD_TLS_MIGRATION: 'false',
};

let out: string | undefined;

function synthesize(): string {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-e2e-dist-'));
  const r = spawnSync('npm', ['run', '--silent', 'synth'], { cwd: path.join(__dirname, '..'), env: { ...process.env, ...EXISTING_SECRET_CONFIGURATION, CDK8S_OUTDIR: out }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`synth with an existing Secret failed (${r.status}): ${r.stdout}${r.stderr}`);
  log(`existing-Secret configuration synthesized into ${out}: ${Object.entries(EXISTING_SECRET_CONFIGURATION).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return out;
}

scenarioSuite('existing Secret with any printable characters', {
  distDir: synthesize,
  addressBlock: addressBlock(50),
  // the keys the secrets Job checks, in its namespace
  seed: (bed) => [existingSecretFor(bed)],
  scenarios: [bringUp, credentialCharacters],
});

afterAll(() => {
  if (out) fs.rmSync(out, { recursive: true, force: true });
});
