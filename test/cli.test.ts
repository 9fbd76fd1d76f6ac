/**
 * The command line (main.ts): settings from pg-ha.env and the environment, dist/ replaced atomically,
 * the Argo CD Application written outside it, and bad input reported without touching either.
 * That dist/ equals a fresh synth is test/cross-cutting/dist.test.ts.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Yaml } from 'cdk8s';
import { parse } from 'yaml';
import { PgHaSettings, STORAGE_SIZE_ANNOTATION } from '../lib';
import { readPreviousOutput } from '../lib/cli';
import { ETCD_TLS_MOVE_PAGE } from '../lib/components/etcd/etcd-cluster';
import { synth } from './support/synth';
import { git, newOutdir, newProject, runCdk8sSynth, runMain, runSynthCommand } from './support/synth-command';

describe('the synth command (npm run synth)', () => {
  const run = runSynthCommand;

  test('invalid settings: clear error, non-zero exit, existing output untouched', () => {
    // GIVEN an output directory holding a previous synth
    const outdir = newOutdir();
    writeFileSync(join(outdir, 'pg-ha.k8s.yaml'), 'previous\n');
    // WHEN the synth runs with an even etcd member count
    const result = run({ ETCD_REPLICAS: '4' }, outdir);
    // THEN it names the setting, the value, what is valid and the variable, and writes nothing
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('etcd.replicas must be an odd integer from 1 to 9');
    expect(result.stderr).toContain('(got 4)');
    expect(result.stderr).toContain('[set by ETCD_REPLICAS in pg-ha.env or the environment]');
    expect(readdirSync(outdir)).toEqual(['pg-ha.k8s.yaml']);
    expect(readFileSync(join(outdir, 'pg-ha.k8s.yaml'), 'utf8')).toBe('previous\n');
  });

  test('the Patroni timing rule names every variable involved', () => {
    const outdir = newOutdir();
    const result = run({ PATRONI_LOOP_WAIT: '10', PATRONI_RETRY_TIMEOUT: '10' }, outdir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('[set by PATRONI_LOOP_WAIT, PATRONI_RETRY_TIMEOUT in pg-ha.env or the environment]');
  });

  test('valid settings replace the output with exactly the chart file', () => {
    const outdir = newOutdir();
    writeFileSync(join(outdir, 'stale.k8s.yaml'), 'stale\n');
    const result = run({ SCOPE: 'orders' }, outdir);
    expect(result.stderr).toBe(`pg-ha-cdk8s: deployed state: the files in ${outdir}/ (not committed in git)\n`);
    expect(result.status).toBe(0);
    expect(readdirSync(outdir)).toEqual(['orders.k8s.yaml']);
  });

  test('writes dist/ and the Application outside it; invalid Argo CD settings leave both untouched', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-ha-argocd-'));
    const outdir = join(dir, 'dist');
    const file = join(dir, 'deploy', 'argocd-application.yaml');
    // GIVEN a successful synth with an Application
    const ok = run({ ARGOCD_REPO_URL: 'https://github.com/you/pg-ha-cdk8s.git', ARGOCD_APPLICATION_FILE: file }, outdir);
    expect(ok.stderr).toMatch(/^pg-ha-cdk8s: deployed state: none \(.*\): a new cluster\n$/);
    expect(ok.status).toBe(0);
    expect(readdirSync(outdir)).toEqual(['pg-ha.k8s.yaml']);
    expect(parse(readFileSync(file, 'utf8')).kind).toBe('Application');
    // WHEN the next synth has an invalid Argo CD setting
    writeFileSync(join(outdir, 'marker'), '');
    const bad = run({ ARGOCD_REPO_URL: 'not a url', ARGOCD_APPLICATION_FILE: file }, outdir);
    // THEN it fails naming the variable, and dist/ is unchanged
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/argocd.repoUrl must be a Git URL.*ARGOCD_REPO_URL/);
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

  describe.each(commands)('%s', (_, run) => {
    test('over a committed dist/ with plain etcd: refused, naming the line to add and the page; dist/ as committed', () => {
      const project = committedProject({ etcd: { tls: { enabled: false } } });
      const before = distText(project);
      const result = run(project);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/pg-ha-cdk8s: deployed state: git HEAD [0-9a-f]+:dist\//);
      expect(result.stderr).toContain('etcd.tls.migration must be true first: the deployed dist/ runs etcd on plain http');
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
