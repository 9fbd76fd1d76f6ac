/**
 * Backups: off by default and said so on the StatefulSet; when on, exactly Spilo's env names
 * (zalando/spilo 4.0-p3 configure_spilo.py), credentials only through a Secret.
 */
import { BACKUP_ANNOTATION, backupConfiguration, BackupSettings, PgHaSettings, settingsFromVariables } from '../../lib';
import { container } from '../support/manifests';
import { synth } from '../support/synth';

const spilo = (settings: PgHaSettings) => {
  const sts = synth(settings).get('StatefulSet', 'pg-ha');
  const env: any[] = container(sts, 'postgres').env;
  return { sts, env, names: env.map((e) => e.name) };
};
const ON: BackupSettings = { enabled: true, bucket: 'pg-backups', credentialsSecret: 'pg-ha-s3', endpoint: 'https://minio.example.com:9000' };
const WALG_VARS = ['USE_WALG_BACKUP', 'USE_WALG_RESTORE', 'WALG_S3_PREFIX', 'WAL_S3_BUCKET', 'AWS_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'BACKUP_SCHEDULE', 'CLONE_METHOD'];

describe('backups', () => {
  test('are off by default, and the StatefulSet says so plainly', () => {
    const { sts, names } = spilo({});
    expect(names.filter((n) => WALG_VARS.includes(n))).toEqual([]);
    expect(sts.metadata.annotations[BACKUP_ANNOTATION]).toMatch(/^disabled \(archive_command=\/bin\/true: no WAL archive, no point-in-time recovery/);
  });

  test('when on, Spilo gets WAL-G with the S3 prefix, endpoint, schedule and retention', () => {
    const { sts, env } = spilo({ backups: { ...ON, schedule: '30 2 * * *', numToRetain: 7 } });
    const plain = Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    expect(plain).toMatchObject({
      USE_WALG_BACKUP: 'true',
      USE_WALG_RESTORE: 'true',
      // Spilo's own layout, so an operator-managed Spilo would find it too.
      WALG_S3_PREFIX: 's3://pg-backups/spilo/pg-ha-pg-ha/wal/17',
      AWS_ENDPOINT: 'https://minio.example.com:9000',
      AWS_REGION: 'us-east-1',
      AWS_S3_FORCE_PATH_STYLE: 'true',
      BACKUP_SCHEDULE: '30 2 * * *',
      BACKUP_NUM_TO_RETAIN: '7',
    });
    expect(sts.metadata.annotations[BACKUP_ANNOTATION]).toBe('enabled: WAL-G to s3://pg-backups/spilo/pg-ha-pg-ha/wal/17 at https://minio.example.com:9000');
  });

  test('S3 credentials come only from the named Secret, never as literals', () => {
    const { env } = spilo({ backups: { ...ON, clone: { s3Prefix: 's3://old/spilo/pg-ha/wal/17' } } });
    const credentials = env.filter((e) => /ACCESS_KEY|SECRET/.test(e.name));
    expect(credentials.map((e) => e.name)).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'CLONE_AWS_ACCESS_KEY_ID', 'CLONE_AWS_SECRET_ACCESS_KEY']);
    for (const e of credentials) {
      expect(e.value).toBeUndefined();
      expect(e.valueFrom.secretKeyRef.name).toBe('pg-ha-s3');
    }
  });

  test('a clone bootstraps from another cluster\'s archive, up to a point in time', () => {
    const { env } = spilo({ backups: { ...ON, clone: { s3Prefix: 's3://old/spilo/pg-ha-old/wal/17/', scope: 'pg-ha-old', targetTime: '2026-11-26 05:00:00+00:00' } } });
    const plain = Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    expect(plain).toMatchObject({
      CLONE_METHOD: 'CLONE_WITH_WALE',
      CLONE_SCOPE: 'pg-ha-old',
      CLONE_WALG_S3_PREFIX: 's3://old/spilo/pg-ha-old/wal/17',
      CLONE_USE_WALG_RESTORE: 'true',
      CLONE_TARGET_TIME: '2026-11-26 05:00:00+00:00',
      CLONE_AWS_ENDPOINT: 'https://minio.example.com:9000',
    });
  });

  test('the NetworkPolicy lets the Postgres pods reach the backup endpoint\'s port', () => {
    const egressPorts = (settings: PgHaSettings) => {
      const policy = synth(settings).get('NetworkPolicy', 'pg-ha-postgres');
      return [...new Set(policy.spec.egress.flatMap((e: any) => (e.ports ?? []).map((p: any) => p.port)))];
    };
    expect(egressPorts({ backups: ON })).toEqual(expect.arrayContaining([443, 9000]));
    expect(egressPorts({})).not.toContain(9000);
    // An explicit list without the endpoint's port is an error, not a silently blocked backup.
    expect(() => synth({ backups: ON, networkPolicies: { objectStoragePorts: [443] } }))
      .toThrow(/networkPolicies.objectStoragePorts must be a list that includes 9000, the port of the backup endpoint/);
    expect(backupConfiguration({ ...ON, endpoint: 'http://minio' }, { scope: 'pg-ha', namespace: 'pg-ha', pgVersion: 17 }).storagePort).toBe(80);
    expect(backupConfiguration({ ...ON, endpoint: undefined }, { scope: 'pg-ha', namespace: 'pg-ha', pgVersion: 17 }).storagePort).toBe(443);
  });

  test('the env settings reach the chart', () => {
    const settings = settingsFromVariables({
      BACKUPS: 'true', BACKUP_S3_BUCKET: 'b-1', BACKUP_CREDENTIALS_SECRET: 's3', BACKUP_S3_PREFIX: 'x/y', BACKUP_NUM_TO_RETAIN: '3', CLONE_FROM_S3_PREFIX: 's3://a/b',
    });
    expect(settings.backups).toEqual({ enabled: true, bucket: 'b-1', credentialsSecret: 's3', prefix: 'x/y', numToRetain: 3, clone: { s3Prefix: 's3://a/b' } });
  });

  describe('validation (every rule, with what would be valid)', () => {
    const ctx = { scope: 'pg-ha', namespace: 'pg-ha', pgVersion: 17 };
    const check = (settings: BackupSettings) => () => backupConfiguration(settings, ctx);
    test.each<[string, BackupSettings, RegExp]>([
      // backupConfiguration applies the one rule for features that are off (all its cases: test/settings/optional-features.test.ts).
      ['a bucket without enabling', { bucket: 'b-1' }, /backups.bucket must be unset while backups.enabled is false \(BACKUPS=false\)/],
      ['no bucket', { enabled: true, credentialsSecret: 's' }, /backups.bucket must be an S3 bucket name/],
      ['a bad bucket', { ...ON, bucket: 'Bad_Bucket' }, /backups.bucket must be an S3 bucket name/],
      ['a bad prefix', { ...ON, prefix: 'a b' }, /backups.prefix must be a path inside the bucket/],
      ['an endpoint with a path', { ...ON, endpoint: 'https://minio/x' }, /backups.endpoint must be an http\(s\) URL/],
      ['a bad region', { ...ON, region: 'US East' }, /backups.region must be a region name/],
      ['virtual-host style with an endpoint', { ...ON, forcePathStyle: false }, /backups.forcePathStyle must be true when an endpoint is set/],
      ['no credentials Secret', { enabled: true, bucket: 'b-1' }, /backups.credentialsSecret must be the name of a Secret with the keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/],
      ['a bad Secret name', { ...ON, credentialsSecret: 'My Secret' }, /backups.credentialsSecret must be a DNS-1123 label/],
      ['a 6-field schedule', { ...ON, schedule: '0 0 1 * * *' }, /backups.schedule must be a 5-field cron schedule/],
      ['a schedule with words', { ...ON, schedule: '@daily' }, /backups.schedule must be a 5-field cron schedule/],
      ['retention below 2', { ...ON, numToRetain: 1 }, /backups.numToRetain must be an integer from 2 to 1000/],
      ['a clone prefix that is not s3://', { ...ON, clone: { s3Prefix: 'https://a/b' } }, /backups.clone.s3Prefix must be the source cluster's WALG_S3_PREFIX/],
      ['a clone of its own archive', { ...ON, clone: { s3Prefix: 's3://pg-backups/spilo/pg-ha-pg-ha/wal/17' } }, /backups.clone.s3Prefix must be different from this cluster's own prefix/],
      ['a target time without a zone', { ...ON, clone: { s3Prefix: 's3://old-bucket/b', targetTime: '2026-11-26 05:00:00' } }, /backups.clone.targetTime must be a timestamp with a time zone/],
      ['a bad clone scope', { ...ON, clone: { s3Prefix: 's3://old-bucket/b', scope: 'Old_Scope' } }, /backups.clone.scope must be a DNS-1123 label/],
    ])('rejects %s', (_, settings, message) => {
      expect(check(settings)).toThrow(message);
    });
    test('BACKUPS must be true or false', () => {
      expect(() => settingsFromVariables({ BACKUPS: 'on' })).toThrow(/BACKUPS must be "true" or "false"/);
    });
  });
});
