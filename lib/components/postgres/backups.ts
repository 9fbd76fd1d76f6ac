/**
 * Optional continuous archiving and base backups with WAL-G to S3-compatible storage, configured
 * through Spilo's own environment variables (zalando/spilo 4.0-p3, postgres-appliance/scripts/configure_spilo.py
 * and ENVIRONMENT.rst), and an optional clone/point-in-time restore from such an archive at bootstrap.
 *
 * Off by default. Spilo then sets `archive_command = /bin/true`: WAL is not kept anywhere and there
 * is no point-in-time recovery. The StatefulSet says so in its BACKUP_ANNOTATION either way.
 */
import { k8s } from 'cdk8s-plus-28';
import { DEFAULTS } from '../../settings/defaults';
import { BackupSettings } from '../../settings/feature-settings';
import { checkOptionalFeatures } from '../../settings/optional-features';
import { checkCronSchedule, checkDnsLabel, checkInt, checkTimestampWithZone, ConfigError } from '../../validation';
import { secretEnv } from '../../k8s/workload';

/** Annotation on the Postgres StatefulSet that states whether WAL archiving is on. */
export const BACKUP_ANNOTATION = 'pg-ha.cdk8s.io/backups';

/** Keys the credentials Secret must have (the names WAL-G and Spilo read). */
export const BACKUP_SECRET_KEYS = { accessKeyId: 'AWS_ACCESS_KEY_ID', secretAccessKey: 'AWS_SECRET_ACCESS_KEY' } as const;

