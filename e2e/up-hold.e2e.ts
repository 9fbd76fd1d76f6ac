/*
 * `npx tsx e2e/up.ts --hold` keeps the cluster until ^C: started exactly so, in a process
 * group of its own as a terminal would, on a small configuration (1 etcd member, 1 Postgres
 * member, 1 router; its own address block), it reports READY, is still alive and serving SQL
 * through the write Service seconds later, and on SIGINT to the whole group (what ^C does)
 * tears down: it ends, none of its processes are left, its run directory is gone.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { addressBlock } from './lib/address-plan';
import { query } from './lib/pg';
import { sleep } from './lib/poll';
import { listProcs } from './lib/process-supervisor';

const repo = path.join(__dirname, '..');
let dist: string;
let child: ChildProcess | undefined;
let output = '';

beforeAll(() => {
  dist = fs.mkdtempSync(path.join(os.tmpdir(), 'pgha-e2e-hold-dist-'));
  const r = spawnSync('npm', ['run', '--silent', 'synth'], { cwd: repo, env: { ...process.env, ETCD_REPLICAS: '1', POSTGRES_REPLICAS: '1', ROUTER_REPLICAS: '1', CDK8S_OUTDIR: dist }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`synth failed: ${r.stdout}${r.stderr}`);
});

afterAll(() => {
  if (child?.pid && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
  fs.rmSync(dist, { recursive: true, force: true });
});

function readyLine(): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no READY line within 150 s; output:\n${output.slice(-3000)}`)), 150000);
    const onData = (b: Buffer): void => {
      output += b.toString();
      const m = /^READY (\{.*\})$/m.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]));
      }
    };
    child!.stdout!.on('data', onData);
    child!.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    child!.once('exit', (code) => reject(new Error(`up.ts exited (${code}) before READY:\n${output.slice(-3000)}`)));
  });
}

test('up.ts --hold keeps the cluster serving until SIGINT, then tears everything down', async () => {
  child = spawn('npx', ['tsx', 'e2e/up.ts', '--hold'], {
    cwd: repo,
    env: { ...process.env, E2E_DIST: dist, E2E_ADDRESS_BLOCK: String(addressBlock(200)) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const ready = await readyLine();
  const exited = new Promise<string>((r) => child!.once('exit', (code, signal) => r(`exit ${code ?? signal}`)));
  await sleep(8000);
  expect(child.exitCode).toBeNull();
  // still serving: SQL through the write Service with the app user's generated credentials
  const env = Object.fromEntries(fs.readFileSync(ready.envFile, 'utf8').trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
  const rows = await query<{ r: boolean }>(
    { host: env.PGHOST, port: Number(env.PGPORT), user: env.PGUSER, password: env.PGPASSWORD, database: env.PGDATABASE, sslmode: 'require' },
    'SELECT pg_is_in_recovery() AS r',
  );
  expect(rows[0].r).toBe(false);
  const mark = `pgha-e2e:${ready.pid}:`;
  expect(listProcs().filter((p) => p.mark?.startsWith(mark)).length).toBeGreaterThan(3);

  process.kill(-child.pid!, 'SIGINT');
  const end = await Promise.race([exited, sleep(60000).then(() => 'timeout')]);
  expect(end).toMatch(/^exit (0|SIGINT)$/); // npm and tsx end by the SIGINT they re-raise, as after a ^C
  expect(output).toMatch(/SIGINT: tearing down/);
  expect(output).toMatch(/teardown done/);
  expect(listProcs().filter((p) => p.mark?.startsWith(mark) && p.state !== 'Z')).toEqual([]);
  expect(fs.existsSync(ready.runDir)).toBe(false);
}, 240000);
