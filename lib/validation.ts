/**
 * Validation helpers shared by every construct.
 *
 * Every error names the setting, the value it got and what would be valid, so that
 * `npm run synth` can print it as is and exit non-zero before anything is written.
 */
import { isAbsolute, normalize } from 'path';
import { k8s } from 'cdk8s-plus-28';

/** A configuration error; `setting` is the prop path (e.g. `etcd.replicas`). */
export class ConfigError extends Error {
  constructor(
    public readonly setting: string,
    public readonly value: unknown,
    public readonly expected: string,
  ) {
    super(`${setting} must be ${expected} (got ${JSON.stringify(value)})`);
    this.name = 'ConfigError';
  }
}

/**
 * Several independent errors of one check (each parameter of POSTGRES_PARAMETERS, ...), thrown
 * together so that the synth reports them all; as a ConfigError it is the first of them.
 */
export class ConfigErrors extends ConfigError {
  constructor(public readonly errors: readonly ConfigError[]) {
    super(errors[0].setting, errors[0].value, errors[0].expected);
    this.message = errors.map((error) => error.message).join('\n');
    this.name = 'ConfigErrors';
  }
}

/** The errors `check` throws (those of a ConfigErrors one by one), none when it passes. */
export function configErrorsOf(check: () => void): ConfigError[] {
  try {
    check();
    return [];
  } catch (error) {
    if (error instanceof ConfigErrors) return [...error.errors];
    if (error instanceof ConfigError) return [error];
    throw error;
  }
}

/** Throws `errors` together: nothing when there is none, the error itself when there is one. */
export function throwAll(errors: readonly ConfigError[]): void {
  if (errors.length === 1) throw errors[0];
  if (errors.length) throw new ConfigErrors(errors);
}

/** Runs every check (each may throw a ConfigError) and throws the errors together, or returns the results. */
export function checkEach<T, R>(items: readonly T[], check: (item: T, index: number) => R): R[] {
  const errors: ConfigError[] = [];
  const results: R[] = [];
  items.forEach((item, index) => errors.push(...configErrorsOf(() => { results.push(check(item, index)); })));
  throwAll(errors);
  return results;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kubernetes resource quantity (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/). */
const QUANTITY = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const QUANTITY_SUFFIX = /^(|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][-+]?[0-9]+)$/;

/** A DNS-1123 label (lowercase alphanumerics and '-', at most `maxLength` characters). */
export function checkDnsLabel(setting: string, value: string, maxLength = 63): string {
  if (typeof value !== 'string' || value.length > maxLength || !DNS1123_LABEL.test(value)) {
    throw new ConfigError(
      setting,
      value,
      `a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most ${maxLength} characters`,
    );
  }
  return value;
}

/** A DNS-1123 subdomain (a host name such as `example.com`). */
export function checkDnsSubdomain(setting: string, value: string): string {
  if (typeof value !== 'string' || value.length > 253 || !DNS1123_SUBDOMAIN.test(value)) {
    throw new ConfigError(setting, value, 'a DNS-1123 subdomain such as "example.com" (lowercase, dot-separated labels)');
  }
  return value;
}

/** An integer in [min, max]. */
export function checkInt(setting: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(setting, value, `an integer from ${min} to ${max}`);
  }
  return value;
}

/** An odd integer in [min, max] (quorum members: an even count adds no fault tolerance). */
export function checkOddInt(setting: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max || value % 2 === 0) {
    throw new ConfigError(setting, value, `an odd integer from ${min} to ${max} (quorum needs a majority; an even count tolerates no more failures than the odd count below it)`);
  }
  return value;
}

/** A TCP port a Service may listen on. */
export function checkPort(setting: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new ConfigError(setting, value, 'a port from 1 to 65535');
  }
  return value;
}

/** A TCP port a program without capabilities can bind: 1024-65535. `why` says who binds it. */
export function checkUnprivilegedPort(setting: string, value: number, why = 'the router runs as a non-root user and binds this port itself'): number {
  if (!Number.isInteger(value) || value < 1024 || value > 65535) {
    throw new ConfigError(setting, value, `a port from 1024 to 65535 (${why})`);
  }
  return value;
}

/** A Kubernetes quantity such as `10Gi` or `500m`. */
export function checkQuantity(setting: string, value: string): string {
  const match = typeof value === 'string' ? QUANTITY.exec(value) : null;
  if (!match || !QUANTITY_SUFFIX.test(match[2]) || !/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$/.test(match[1])) {
    throw new ConfigError(setting, value, 'a Kubernetes quantity such as "10Gi", "512Mi" or "500m"');
  }
  return value;
}

