/**
 * A fork with its own settings passes its own CI. Users fork the repository, set their names in
 * pg-ha.env, synthesize and commit dist/; `.ci/run` then runs this suite on their checkout. So
 * tests of behaviour synthesize their own settings (test/support/synth.ts, synth-command.ts) and
 * only tests of the committed files (dist/ drift, docs) read pg-ha.env and dist/, whatever they hold.
 *
 * The proof: a copy of the repository (its git-tracked files, node_modules linked) with other names,
 * namespace, ports and member counts in pg-ha.env, synthesized and committed as a user does, passes
 * the whole jest suite there, except this file (it would copy itself forever). The type-check of
 * `npm test` is left out: settings cannot change what the TypeScript compiler sees.
 */
import { spawnSync } from 'child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { parseAllDocuments } from 'yaml';
import { git } from '../support/synth-command';
import { ROOT } from '../support/synth';

/** Every default a test could lean on, changed: names, namespace, database and role, ports, member counts; and the fork's Argo CD Application. */
const FORK_ENV = [
  'SCOPE=shop',
  'NAMESPACE=shop-db',
  'POSTGRES_USER=shop_app',
  'POSTGRES_DB=shop',
  'POSTGRES_WRITE_PORT=6432',
  'POSTGRES_READ_PORT=6433',
  'POSTGRES_PORT=6543',
  'ETCD_CLIENT_PORT=12379',
  'POSTGRES_REPLICAS=2',
  'ETCD_REPLICAS=5',
  'ROUTER_REPLICAS=3',
  'POSTGRES_STORAGE_SIZE=20Gi',
  'ARGOCD_REPO_URL=https://github.com/shop/pg-ha-cdk8s.git',
].join('\n');

/** Runs `command` in `dir` with only PATH and HOME from this environment (no setting leaks in). */
function run(dir: string, command: string[]) {
  return spawnSync(command[0], command.slice(1), {
    cwd: dir, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CI: 'true', CDK8S_CHECK_UPGRADE: 'false' },
  });
}

/** A copy of the repository's git-tracked files in a new git repository (one commit, as a fresh fork), node_modules linked. */
function copyOfRepository(): string {
  const copy = mkdtempSync(join(tmpdir(), 'pg-ha-fork-'));
  const tracked = git(ROOT, ['ls-files', '-z']).split('\0').filter(Boolean);
  for (const file of tracked) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(copy, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  git(copy, ['init', '-q']);
  git(copy, ['add', '-A']);
  git(copy, ['commit', '-q', '-m', 'fork of pg-ha-cdk8s']);
  return copy;
}

test('a copy with its own names, namespace, ports and member counts in pg-ha.env, synthesized and committed, passes the test suite there', () => {
  // GIVEN a fork whose pg-ha.env changes every default a test could lean on, synthesized and committed
  const fork = copyOfRepository();
  try {
    writeFileSync(join(fork, 'pg-ha.env'), `${readFileSync(join(fork, 'pg-ha.env'), 'utf8')}\n${FORK_ENV}\n`);
    const synth = run(fork, [process.execPath, '--require', 'tsx/cjs', 'main.ts']);
    expect({ status: synth.status, stderr: synth.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    git(fork, ['add', '-A']);
    git(fork, ['commit', '-q', '-m', 'shop: our names']);
    // (the fork's dist/ holds none of the default names: a test that expects them must fail there)
    const objects = parseAllDocuments(readFileSync(join(fork, 'dist', 'shop.k8s.yaml'), 'utf8')).map((d) => d.toJS());
    expect(objects.filter((o) => /^pg-ha(-|$)/.test(o.metadata.name) || (o.metadata.namespace ?? 'shop-db') !== 'shop-db')).toEqual([]);

    // WHEN its test suite runs (all of it but this file)
    const jest = run(fork, [process.execPath, join('node_modules', 'jest', 'bin', 'jest.js'), '--ci', '--testPathIgnorePatterns', 'test/cross-cutting/fork\\.test\\.ts']);

    // THEN it passes; otherwise the failing tests are listed
    const failures = `${jest.stdout}\n${jest.stderr}`.split('\n').filter((line) => /^(FAIL |  ● )/.test(line));
    expect({ status: jest.status, failures }).toEqual({ status: 0, failures: [] });
    expect(jest.stdout).toMatch(/^jest: [1-9]\d* passed, 0 failed/m);
  } finally {
    rmSync(fork, { recursive: true, force: true });
  }
}, 900000);
