/**
 * The command line (main.ts): settings from pg-ha.env and the environment, dist/ replaced atomically,
 * the Argo CD Application written outside it, and bad input reported without touching either.
 * That dist/ equals a fresh synth is test/cross-cutting/dist.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parse } from 'yaml';
import { newOutdir, runSynthCommand } from './support/synth-command';

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
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readdirSync(outdir)).toEqual(['orders.k8s.yaml']);
  });

  test('writes dist/ and the Application outside it; invalid Argo CD settings leave both untouched', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-ha-argocd-'));
    const outdir = join(dir, 'dist');
    const file = join(dir, 'deploy', 'argocd-application.yaml');
    // GIVEN a successful synth with an Application
    const ok = run({ ARGOCD_REPO_URL: 'https://github.com/you/pg-ha-cdk8s.git', ARGOCD_APPLICATION_FILE: file }, outdir);
    expect(ok.stderr).toBe('');
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
