/*
 * The scenarios on a configuration other than the defaults, synthesized at test time:
 * other scope, namespace, cluster domain, user, database, ports (PostgreSQL's and etcd's client
 * port in the pods too) and Patroni timings,
 * 5 etcd members, 4 Postgres members, 3 routers, the PgBouncer pooler, and etcd as a new cluster gets it
 * (TLS only, with authentication; the committed dist/ is the first step of the move from plain etcd). Runs beside the default suite on
 * its own address block (E2E_ADDRESS_BLOCK + 1).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { log } from './lib/log';
import { addressBlock } from './lib/address-plan';
import { scenarioSuite } from './scenarios/suite';
import { OTHER_CONFIGURATION } from './lib/kubernetes/other-configuration';

export { OTHER_CONFIGURATION };

let out: string | undefined;

function synthOtherConfiguration(): string {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-e2e-dist-'));
  const r = spawnSync('npm', ['run', '--silent', 'synth'], { cwd: path.join(__dirname, '..'), env: { ...process.env, ...OTHER_CONFIGURATION, CDK8S_OUTDIR: out }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`synth of the other configuration failed (${r.status}): ${r.stdout}${r.stderr}`);
  log(`other configuration synthesized into ${out}: ${Object.entries(OTHER_CONFIGURATION).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return out;
}

scenarioSuite('other configuration', { distDir: synthOtherConfiguration, addressBlock: addressBlock(100), pooler: true, etcdSecured: true });

afterAll(() => {
  if (out) fs.rmSync(out, { recursive: true, force: true });
});