/** What the backup settings do to the Spilo container and the StatefulSet. */
export interface BackupConfiguration {
  readonly enabled: boolean;
  /** Env vars for the Spilo container. */
  readonly env: k8s.EnvVar[];
  /** Value of BACKUP_ANNOTATION. */
  readonly annotation: string;
  /** The full WAL-G prefix (`s3://bucket/path`), when enabled. */
  readonly walgPrefix?: string;
  /** The TCP port Spilo reaches the object storage on (443 for AWS S3), when enabled. */
  readonly storagePort?: number;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX = /^[A-Za-z0-9!_.*'()\-/]+$/;
const S3_URL = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9!_.*'()\-/]*)?$/;

/**
 * Validates the backup settings and returns the Spilo env vars.
 * Throws ConfigError naming the setting for anything Spilo would silently ignore or misread.
 */
export function backupConfiguration(settings: BackupSettings, context: { scope: string; namespace: string; pgVersion: number }): BackupConfiguration {
  checkOptionalFeatures({ backups: settings });
  const env: k8s.EnvVar[] = [];
  const enabled = settings.enabled ?? DEFAULTS.backups.enabled;
  let walgPrefix: string | undefined;
  let endpoint: string | undefined;
  let region: string = DEFAULTS.backups.region;
  let forcePathStyle: boolean = DEFAULTS.backups.forcePathStyle;
  let secret: string | undefined;

  const s3Settings = (prefix: string, vars: Record<string, string>) => {
    if (endpoint) vars[`${prefix}AWS_ENDPOINT`] = endpoint;
    vars[`${prefix}AWS_REGION`] = region;
    vars[`${prefix}AWS_S3_FORCE_PATH_STYLE`] = String(forcePathStyle);
    return vars;
  };

  if (enabled) {
    if (settings.bucket === undefined || !BUCKET.test(settings.bucket)) {
      throw new ConfigError('backups.bucket', settings.bucket, 'an S3 bucket name (3-63 lowercase letters, digits, "." and "-") when backups are enabled');
    }
    const prefix = (settings.prefix ?? `spilo/${context.namespace}-${context.scope}/wal/${context.pgVersion}`).replace(/^\/+|\/+$/g, '');
    if (!PREFIX.test(prefix) || prefix.includes('//')) {
      throw new ConfigError('backups.prefix', settings.prefix, 'a path inside the bucket such as "spilo/pg-ha/wal/17" (letters, digits, "/", "-", "_", ".")');
    }
    walgPrefix = `s3://${settings.bucket}/${prefix}`;
    if (settings.endpoint !== undefined) {
      if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/.test(settings.endpoint)) {
        throw new ConfigError('backups.endpoint', settings.endpoint, 'an http(s) URL of the S3 endpoint without a path, e.g. "https://minio.example.com:9000"');
      }
      endpoint = settings.endpoint.replace(/\/$/, '');
    }
    region = settings.region ?? region;
    if (!/^[a-z0-9-]{2,32}$/.test(region)) {
      throw new ConfigError('backups.region', region, 'a region name such as "us-east-1"');
    }
    forcePathStyle = settings.forcePathStyle ?? DEFAULTS.backups.forcePathStyle;
    if (endpoint && !forcePathStyle) {
      throw new ConfigError('backups.forcePathStyle', false, 'true when an endpoint is set (Spilo always uses path-style addressing with AWS_ENDPOINT)');
    }
    if (settings.credentialsSecret === undefined) {
      throw new ConfigError('backups.credentialsSecret', undefined, `the name of a Secret with the keys ${Object.values(BACKUP_SECRET_KEYS).join(' and ')} when backups are enabled`);
    }
    secret = checkDnsLabel('backups.credentialsSecret', settings.credentialsSecret, 253);
    const schedule = checkCronSchedule('backups.schedule', settings.schedule ?? DEFAULTS.backups.schedule);
    const numToRetain = checkInt('backups.numToRetain', settings.numToRetain ?? DEFAULTS.backups.numToRetain, 2, 1000);

    env.push(
      ...toEnv(s3Settings('', {
        USE_WALG_BACKUP: 'true',
        USE_WALG_RESTORE: 'true',
        WALG_S3_PREFIX: walgPrefix,
      })),
      secretEnv('AWS_ACCESS_KEY_ID', secret, BACKUP_SECRET_KEYS.accessKeyId),
      secretEnv('AWS_SECRET_ACCESS_KEY', secret, BACKUP_SECRET_KEYS.secretAccessKey),
      ...toEnv({ BACKUP_SCHEDULE: schedule, BACKUP_NUM_TO_RETAIN: String(numToRetain) }),
    );
  }

  const clone = settings.clone ?? {};
  if (clone.s3Prefix !== undefined) {
    if (!S3_URL.test(clone.s3Prefix)) {
      throw new ConfigError('backups.clone.s3Prefix', clone.s3Prefix, 'the source cluster\'s WALG_S3_PREFIX, "s3://bucket/path"');
    }
    if (clone.s3Prefix.replace(/\/$/, '') === walgPrefix) {
      throw new ConfigError('backups.clone.s3Prefix', clone.s3Prefix, `different from this cluster's own prefix ${walgPrefix} (a clone must archive elsewhere, or it would mix two timelines in one archive)`);
    }
    const cloneScope = checkDnsLabel('backups.clone.scope', clone.scope ?? context.scope);
    if (clone.targetTime !== undefined) checkTimestampWithZone('backups.clone.targetTime', clone.targetTime);
    env.push(
      ...toEnv(s3Settings('CLONE_', {
        CLONE_METHOD: 'CLONE_WITH_WALE',
        CLONE_SCOPE: cloneScope,
        CLONE_WALG_S3_PREFIX: clone.s3Prefix.replace(/\/$/, ''),
        CLONE_USE_WALG_RESTORE: 'true',
        ...(clone.targetTime ? { CLONE_TARGET_TIME: clone.targetTime } : {}),
      })),
      secretEnv('CLONE_AWS_ACCESS_KEY_ID', secret!, BACKUP_SECRET_KEYS.accessKeyId),
      secretEnv('CLONE_AWS_SECRET_ACCESS_KEY', secret!, BACKUP_SECRET_KEYS.secretAccessKey),
    );
  }

  const annotation = enabled
    ? `enabled: WAL-G to ${walgPrefix}${endpoint ? ` at ${endpoint}` : ''}`
    : 'disabled (archive_command=/bin/true: no WAL archive, no point-in-time recovery; see BACKUPS in the README)';
  const storagePort = !enabled ? undefined
    : endpoint ? Number(/:(\d+)$/.exec(endpoint)?.[1] ?? (endpoint.startsWith('https:') ? 443 : 80)) : 443;
  return { enabled, env, annotation, walgPrefix, storagePort };
}

function toEnv(values: Record<string, string>): k8s.EnvVar[] {
  return Object.entries(values).map(([name, value]) => ({ name, value }));
}
