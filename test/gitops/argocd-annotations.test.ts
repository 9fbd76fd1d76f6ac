/**
 * Argo CD annotations: sync waves in dependency order, Jobs as Sync hooks that keep `kubectl apply`
 * working, nothing Argo CD would keep reporting OutOfSync or prune by mistake.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { ARGOCD, SYNC_WAVES } from '../../lib';
import { FULL_SETTINGS, ROOT, synth as synthesize } from '../support/synth';

const synth = (settings = {}): any[] => synthesize(settings).objects;
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
    const CLUSTER_WIDE = ['PodDisruptionBudget', 'NetworkPolicy'];
    const waves = (component: string) => [...new Set(byComponent(objects, component).filter((o) => !CLUSTER_WIDE.includes(o.kind)).map(wave))];
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

  test('every Job is a hook replaced before re-creation (not compared, so ttl deletion is not OutOfSync)', () => {
    expect(jobs).toHaveLength(5);
    for (const job of jobs) {
      expect(annotation(job, ARGOCD.hookDeletePolicy)).toBe('BeforeHookCreation');
      expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    }
    const sync = jobs.filter((j) => annotation(j, ARGOCD.hook) === 'Sync');
    // The etcd access Job runs in etcd's wave: it waits for etcd itself, and Patroni's user exists before the members start.
    expect(sync.map(wave).sort()).toEqual([SYNC_WAVES.secretsJob, SYNC_WAVES.etcd, SYNC_WAVES.init].sort());
  });

  test('the converge and rollout Jobs are PostSync hooks, converge first: they run after each sync, once everything is healthy', () => {
    const postSync = jobs.filter((j) => annotation(j, ARGOCD.hook) === 'PostSync').sort((a, b) => wave(a) - wave(b));
    expect(postSync.map((j) => j.metadata.name)).toEqual([/^pg-ha-converge-/, /^pg-ha-rollout-/].map((p) => expect.stringMatching(new RegExp(`${p.source}[0-9a-f]{10}$`))));
    expect(wave(postSync[0])).toBeLessThan(wave(postSync[1]));
  });

  test('only Jobs are hooks: everything else is compared and self-healed', () => {
    expect(objects.filter(isHook).map((o) => o.kind)).toEqual(['Job', 'Job', 'Job', 'Job', 'Job']);
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
    const script = readFileSync(join(ROOT, 'lib', 'assets', 'create-secret.py'), 'utf8');
    expect(script).toContain("'annotations': json.loads(os.environ.get('SECRET_ANNOTATIONS', '{}'))");
  });

  test('the Namespace is never pruned nor deleted with the Application (that would delete the PVCs in it)', () => {
    expect(annotation(objects.find((o) => o.kind === 'Namespace'), ARGOCD.syncOptions)).toBe('Prune=false,Delete=false');
  });
});
