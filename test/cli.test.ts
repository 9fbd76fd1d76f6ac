/**
 * The command line (main.ts): settings from an env file and the environment, dist/ replaced atomically,
 * the Argo CD Application written outside it, one summary line on success, and every bad input
 * reported at once, each starting with the variable and where it was set, without touching either.
 * Each test runs the synth in a temporary project with its own settings (--settings FILE, or the
 * project's pg-ha.env), so a fork's pg-ha.env changes nothing here.
 * That dist/ equals a fresh synth is test/cross-cutting/dist.test.ts.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Yaml } from 'cdk8s';
import { parse, parseAllDocuments } from 'yaml';
import { PgHaSettings, STORAGE_SIZE_ANNOTATION } from '../lib';
import { readPreviousOutput } from '../lib/cli';
import { ETCD_TLS_MOVE_PAGE } from '../lib/components/etcd/etcd-cluster';
import { synth } from './support/synth';
import { git, newOutdir, newProject, runCdk8sSynth, runMain, runSynthCommand, runSynthWith } from './support/synth-command';

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
    // (notes, and where the deployed state was read from, come before the problems)
    const lines = result.stderr.trim().split('\n').filter((line) => !/^pg-ha-cdk8s: (note|deployed state):/.test(line));
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
    expect(lines[0]).toContain(`; deployed state: the files in ${outdir}/ (not committed in git); `);
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
    expect(ok.stdout).toMatch(/ and \S+ \(the Argo CD Application\); deployed state: none \(.*\): a new cluster; features on: /);
    expect(ok.stdout).toContain(` and ${file} (the Argo CD Application); `);
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

describe('where the synth reads the deployed state from (lib/cli.ts)', () => {
  const yaml = (name: string) => ({ [`${name}.k8s.yaml`]: `kind: ConfigMap\nmetadata:\n  name: ${name}\n` });

  test('outside git: the files in the output directory, or none (a new cluster)', () => {
    const outdir = newOutdir();
    expect(readPreviousOutput(join(outdir, 'missing'))).toMatchObject({ files: {}, source: expect.stringMatching(/^none \(.*\): a new cluster$/) });
    writeFileSync(join(outdir, 'a.k8s.yaml'), yaml('a')['a.k8s.yaml']);
    writeFileSync(join(outdir, 'notes.txt'), 'not a manifest');
    expect(readPreviousOutput(outdir)).toEqual({ files: yaml('a'), source: `the files in ${outdir}/ (not committed in git)` });
  });

  test('a git repository without a commit: the files', () => {
    const project = newProject({ dist: yaml('a') });
    git(project, ['init', '-q']);
    expect(readPreviousOutput(join(project, 'dist')).source).toMatch(/^the files in .*dist\/ \(not committed in git\)$/);
  });

  test('committed: git\'s HEAD, whatever the working tree holds (changed, or removed as cdk8s synth does); an uncommitted directory: its files', () => {
    // GIVEN a project whose dist/ is committed
    const project = newProject({ dist: yaml('a'), git: true });
    const head = git(project, ['rev-parse', '--short', 'HEAD']).trim();
    const dist = join(project, 'dist');
    const committed = { files: yaml('a'), source: `git HEAD ${head}:dist/`, commit: head };
    // WHEN the working tree's dist/ changes or goes THEN the commit is read
    writeFileSync(join(dist, 'a.k8s.yaml'), 'changed');
    writeFileSync(join(dist, 'b.k8s.yaml'), 'new');
    expect(readPreviousOutput(dist)).toEqual(committed);
    rmSync(dist, { recursive: true });
    expect(readPreviousOutput(dist)).toEqual(committed);
    // AND a directory of the repository that git does not hold is read as files
    mkdirSync(join(project, 'other'));
    writeFileSync(join(project, 'other', 'c.k8s.yaml'), 'c');
    expect(readPreviousOutput(join(project, 'other')).source).toMatch(/^the files in .*other\/ \(not committed in git\)$/);
  });
});

/**
 * `npx cdk8s synth` removes dist/ before it runs the app; `npm run synth` does not. Both read the
 * deployed state from git's HEAD, so both refuse and accept the same synths, and a refused one
 * leaves dist/ as committed.
 */
describe('one synth, whichever command runs it', () => {
  const commands: Array<[string, (project: string, variables?: Record<string, string>) => ReturnType<typeof runMain>]> = [
    ['npm run synth', (project, variables) => runMain(project, variables)],
    ['npx cdk8s synth', (project, variables) => runCdk8sSynth(project, variables)],
  ];
  /** A git project whose committed dist/ was made from `deployed`. */
  const committedProject = (deployed: PgHaSettings) => newProject({ dist: { 'pg-ha.k8s.yaml': Yaml.stringify(...synth(deployed).objects) }, git: true });
  const distText = (project: string) => readFileSync(join(project, 'dist', 'pg-ha.k8s.yaml'), 'utf8');

  describe.each(commands)('%s', (command, run) => {
    test('over a committed dist/ with plain etcd: refused, naming the line to add and the page; dist/ as committed', () => {
      const project = committedProject({ etcd: { tls: { enabled: false } } });
      const before = distText(project);
      const result = run(project);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/pg-ha-cdk8s: deployed state: git HEAD [0-9a-f]+:dist\//);
      expect(result.stderr).toContain('ETCD_TLS_MIGRATION: false must be true first: the deployed dist/ runs etcd on plain http');
      expect(result.stderr).toContain(`Add the line ETCD_TLS_MIGRATION=true to pg-ha.env, synth, commit and apply, wait for the etcd access and rollout Jobs, then take step 2 (${ETCD_TLS_MOVE_PAGE})`);
      expect(readdirSync(join(project, 'dist'))).toEqual(['pg-ha.k8s.yaml']);
      expect(distText(project)).toBe(before);
    });

    test('over a committed step 1 of the move (release 0.1.0\'s configuration): the default refused naming ETCD_AUTH=false; with it, written', () => {
      const project = committedProject({ etcd: { tls: { migration: true } } });
      const refused = run(project);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toContain('Add the line ETCD_AUTH=false to pg-ha.env');
      writeFileSync(join(project, 'pg-ha.env'), 'ETCD_AUTH=false\n');
      const step2 = run(project);
      expect(step2.status).toBe(0);
      // (the summary line is main.ts's stdout, which cdk8s synth does not show: it prints its own)
      if (command === 'npm run synth') expect(step2.stdout).toMatch(/; deployed state: git HEAD [0-9a-f]+:dist\/; /);
      expect(distText(project)).toContain('value: https://0.0.0.0:2380\n');
    });

    test('a larger volume over a committed dist/: the claim templates stay as committed, the size goes to the annotation', () => {
      const project = committedProject({});
      const result = run(project, { POSTGRES_STORAGE_SIZE: '20Gi' });
      expect(result.status).toBe(0);
      const sts = parse(distText(project).split(/^---$/m).find((doc) => /^kind: StatefulSet$/m.test(doc) && /^  name: pg-ha$/m.test(doc))!);
      expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('10Gi');
      expect(sts.metadata.annotations[STORAGE_SIZE_ANNOTATION]).toBe('20Gi');
    });
  });
});
