/**
 * The rollout Job and the update strategies it goes with: Postgres pods are replaced only by the
 * Job (OnDelete), etcd's by the controller one at a time behind a quorum readiness gate, and the
 * Job's name changes exactly when there is something to roll or grow, so `kubectl apply` runs it.
 */
import { k8s } from 'cdk8s-plus-28';
import { PgHaSettings } from '../../lib';
import { container, envOf } from '../support/manifests';
import { synth } from '../support/synth';

const rolloutJob = (settings: PgHaSettings = {}) => synth(settings).all('Job').find((j) => j.metadata.name.startsWith('pg-ha-rollout-'))!;

describe('update strategies', () => {
  const s = synth();

  test('Postgres pods are replaced only by the rollout Job (OnDelete): a RollingUpdate would go by ordinal, primary or not', () => {
    expect(s.get('StatefulSet', 'pg-ha').spec.updateStrategy).toEqual({ type: 'OnDelete' });
  });

  test('etcd rolls by itself one member at a time, each step only once every member is Ready, and Ready means quorum (/readyz)', () => {
    const etcd = s.get('StatefulSet', 'pg-ha-etcd');
    expect(etcd.spec.updateStrategy).toEqual({ type: 'RollingUpdate' });
    expect(container(etcd, 'etcd').readinessProbe.httpGet.path).toBe('/readyz');
  });
});

describe('the rollout Job', () => {
  const job = rolloutJob();

  test('runs the rollout script in the Spilo image, with the revision source, the lag bound and the volumes to grow', () => {
    const rollout = container(job, 'rollout');
    expect(rollout.image).toBe(synth().get('StatefulSet', 'pg-ha').spec.template.spec.containers[0].image);
    expect(rollout.command).toEqual(['python3', '/scripts/rollout.py']);
    const env = envOf(rollout);
    expect(env.STATEFULSET.value).toBe('pg-ha');
    expect(env.ROLLOUT_PRIMARY.value).toBe('auto');
    expect(env.MAXIMUM_LAG_BYTES.value).toBe('1048576');
    expect(env.SYNCHRONOUS_MODE.value).toBe('true');
    expect(JSON.parse(env.VOLUMES.value)).toEqual([
      { statefulSet: 'pg-ha', claim: 'pgdata', size: '10Gi', setting: 'POSTGRES_STORAGE_SIZE' },
      { statefulSet: 'pg-ha-etcd', claim: 'data', size: '1Gi', setting: 'ETCD_STORAGE_SIZE' },
    ]);
  });

  test('a new name for every change of the Postgres pod template or of a volume size, the same name otherwise', () => {
    const name = (settings: PgHaSettings) => rolloutJob(settings).metadata.name;
    const base = name({});
    expect(base).toMatch(/^pg-ha-rollout-[0-9a-f]{10}$/);
    expect(name({ postgres: { exporterImage: 'prometheuscommunity/postgres-exporter:v0.17.1' } })).not.toBe(base);
    expect(name({ postgres: { storageSize: '20Gi' } })).not.toBe(base);
    expect(name({ etcd: { storageSize: '2Gi' } })).not.toBe(base);
    expect(name({ postgres: { resources: { limits: { memory: k8s.Quantity.fromString('2Gi') } } } })).not.toBe(base);
    // The router is not the Job's business: no new Job, no run.
    expect(name({ router: { replicas: 3 } })).toBe(base);
    expect(name({})).toBe(base);
  });

  test('its Role allows exactly what the script does: read the two StatefulSets, list pods, evict, grow the named claims, hold the day-2 Lease', () => {
    const role = synth().get('Role', 'pg-ha-rollout');
    expect(role.rules).toEqual([
      { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: ['pg-ha', 'pg-ha-etcd'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
      { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'patch'],
        resourceNames: ['pgdata-pg-ha-0', 'pgdata-pg-ha-1', 'pgdata-pg-ha-2', 'data-pg-ha-etcd-0', 'data-pg-ha-etcd-1', 'data-pg-ha-etcd-2'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['pg-ha-day2'], verbs: ['get', 'update'] },
    ]);
    expect(job.spec.template.spec.serviceAccountName).toBe('pg-ha-rollout');
  });

  test('ROLLOUT_PRIMARY=manual reaches the script; anything else is refused naming the setting', () => {
    expect(envOf(container(rolloutJob({ postgres: { rolloutPrimary: 'manual' } }), 'rollout')).ROLLOUT_PRIMARY.value).toBe('manual');
    expect(() => synth({ postgres: { rolloutPrimary: 'supervised' as any } })).toThrow('postgres.rolloutPrimary must be one of "auto", "manual" (got "supervised")');
  });

  test('without synchronous mode the switchover goes to the least lagging updated replica', () => {
    expect(envOf(container(rolloutJob({ patroni: { synchronousMode: false } }), 'rollout')).SYNCHRONOUS_MODE.value).toBe('false');
  });
});
