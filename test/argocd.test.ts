/**
 * Argo CD: sync waves in dependency order, Jobs as Sync hooks that keep `kubectl apply` working,
 * nothing Argo CD would keep reporting OutOfSync or prune by mistake, and the optional Application
 * written outside dist/ by an atomic synth.
 */
import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { PgHaChart, PgHaSettings, settingsFromVariables } from '../lib';
import { ARGOCD, renderArgoCdApplication, SYNC_WAVES } from '../lib';
import { FULL_SETTINGS } from './support/configurations';

const synth = (settings: PgHaSettings = {}) => Testing.synth(new PgHaChart(Testing.app(), 'pg-ha', settings));
const annotation = (o: any, key: string) => o.metadata.annotations?.[key];
const wave = (o: any) => Number(annotation(o, ARGOCD.syncWave));
const isHook = (o: any) => annotation(o, ARGOCD.hook) !== undefined;
const byComponent = (objects: any[], component: string) => objects.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === component);

describe('sync waves', () => {
  const objects = synth(FULL_SETTINGS);

  test('every object has a sync wave (an object added after annotateForArgoCd would have none)', () => {
    expect(objects.filter((o) => Number.isNaN(wave(o))).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([]);
  });

  test('waves follow the dependencies: namespace, secrets, etcd, postgres, router, init Job, extras', () => {
    const HARDENING = ['PodDisruptionBudget', 'NetworkPolicy'];
    const waves = (component: string) => [...new Set(byComponent(objects, component).filter((o) => !HARDENING.includes(o.kind)).map(wave))];
    expect(wave(objects.find((o) => o.kind === 'Namespace'))).toBe(SYNC_WAVES.namespace);
    // The secrets Job runs after its RBAC and before anything that reads the Secret.
    expect(waves('secrets').sort()).toEqual([SYNC_WAVES.secretsPrerequisites, SYNC_WAVES.secretsJob].sort());
    expect(waves('dcs')).toEqual([SYNC_WAVES.etcd]);
    expect(waves('database')).toEqual([SYNC_WAVES.postgres]);
    expect(byComponent(objects, 'router').filter((o) => o.kind !== 'Ingress' && o.kind !== 'IngressRoute' && o.kind !== 'Middleware').map(wave))
      .toEqual(expect.arrayContaining([SYNC_WAVES.router]));
    expect(waves('init')).toEqual([SYNC_WAVES.init]);
    expect(waves('monitoring')).toEqual([SYNC_WAVES.extras]);
    expect(objects.filter((o) => ['IngressRoute', 'Middleware', 'Ingress'].includes(o.kind)).map(wave)).toEqual(
      objects.filter((o) => ['IngressRoute', 'Middleware', 'Ingress'].includes(o.kind)).map(() => SYNC_WAVES.extras));
    // Every pod starts under its NetworkPolicy; PDBs come once their pods run.
    expect([...new Set(objects.filter((o) => o.kind === 'NetworkPolicy').map(wave))]).toEqual([SYNC_WAVES.networkPolicies]);
    expect([...new Set(objects.filter((o) => o.kind === 'PodDisruptionBudget').map(wave))]).toEqual([SYNC_WAVES.extras]);
    expect([SYNC_WAVES.namespace, SYNC_WAVES.secretsPrerequisites, SYNC_WAVES.secretsJob, SYNC_WAVES.etcd, SYNC_WAVES.postgres,
      SYNC_WAVES.router, SYNC_WAVES.init, SYNC_WAVES.extras]).toEqual([-3, -2, -1, 0, 1, 2, 3, 4]);
  });

  test('the cert-manager Certificate is ready before the members that mount its Secret start', () => {
    const withTls = synth({ postgres: { tls: { issuerName: 'ca-issuer' } } });
    const certificate = withTls.find((o) => o.kind === 'Certificate');
    expect(wave(certificate)).toBe(SYNC_WAVES.certificates);
    expect(SYNC_WAVES.certificates).toBeLessThan(SYNC_WAVES.postgres);
  });
});

describe('Jobs', () => {
  const objects = synth();
  const jobs = objects.filter((o) => o.kind === 'Job');
  const isRollout = (job: any) => job.metadata.name.startsWith('pg-ha-rollout-');

  test('the Jobs are hooks replaced before re-creation (not compared, so ttl deletion is not OutOfSync)', () => {
    expect(jobs).toHaveLength(3);
    for (const job of jobs) {
      // The rollout Job runs after every object is healthy (the StatefulSet's new template stored).
      expect(annotation(job, ARGOCD.hook)).toBe(isRollout(job) ? 'PostSync' : 'Sync');
      expect(annotation(job, ARGOCD.hookDeletePolicy)).toBe('BeforeHookCreation');
      expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    }
    expect(jobs.filter((j) => !isRollout(j)).map(wave).sort()).toEqual([SYNC_WAVES.secretsJob, SYNC_WAVES.init].sort());
  });

  test('only Jobs are hooks: everything else is compared and self-healed', () => {
    expect(objects.filter(isHook).map((o) => o.kind)).toEqual(['Job', 'Job', 'Job']);
  });

  test('a changed Job gets a new name, so `kubectl apply` never patches an immutable pod template', () => {
    const names = (settings: PgHaSettings) => synth(settings).filter((o) => o.kind === 'Job').map((o) => o.metadata.name).sort();
    const before = names({});
    expect(before).toEqual([/^pg-ha-init-/, /^pg-ha-rollout-/, /^pg-ha-secrets-/].map((p) => expect.stringMatching(new RegExp(`${p.source}[0-9a-f]{10}$`))));
    // The secrets Job runs with the Spilo image; a new image is a new Job.
    const after = names({ postgres: { image: 'ghcr.io/zalando/spilo-17:4.0-p2' } });
    expect(after[2]).not.toEqual(before[2]);
    // The same input gives the same name: re-applying is a no-op.
    expect(names({})).toEqual(before);
  });
});

describe('objects Argo CD does not track', () => {
  const objects = synth();

  test('PVCs (copied from volumeClaimTemplates) are never pruned nor reported extraneous', () => {
    for (const sts of objects.filter((o) => o.kind === 'StatefulSet')) {
      for (const t of sts.spec.volumeClaimTemplates) {
        expect(t.apiVersion).toBe('v1');
        expect(t.kind).toBe('PersistentVolumeClaim');
        expect(t.metadata.annotations).toEqual({ [ARGOCD.syncOptions]: 'Prune=false,Delete=false', [ARGOCD.compareOptions]: 'IgnoreExtraneous' });
      }
    }
  });

  test('the generated Secret is created with the same never-prune annotations', () => {
    const job = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('pg-ha-secrets-'));
    const env = job.spec.template.spec.containers[0].env;
    expect(JSON.parse(env.find((e: any) => e.name === 'SECRET_ANNOTATIONS').value)).toEqual({
      [ARGOCD.syncOptions]: 'Prune=false,Delete=false', [ARGOCD.compareOptions]: 'IgnoreExtraneous',
    });
    const script = readFileSync(join(__dirname, '..', 'lib', 'assets', 'create-secret.py'), 'utf8');
    expect(script).toContain("'annotations': json.loads(os.environ.get('SECRET_ANNOTATIONS', '{}'))");
  });

  test('the Namespace is never pruned nor deleted with the Application (that would delete the PVCs in it)', () => {
    expect(annotation(objects.find((o) => o.kind === 'Namespace'), ARGOCD.syncOptions)).toBe('Prune=false,Delete=false');
  });

  test('no Secret is in the manifests (passwords never go to git)', () => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });
});