/** A container image pinned to a tag or digest other than `latest`. */
export function checkImage(setting: string, value: string): string {
  const pinned = /^[a-z0-9][a-z0-9._\-/:]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$/;
  const lastSegment = typeof value === 'string' ? value.slice(value.lastIndexOf('/') + 1) : '';
  if (typeof value !== 'string' || !pinned.test(value) || !/[:@]/.test(lastSegment) || /:latest$/.test(value)) {
    throw new ConfigError(setting, value, 'an image reference pinned to a tag or digest other than "latest", e.g. "haproxy:3.3.1"');
  }
  return value;
}

/** One of a fixed set of values. */
export function checkOneOf<T extends string>(setting: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) {
    throw new ConfigError(setting, value, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  }
  return value;
}

/** Ports (or other numbers) that must differ; `why` ends the message. */
export function checkDistinct(settings: Record<string, number>, why = 'each router port needs its own number'): void {
  const seen = new Map<number, string>();
  for (const [name, value] of Object.entries(settings)) {
    const other = seen.get(value);
    if (other !== undefined) {
      throw new ConfigError(name, value, `different from ${other} (both are ${value}; ${why})`);
    }
    seen.set(value, name);
  }
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(|[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;

/** True when Kubernetes accepts `key` and `value` as a label. */
export function isLabel(key: string, value: string): boolean {
  return typeof key === 'string' && LABEL_KEY.test(key) && typeof value === 'string' && LABEL_VALUE.test(value);
}

/** A label key and value Kubernetes accepts. */
export function checkLabel(setting: string, key: string, value: string): void {
  if (typeof key !== 'string' || !LABEL_KEY.test(key)) {
    throw new ConfigError(setting, key, 'a label key such as "node-role.kubernetes.io/db" (optional DNS prefix and "/", then at most 63 letters, digits, "-", "_", ".")');
  }
  if (typeof value !== 'string' || !LABEL_VALUE.test(value)) {
    throw new ConfigError(`${setting}["${key}"]`, value, 'a label value: at most 63 letters, digits, "-", "_", ".", starting and ending with a letter or digit');
  }
}

/** An annotation key (same syntax as a label key). */
export function checkAnnotationKey(setting: string, key: string): string {
  if (typeof key !== 'string' || !LABEL_KEY.test(key)) {
    throw new ConfigError(setting, key, 'an annotation key such as "service.beta.kubernetes.io/aws-load-balancer-type" (optional DNS prefix and "/", then at most 63 letters, digits, "-", "_", ".")');
  }
  return key;
}

const IPV4_CIDR = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\/(3[0-2]|[12]?\d)$/;
const IPV6_CIDR = /^[0-9a-fA-F:]*:[0-9a-fA-F:]*\/(12[0-8]|1[01]\d|[1-9]?\d)$/;

/** An IPv4 or IPv6 address block in CIDR notation (`203.0.113.0/24`, `2001:db8::/32`). */
export function checkCidr(setting: string, value: string): string {
  const v6 = typeof value === 'string' && IPV6_CIDR.test(value) && (value.match(/::/g) ?? []).length <= 1
    && value.split('/')[0].split(':').every((group) => group.length <= 4);
  if (typeof value !== 'string' || !(IPV4_CIDR.test(value) || v6)) {
    throw new ConfigError(setting, value, 'an address block in CIDR notation, e.g. "203.0.113.0/24" or "2001:db8::/32"');
  }
  return value;
}

const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

/** A toleration Kubernetes accepts. */
export function checkToleration(setting: string, t: k8s.Toleration): void {
  if (t.key !== undefined && t.key !== '' && !LABEL_KEY.test(t.key)) {
    throw new ConfigError(`${setting}.key`, t.key, 'a taint key such as "dedicated" or "example.com/db"');
  }
  if (t.operator !== undefined) checkOneOf(`${setting}.operator`, t.operator as 'Equal' | 'Exists', ['Equal', 'Exists']);
  if (t.effect !== undefined && t.effect !== '') checkOneOf(`${setting}.effect`, t.effect as (typeof TAINT_EFFECTS)[number], TAINT_EFFECTS);
  if (t.operator === 'Exists' && t.value) {
    throw new ConfigError(`${setting}.value`, t.value, 'empty when operator is "Exists"');
  }
}

/** The prefix PostgreSQL reserves for its own roles (`pg_monitor`, ...). */
export const RESERVED_ROLE_PREFIX = 'pg_';

/** A PostgreSQL role name the chart can quote safely everywhere (lowercase identifier). */
export function checkRoleName(setting: string, value: string): string {
  if (typeof value !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(value) || value.startsWith(RESERVED_ROLE_PREFIX)) {
    throw new ConfigError(setting, value, `a lowercase PostgreSQL identifier (letters, digits, "_"; not starting with a digit or "${RESERVED_ROLE_PREFIX}"; at most 63 characters)`);
  }
  return value;
}

/**
 * Roles the init Job creates, each a role of its own: not one of `reserved` (name -> what it is),
 * nor one listed before it. All are checked; the errors are thrown together.
 */
export function checkOwnRoles(roles: ReadonlyArray<{ setting: string; role: string; usedBy: string }>, reserved: Readonly<Record<string, string>>): void {
  checkEach(roles, ({ setting, role }, index) => {
    const taken: Record<string, string> = { ...reserved };
    for (const earlier of roles.slice(0, index)) taken[earlier.role] ??= `${earlier.usedBy} (${earlier.setting})`;
    const owner = taken[role];
    if (owner === undefined) return;
    const list = Object.entries(taken).map(([name, what]) => `${name} (${what})`).join(', ');
    throw new ConfigError(setting, role, `a role of its own, not ${owner}: the init Job sets the password of ${setting}'s role. `
      + `Taken: ${list}, and names starting with "${RESERVED_ROLE_PREFIX}"`);
  });
}

/** A directory inside the repository, relative to its root (normalized). */
export function checkRepoPath(setting: string, value: string): string {
  const normal = normalize(value).replace(/\\/g, '/').replace(/\/$/, '');
  if (value === '' || isAbsolute(value) || normal === '..' || normal.startsWith('../') || /\s/.test(value)) {
    throw new ConfigError(setting, value, 'a directory relative to the repository root, inside it, e.g. "dist"');
  }
  return normal;
}

const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/;

/** A 5-field cron schedule (minute hour day-of-month month day-of-week); returned with single spaces. */
export function checkCronSchedule(setting: string, value: string): string {
  const fields = value.trim().split(/\s+/);
  if (fields.length !== 5 || !fields.every((f) => CRON_FIELD.test(f))) {
    throw new ConfigError(setting, value, 'a 5-field cron schedule such as "0 1 * * *" (minute hour day-of-month month day-of-week)');
  }
  return fields.join(' ');
}

/** A point in time with a time zone, as PostgreSQL's recovery_target_time reads it. */
export function checkTimestampWithZone(setting: string, value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}(:\d{2})?|Z)$/.test(value)) {
    throw new ConfigError(setting, value, 'a timestamp with a time zone, e.g. "2026-11-26 05:00:00+00:00"');
  }
  return value;
}

