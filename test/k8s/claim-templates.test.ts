/**
 * Volume sizes on a running cluster: the StatefulSets keep the volumeClaimTemplates they were
 * created with (immutable: a change fails `kubectl apply` and Argo CD), byte for byte, while the
 * declared size moves to an annotation and the rollout Job; a smaller size or another StorageClass
 * is refused at synth, naming the variable.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { Testing, Yaml } from 'cdk8s';
import { DeployedManifests, deployedClaimTemplates, PgHaChart, PgHaSettings, STORAGE_SIZE_ANNOTATION } from '../../lib';
import { synth } from '../support/synth';
import { newProject, runMain } from '../support/synth-command';

// a cluster deployed from the default configuration, then pg-ha.env changed as a user changes it
const dist = new DeployedManifests(synth().objects);
const synthOver = (settings: PgHaSettings, deployed = dist) => Testing.synth(new PgHaChart(Testing.app(), 'pg-ha', settings, { deployed }));
const statefulSet = (objects: any[], name: string) => objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === name);
const IMMUTABLE = ['serviceName', 'selector', 'podManagementPolicy', 'volumeClaimTemplates'];

describe('synth over a deployed dist/', () => {
  test('larger sizes keep both StatefulSets\' immutable fields as deployed and declare the new size in the annotation', () => {
    const next = synthOver({ postgres: { storageSize: '20Gi' }, etcd: { storageSize: '2Gi' } });
    for (const [name, size] of [['pg-ha', '20Gi'], ['pg-ha-etcd', '2Gi']]) {
      const before = dist.statefulSet('pg-ha', name)!;
      const after = statefulSet(next, name);
      for (const field of IMMUTABLE) expect({ name, field, value: after.spec[field] }).toEqual({ name, field, value: before.spec[field] });
      expect(after.metadata.annotations[STORAGE_SIZE_ANNOTATION]).toBe(size);
    }
  });

  test('a new cluster (no deployed StatefulSet of that name) gets templates of the declared size', () => {
    const next = synthOver({ postgres: { storageSize: '20Gi' } }, new DeployedManifests([]));
    expect(statefulSet(next, 'pg-ha').spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('20Gi');
  });

  test('a size below the declared one is refused, also after a grow (the annotation, not the template, is the size)', () => {
    expect(() => synthOver({ postgres: { storageSize: '5Gi' } })).toThrow(
      'postgres.storageSize must be at least 10Gi, the size the volumes of the running StatefulSet pg-ha have (dist/): volumes cannot shrink (got "5Gi")');
    // GIVEN a cluster grown to 20Gi (templates still at 10Gi) WHEN 15Gi is declared THEN it is refused
    const grown = new DeployedManifests(synthOver({ postgres: { storageSize: '20Gi' } }));
    expect(() => synthOver({ postgres: { storageSize: '15Gi' } }, grown)).toThrow(/postgres.storageSize must be at least 20Gi/);
    expect(() => synthOver({ etcd: { storageSize: '512Mi' } })).toThrow(/etcd.storageSize must be at least 1Gi/);
  });

  test('another StorageClass is refused: a claim\'s class cannot change', () => {
    expect(() => synthOver({ postgres: { storageClass: 'fast' } })).toThrow(
      'postgres.storageClass must be unset (the cluster default), the StorageClass of the running StatefulSet pg-ha (dist/): a volume\'s class cannot change (got "fast")');
  });

  test('deployedClaimTemplates: nothing deployed, nothing carried', () => {
    expect(deployedClaimTemplates(undefined, { sizeSetting: 's', classSetting: 'c', size: '1Gi' })).toBeUndefined();
  });
});

describe('the synth command over a previous dist/ (here the files of a project outside git; git\'s HEAD: test/cli.test.ts)', () => {
  const defaultDist = Yaml.stringify(...synth().objects);
  const projectWithDist = () => newProject({ dist: { 'pg-ha.k8s.yaml': defaultDist } });
  /** The YAML text of each StatefulSet's volumeClaimTemplates, as written (the last field of its spec). */
  const templatesText = (file: string) => readFileSync(file, 'utf8').split(/^---$/m).filter((doc) => /^kind: StatefulSet$/m.test(doc))
    .map((doc) => doc.slice(doc.indexOf('  volumeClaimTemplates:')));

  test('POSTGRES_STORAGE_SIZE=20Gi: the claim templates are byte-stable, the Job declares 20Gi', () => {
    const project = projectWithDist();
    const outdir = join(project, 'dist');
    const before = templatesText(join(outdir, 'pg-ha.k8s.yaml'));
    const result = runMain(project, { POSTGRES_STORAGE_SIZE: '20Gi' });
    expect(result.stdout).toContain('; deployed state: the files in dist/ (not committed in git); ');
    expect(result.status).toBe(0);
    const file = readFileSync(join(outdir, 'pg-ha.k8s.yaml'), 'utf8');
    expect(before).toHaveLength(2);
    expect(before.every((t) => t.includes('storage: '))).toBe(true);
    expect(templatesText(join(outdir, 'pg-ha.k8s.yaml'))).toEqual(before);
    expect(file).toContain('"statefulSet":"pg-ha","claim":"pgdata","size":"20Gi"');
  });

  test('POSTGRES_STORAGE_SIZE=5Gi: refused naming the variable, the output untouched', () => {
    const project = projectWithDist();
    const outdir = join(project, 'dist');
    const before = readFileSync(join(outdir, 'pg-ha.k8s.yaml'), 'utf8');
    const result = runMain(project, { POSTGRES_STORAGE_SIZE: '5Gi' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('POSTGRES_STORAGE_SIZE from the environment: "5Gi" must be at least 10Gi');
    expect(readFileSync(join(outdir, 'pg-ha.k8s.yaml'), 'utf8')).toBe(before);
  });
});