describe('Application', () => {
  const context = { scope: 'pg-ha', namespace: 'pg-ha', projectDir: '/repo', outdir: '/repo/dist' };
  const render = (settings: object) => renderArgoCdApplication({ repoUrl: 'https://github.com/you/pg-ha-cdk8s.git', ...settings }, context);

  test('is not written without a repo URL', () => {
    expect(renderArgoCdApplication(undefined, context)).toBeUndefined();
    expect(renderArgoCdApplication({}, context)).toBeUndefined();
  });

  test('other ARGOCD_* settings without a repo URL are an error, not silently ignored', () => {
    expect(() => renderArgoCdApplication({ targetRevision: 'main' }, context)).toThrow(/argocd.targetRevision must be unset while argocd.repoUrl is unset \(ARGOCD_REPO_URL\)/);
  });

  test('points at dist/ of the fork and syncs into the cluster namespace, written outside dist/', () => {
    const rendered = render({ targetRevision: 'main' })!;
    expect(rendered.file).toBe('/repo/deploy/argocd-application.yaml');
    const app = parse(rendered.yaml);
    expect(app.metadata).toMatchObject({ name: 'pg-ha', namespace: 'argocd' });
    expect(app.spec.source).toEqual({ repoURL: 'https://github.com/you/pg-ha-cdk8s.git', targetRevision: 'main', path: 'dist', directory: { recurse: false } });
    expect(app.spec.destination).toEqual({ server: 'https://kubernetes.default.svc', namespace: 'pg-ha' });
    expect(app.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
  });

  test('manual sync leaves out `automated`', () => {
    expect(parse(render({ automated: false })!.yaml).spec.syncPolicy.automated).toBeUndefined();
  });

  test('the ARGOCD_* variables reach the settings; ARGOCD_AUTO_SYNC must be true or false', () => {
    expect(settingsFromVariables({ ARGOCD_REPO_URL: 'git@github.com:you/pg.git', ARGOCD_AUTO_SYNC: 'false', ARGOCD_APP_NAME: 'db' }).argocd)
      .toEqual({ repoUrl: 'git@github.com:you/pg.git', automated: false, appName: 'db' });
    expect(() => settingsFromVariables({ ARGOCD_AUTO_SYNC: 'maybe' })).toThrow(/ARGOCD_AUTO_SYNC must be "true" or "false"/);
  });

  test.each([
    [{ repoUrl: 'github.com/you/repo' }, /argocd.repoUrl must be a Git URL/],
    [{ targetRevision: 'main branch' }, /argocd.targetRevision must be a branch, tag or commit/],
    [{ path: '../elsewhere' }, /argocd.path must be a directory relative to the repository root/],
    [{ path: '/abs' }, /argocd.path must be/],
    [{ appName: 'Bad_Name' }, /argocd.appName must be a DNS-1123 subdomain/],
    [{ namespace: 'argo cd' }, /argocd.namespace must be a DNS-1123 label/],
    [{ project: 'My Project' }, /argocd.project must be a DNS-1123 subdomain/],
    [{ server: 'http://insecure:6443' }, /argocd.server must be an https:\/\/ URL/],
    [{ file: 'dist/app.yaml' }, /argocd.file must be a path outside the synth output directory/],
    [{ file: 'deploy/app.json' }, /argocd.file must be a .yaml file name/],
  ])('rejects %j', (settings, message) => {
    expect(() => render(settings)).toThrow(message);
  });
});

describe('npm run synth (main.ts)', () => {
  const run = (env: Record<string, string>, outdir: string) => spawnSync(process.execPath, ['--import', 'tsx', 'main.ts'], {
    cwd: join(__dirname, '..'),
    env: { PATH: process.env.PATH, CDK8S_OUTDIR: outdir, ...env },
    encoding: 'utf8',
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
