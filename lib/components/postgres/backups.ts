/**
 * Optional continuous archiving and base backups with WAL-G to S3-compatible storage, configured
 * through Spilo's own environment variables (zalando/spilo 4.0-p3, scripts/configure_spilo.py and
 * ENVIRONMENT.rst), and an optional clone/point-in-time restore from such an archive at bootstrap.
 *
 * Off by default. Spilo then sets `archive_command = /bin/true`: WAL is not kept anywhere and there
 * is no point-in-time recovery. The StatefulSet says so in its BACKUP_ANNOTATION either way.
 */
import { k8s } from 'cdk8s-plus-28';
import { checkDnsLabel, checkInt, ConfigError } from '../../validation';
import { secretEnv } from '../../k8s/workload';

/** Annotation on the Postgres StatefulSet that states whether WAL archiving is on. */
export const BACKUP_ANNOTATION = 'pg-ha.cdk8s.io/backups';

/** Keys the credentials Secret must have (the names WAL-G and Spilo read). */
export const BACKUP_SECRET_KEYS = { accessKeyId: 'AWS_ACCESS_KEY_ID', secretAccessKey: 'AWS_SECRET_ACCESS_KEY' } as const;

export interface CloneSettings {
  /**
   * WAL-G prefix of the cluster to copy, `s3://bucket/path` (its `WALG_S3_PREFIX`) (CLONE_FROM_S3_PREFIX).
   * Setting it makes a brand-new cluster bootstrap from that archive instead of initdb.
   * @default - no clone: a new cluster starts empty
   */
  readonly s3Prefix?: string;
  /**
   * SCOPE of the cluster to copy (CLONE_FROM_SCOPE).
   * @default - this cluster's scope
   */
  readonly scope?: string;
  /**
   * Recover up to this moment, e.g. `2026-11-26 05:00:00+00:00` (CLONE_TARGET_TIME).
   * @default - the end of the archive (latest)
   */
  readonly targetTime?: string;
}

export interface BackupSettings {
  /**
   * Archive WAL and take base backups with WAL-G (BACKUPS).
   * @default false
   */
  readonly enabled?: boolean;
  /** S3 bucket (BACKUP_S3_BUCKET); required when enabled. */
  readonly bucket?: string;
  /**
   * Path inside the bucket (BACKUP_S3_PREFIX).
   * @default - `spilo/<namespace>-<scope>/wal/<pgVersion>` (Spilo's own layout)
   */
  readonly prefix?: string;
  /**
   * S3 endpoint of non-AWS storage, e.g. `https://minio.example.com:9000` (BACKUP_S3_ENDPOINT).
   * With an endpoint, Spilo always uses path-style addressing.
   * @default - AWS S3 of `region`
   */
  readonly endpoint?: string;
  /**
   * Region (BACKUP_S3_REGION).
   * @default 'us-east-1'
   */
  readonly region?: string;
  /**
   * Path-style bucket addressing (AWS_S3_FORCE_PATH_STYLE), for storage without virtual-host buckets
   * (BACKUP_S3_FORCE_PATH_STYLE). Spilo forces it on whenever `endpoint` is set.
   * @default true
   */
  readonly forcePathStyle?: boolean;
  /**
   * Existing Secret with the keys `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (BACKUP_CREDENTIALS_SECRET);
   * required when enabled. Without keys Spilo falls back to an EC2 instance profile, which a pod rarely has.
   */
  readonly credentialsSecret?: string;
  /**
   * Cron schedule of the base backup (BACKUP_SCHEDULE), run on the primary by Spilo's cron.
   * @default '0 1 * * *'
   */
  readonly schedule?: string;
  /**
   * Base backups to keep; Spilo keeps at least this many backups and days, and never fewer than 2
   * (BACKUP_NUM_TO_RETAIN).
   * @default 5
   */
  readonly numToRetain?: number;
  /** @default - no clone */
  readonly clone?: CloneSettings;
}

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
const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/;

/**
 * Validates the backup settings and returns the Spilo env vars.
 * Throws ConfigError naming the setting for anything Spilo would silently ignore or misread.
 */
