/**
 * The command line (main.ts): settings from an env file and the environment, dist/ replaced atomically,
 * the Argo CD Application written outside it, one summary line on success, and every bad input
 * reported at once, each starting with the variable and where it was set, without touching either.
 * Each test brings its own settings file (--settings), so a fork's pg-ha.env changes nothing here.
 * That dist/ equals a fresh synth is test/cross-cutting/dist.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parse, parseAllDocuments } from 'yaml';
import { newOutdir, runSynthCommand, runSynthWith } from './support/synth-command';

describe('the synth command (npm run synth)', () => {
  test('invalid settings: clear error, non-zero exit, existing output untouched', () => {
    // GIVEN an output directory holding a previous synth
    const outdir = newOutdir();
    writeFileSync(join(outdir, 'pg-ha.k8s.yaml'), 'previous\n');
    // WHEN the synth runs with an even etcd member count
    const result = runSynthWith('ETCD_REPLICAS=4\n', {}, outdir);
    // THEN it names the variable, where it was set, the value and what is valid, and writes nothing
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`ETCD_REPLICAS at ${result.file}:1: 4 must be an odd integer from 1 to 9`);
    expect(result.stderr).toContain('pg-ha-cdk8s: an invalid setting: nothing was written;');
    expect(readdirSync(outdir)).toEqual(['pg-ha.k8s.yaml']);
    expect(readFileSync(join(outdir, 'pg-ha.k8s.yaml'), 'utf8')).toBe('previous\n');
  });

  test('every invalid setting is reported in one run, each line starting with the variable and where it was set', () => {
    // GIVEN a file with a syntax error, an unknown key and three bad values, and one more in the environment
    const result = runSynthWith([
      'POSTGRES_DB=Orders',
      'just words',
      'POSTGRES_USR=shop',
      'ETCD_REPLICAS=4',
      'POSTGRES_PARAMETERS=work_mem=16MB,,=',
    ].join('\n'), { ROUTER_SERVICE_TYPE: 'Public' });
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n').filter((line) => !line.startsWith('pg-ha-cdk8s: note:'));
    // THEN one line per problem, in the user's words, and the summary last
    const subjects = lines.map((line) => line.split(':')[0].replace(/ at .*| from .*/, ''));
    expect(subjects.slice(0, 3)).toEqual([result.file, 'POSTGRES_USR', 'POSTGRES_PARAMETERS']);
    expect(subjects.slice(3, -1).sort()).toEqual(['ETCD_REPLICAS', 'POSTGRES_DB', 'ROUTER_SERVICE_TYPE']);
    expect(lines).toContain(`${result.file}:2: "just words" must be a KEY=VALUE line (a comment line starts with "#")`);
    expect(result.stderr).toContain(`POSTGRES_DB at ${result.file}:1: "Orders" must be a lowercase PostgreSQL identifier`);
    expect(result.stderr).toContain('ROUTER_SERVICE_TYPE from the environment: "Public" must be one of "ClusterIP", "LoadBalancer", "NodePort"');
    expect(lines[lines.length - 1]).toMatch(/^pg-ha-cdk8s: 6 invalid settings: nothing was written; /);
    // The environment's variable is named before the problems, as on a successful run
    expect(result.stderr).toMatch(/^pg-ha-cdk8s: note: ROUTER_SERVICE_TYPE=Public from the environment \(\S+ does not set it\)$/m);
  });

  test('the settings path comes after the message, for TypeScript users', () => {
    const result = runSynthWith('PATRONI_LOOP_WAIT=10\nPATRONI_RETRY_TIMEOUT=10\n');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^PATRONI_LOOP_WAIT at ${result.file}:1, PATRONI_RETRY_TIMEOUT at ${result.file}:2: "10 \\+ 2 \\* 10 = 30" must be <= PATRONI_TTL \\(20\\).*\\(PgHaSettings: patroni.loopWait \\+ 2 \\* patroni.retryTimeout\\)$`, 'm'));
  });

  test('success: exactly one line, naming the file written, the objects by kind and the features on', () => {
    const outdir = newOutdir();
    writeFileSync(join(outdir, 'stale.k8s.yaml'), 'stale\n');
    const result = runSynthWith('SCOPE=orders\nPOOLER=true\nNETWORK_POLICIES=false\n', {}, outdir);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readdirSync(outdir)).toEqual(['orders.k8s.yaml']);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const kinds = parseAllDocuments(readFileSync(join(outdir, 'orders.k8s.yaml'), 'utf8')).map((doc) => doc.get('kind'));
    expect(lines[0]).toContain(`pg-ha-cdk8s: wrote ${join(outdir, 'orders.k8s.yaml')}: ${kinds.length} objects (`);
    expect(lines[0]).toContain(`${kinds.filter((kind) => kind === 'StatefulSet').length} StatefulSet`);
    expect(lines[0]).toMatch(/; features on: POOLER, STATS_INGRESS=ingress, ETCD_TLS$/);
  });

  test('--settings reads another file instead of pg-ha.env; a missing one or another argument is refused', () => {
    expect(runSynthWith('SCOPE=billing\n').stdout).toContain('billing.k8s.yaml');
    const missing = runSynthCommand({}, newOutdir(), ['--settings', '/nonexistent.env']);
    expect([missing.status, missing.stderr]).toEqual([2, 'pg-ha-cdk8s: --settings /nonexistent.env: no such file\n']);
    // (Not --env-file: Node 20 reads that option itself, after the script name too, into the environment.)
    expect(runSynthCommand({}, newOutdir(), ['--scope', 'x']).stderr).toContain('unknown argument "--scope"; usage: npm run synth [-- --settings FILE]');
  });

  test('writes dist/ and the Application outside it; invalid Argo CD settings leave both untouched', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-ha-argocd-'));
    const outdir = join(dir, 'dist');
    const file = join(dir, 'deploy', 'argocd-application.yaml');
    // GIVEN a successful synth with an Application
    const ok = runSynthWith(`ARGOCD_REPO_URL=https://github.com/you/pg-ha-cdk8s.git\nARGOCD_APPLICATION_FILE=${file}\n`, {}, outdir);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(`and ${file} (the Argo CD Application); features on: `);
    expect(readdirSync(outdir)).toEqual(['pg-ha.k8s.yaml']);
    expect(parse(readFileSync(file, 'utf8')).kind).toBe('Application');
    // WHEN the next synth has an invalid Argo CD setting
    writeFileSync(join(outdir, 'marker'), '');
    const bad = runSynthWith(`ARGOCD_REPO_URL=not a url\nARGOCD_APPLICATION_FILE=${file}\n`, {}, outdir);
    // THEN it fails naming the variable, and dist/ is unchanged
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^ARGOCD_REPO_URL at .*:1: "not a url" must be a Git URL/m);
    expect(existsSync(join(outdir, 'marker'))).toBe(true);
  }, 60000);
});