/** A Prometheus duration such as `30s`. */
export function checkPrometheusDuration(setting: string, value: string): string {
  if (!/^[1-9][0-9]*(ms|s|m|h)$/.test(value)) {
    throw new ConfigError(setting, value, 'a Prometheus duration such as "30s" or "1m"');
  }
  return value;
}

/** A Git URL over https, ssh or git, or in scp form (`git@host:path`). */
export function checkGitUrl(setting: string, value: string): string {
  if (typeof value !== 'string' || !/^(?:(?:https?|ssh|git):\/\/[^\s/]+\/\S+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\S+)$/.test(value)) {
    throw new ConfigError(setting, value, 'a Git URL such as "https://github.com/you/pg-ha-cdk8s.git" or "git@github.com:you/pg-ha-cdk8s.git"');
  }
  return value;
}

/** A branch, tag or commit name. */
export function checkGitRevision(setting: string, value: string): string {
  if (!/^[A-Za-z0-9._\-/]+$/.test(value) || value.includes('..')) {
    throw new ConfigError(setting, value, 'a branch, tag or commit (letters, digits, ".", "_", "-", "/")');
  }
  return value;
}

/** An https:// URL of a Kubernetes API server. */
export function checkApiServerUrl(setting: string, value: string): string {
  if (!/^https:\/\/[^\s/]+(\/\S*)?$/.test(value)) {
    throw new ConfigError(setting, value, 'an https:// URL of a Kubernetes API server, e.g. "https://kubernetes.default.svc"');
  }
  return value;
}