export function backupConfiguration(settings: BackupSettings, context: { scope: string; namespace: string; pgVersion: number }): BackupConfiguration {
  const env: k8s.EnvVar[] = [];
  const enabled = settings.enabled ?? false;
  let walgPrefix: string | undefined;
  let endpoint: string | undefined;
  let region = 'us-east-1';
  let forcePathStyle = true;
  let secret: string | undefined;

  const given = Object.entries(settings).filter(([key, value]) => key !== 'enabled' && key !== 'clone' && value !== undefined).map(([key]) => `backups.${key}`);
  if (!enabled && given.length > 0) {
    throw new ConfigError('backups.enabled', false, `true when ${given.join(', ')} ${given.length > 1 ? 'are' : 'is'} set (BACKUPS=true), or unset them: backups stay off unless you say so`);
  }

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
    forcePathStyle = settings.forcePathStyle ?? true;
    if (endpoint && !forcePathStyle) {
      throw new ConfigError('backups.forcePathStyle', false, 'true when an endpoint is set (Spilo always uses path-style addressing with AWS_ENDPOINT)');
    }
    if (settings.credentialsSecret === undefined) {
      throw new ConfigError('backups.credentialsSecret', undefined, `the name of a Secret with the keys ${Object.values(BACKUP_SECRET_KEYS).join(' and ')} when backups are enabled`);
    }
    secret = checkDnsLabel('backups.credentialsSecret', settings.credentialsSecret, 253);
    const schedule = settings.schedule ?? '0 1 * * *';
    const fields = schedule.trim().split(/\s+/);
    if (fields.length !== 5 || !fields.every((f) => CRON_FIELD.test(f))) {
      throw new ConfigError('backups.schedule', schedule, 'a 5-field cron schedule such as "0 1 * * *" (minute hour day-of-month month day-of-week)');
    }
    const numToRetain = checkInt('backups.numToRetain', settings.numToRetain ?? 5, 2, 1000);

    env.push(
      ...toEnv(s3Settings('', {
        USE_WALG_BACKUP: 'true',
        USE_WALG_RESTORE: 'true',
        WALG_S3_PREFIX: walgPrefix,
      })),
      secretEnv('AWS_ACCESS_KEY_ID', secret, BACKUP_SECRET_KEYS.accessKeyId),
      secretEnv('AWS_SECRET_ACCESS_KEY', secret, BACKUP_SECRET_KEYS.secretAccessKey),
      ...toEnv({ BACKUP_SCHEDULE: fields.join(' '), BACKUP_NUM_TO_RETAIN: String(numToRetain) }),
    );
  }

  const clone = settings.clone ?? {};
  if (clone.s3Prefix !== undefined) {
    if (!enabled) {
      throw new ConfigError('backups.clone.s3Prefix', clone.s3Prefix, 'unset unless backups are enabled (the clone reads the archive with the same endpoint and credentials)');
    }
    if (!S3_URL.test(clone.s3Prefix)) {
      throw new ConfigError('backups.clone.s3Prefix', clone.s3Prefix, 'the source cluster\'s WALG_S3_PREFIX, "s3://bucket/path"');
    }
    if (clone.s3Prefix.replace(/\/$/, '') === walgPrefix) {
      throw new ConfigError('backups.clone.s3Prefix', clone.s3Prefix, `different from this cluster's own prefix ${walgPrefix} (a clone must archive elsewhere, or it would mix two timelines in one archive)`);
    }
    const cloneScope = checkDnsLabel('backups.clone.scope', clone.scope ?? context.scope);
    if (clone.targetTime !== undefined && !/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:\d{2})?|Z)$/.test(clone.targetTime)) {
      throw new ConfigError('backups.clone.targetTime', clone.targetTime, 'a timestamp with a time zone, e.g. "2026-11-26 05:00:00+00:00"');
    }
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
  } else if (clone.scope !== undefined || clone.targetTime !== undefined) {
    throw new ConfigError('backups.clone.s3Prefix', undefined, 'set when CLONE_FROM_SCOPE or CLONE_TARGET_TIME is set (it names the archive to clone from)');
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
