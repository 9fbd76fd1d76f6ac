/**
 * Dotted paths into PgHaSettings (`etcd.replicas`, `networkPolicies.enabled`), checked by the
 * compiler: a misspelled path does not compile, and `SettingValue<P>` is the type found there.
 */
import { k8s } from 'cdk8s-plus-28';
import { PgHaSettings } from './pg-ha-settings';

/** Values a path ends at: scalars, lists, quantities and maps (labels, parameters). */
type Value = string | number | boolean | readonly unknown[] | k8s.Quantity;
/** True for a map with free keys (`Record<string, string>`): a value, not a group of settings. */
type IsMap<T> = string extends keyof T ? true : false;

/** Every path in `T`: each group (`backups`, `backups.clone`) and each setting in it. */
export type SettingPath<T = PgHaSettings> = {
  [K in keyof T & string]-?: NonNullable<T[K]> extends Value ? K
    : IsMap<NonNullable<T[K]>> extends true ? K
      : K | `${K}.${SettingPath<NonNullable<T[K]>>}`;
}[keyof T & string];

/** The type at `P` in `T`. */
export type SettingValue<P extends string, T = PgHaSettings> =
  P extends `${infer Head}.${infer Rest}`
    ? Head extends keyof T ? SettingValue<Rest, NonNullable<T[Head]>> : never
    : P extends keyof T ? NonNullable<T[P]> : never;

/** A nested object of settings, as the functions below walk it. */
type Node = Record<string, unknown>;

const isGroup = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The value at `path` in `settings` (or in DEFAULTS, which has the same shape), undefined when unset. */
export function getSetting<P extends SettingPath>(settings: PgHaSettings, path: P): SettingValue<P> | undefined {
  let node: unknown = settings;
  for (const key of path.split('.')) {
    if (!isGroup(node)) return undefined;
    node = node[key];
  }
  return node as SettingValue<P> | undefined;
}

/** Sets `path` in `settings`, creating the groups on the way. */
export function setSetting<P extends SettingPath>(settings: PgHaSettings, path: P, value: SettingValue<P>): void {
  const keys = path.split('.');
  // PgHaSettings is read-only for its users; this is where a parser fills it.
  let node = settings as Node;
  for (const key of keys.slice(0, -1)) {
    if (!isGroup(node[key])) node[key] = {};
    node = node[key] as Node;
  }
  node[keys[keys.length - 1]] = value;
}

/**
 * The settings given under `group` (and their paths), depth first. A nested object is walked when
 * `isGroupPath` says it is a group of settings, and reported as one value otherwise (a label map).
 */
export function givenSettings(settings: PgHaSettings, group: SettingPath, isGroupPath: (path: string) => boolean): Array<[string, unknown]> {
  const walk = (value: unknown, path: string): Array<[string, unknown]> => {
    if (value === undefined) return [];
    if (isGroup(value) && isGroupPath(path)) return Object.entries(value).flatMap(([key, child]) => walk(child, `${path}.${key}`));
    return [[path, value]];
  };
  return walk(getSetting(settings, group), group);
}
