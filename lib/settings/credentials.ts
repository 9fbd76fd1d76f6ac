/**
 * The database roles the chart's programs log in as, and the keys of the credentials Secret that
 * holds their passwords. Facts the settings layer needs too (the compose deployment's role and
 * password variables, compose-variables.ts), so they live here rather than in the components.
 */

/** The superuser and replication roles Spilo configures Patroni with. */
export const SUPERUSER = 'postgres';
export const REPLICATION_USER = 'standby';
/** The user of Patroni's unsafe REST endpoints (its password is the Secret's `restapi` key). */
export const REST_API_USER = 'patroni';

/**
 * The keys of the credentials Secret: the ONE list of what this version of the chart reads from it.
 * Add a key here and the secrets Job adds it (random) to an already generated Secret on the next
 * apply, leaving the keys already there untouched; with `existingSecret` the Job stops, naming it.
 */
export const CREDENTIAL_KEYS = {
  /** Patroni's superuser (`postgres`): Patroni, the init Job. */
  superuser: 'superuser-password',
  /** The replication user (`standby`): replicas streaming from the leader. */
  replication: 'replication-password',
  /** The application user (`POSTGRES_USER`). */
  app: 'app-password',
  /** The monitoring user the exporters log in as (member of pg_monitor). */
  monitor: 'monitor-password',
  /** Patroni's REST API user (`patroni`) for unsafe endpoints: members, patronictl, the converge Job. */
  restapi: 'patroni-api-password',
  /** PgBouncer's password-lookup role (`POOLER_USER`), used only when the pooler is on. */
  pooler: 'pooler-password',
  /** etcd's `root` user (administration, the etcd access Job), only with etcd auth. */
  etcdRoot: 'etcd-root-password',
  /** etcd's `patroni` user (Patroni's key prefix only), only with etcd auth. */
  etcdPatroni: 'etcd-patroni-password',
} as const;

/** A role whose password lives in the credentials Secret. */
export type Credential = keyof typeof CREDENTIAL_KEYS;

/** What a program cannot take in a password, and why (the secrets Job checks an EXISTING_SECRET against it). */
export interface CredentialLimit {
  /** The longest value, in UTF-8 bytes. */
  readonly maxBytes?: number;
  /** A text the value must not contain. */
  readonly forbidden?: string;
  /** Why, in the secrets Job's message. */
  readonly why: string;
}

const BCRYPT: CredentialLimit = { maxBytes: 72, why: 'etcd keeps its users\' passwords with bcrypt, which takes at most 72 bytes' };
const PATRONI_DO_BLOCK: CredentialLimit = {
  forbidden: '$$',
  why: 'Patroni sets this role\'s password at bootstrap inside a `DO $$ ... $$` block (create_or_update_role), which a $$ in it ends',
};

/**
 * The limits of each credential, beyond "printable characters" (which every program takes, each
 * quoted for where it goes). Generated passwords (60 bytes of URL-safe base64) meet them all.
 */
export const CREDENTIAL_LIMITS: Partial<Record<Credential, CredentialLimit>> = {
  superuser: PATRONI_DO_BLOCK,
  replication: PATRONI_DO_BLOCK,
  etcdRoot: BCRYPT,
  etcdPatroni: BCRYPT,
};

/** Credentials only an optional feature reads: the Secret needs them only while the feature is on. */
export const FEATURE_CREDENTIALS: readonly Credential[] = ['pooler', 'etcdRoot', 'etcdPatroni'];
