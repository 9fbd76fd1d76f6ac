/**
 * The compose deployment's `.env.postgres`, read as a `pg-ha.env`: its users try their file first.
 * Most of its variables are settings (env-table.ts). The rest are either derived in Kubernetes
 * (accepted, explained once, with a warning when the given value cannot be the derived one) or
 * passwords (refused: pg-ha.env is committed to git; the message gives the command that puts the
 * password into the credentials Secret). An unknown name gets the closest known one.
 */
import { ClusterContext, etcdClientEndpoints, postgresPodNames } from './cluster-names';
import { CREDENTIAL_KEYS, Credential, REPLICATION_USER, SUPERUSER } from './credentials';
import { DEFAULTS } from './defaults';
import { SETTINGS } from './env-table';
import { PgHaSettings } from './pg-ha-settings';
import { SettingProblem } from './setting-problems';

/** A compose variable whose value Kubernetes decides. */
export interface DerivedVariable {
  readonly env: string;
  /** What it is and where its value comes from here. */
  readonly explanation: string;
  /** The values the chart uses (one or one per member). */
  readonly derived: (settings: PgHaSettings, cluster: ClusterContext) => string[];
  /** Whether a given value is the derived one. */
  readonly matches: (given: string, derived: string[]) => boolean;
}

const sameSet = (given: string, derived: string[]) => {
  const items = given.split(',').map((item) => item.trim()).filter((item) => item !== '').sort();
  return items.join(',') === [...derived].sort().join(',');
};

/** Compose variables that the chart derives from the Services and pod names it creates. */
export const DERIVED_VARIABLES: readonly DerivedVariable[] = [
  {
    env: 'ETCD3_HOSTS',
    explanation: 'Patroni\'s etcd endpoints are the etcd pods behind their headless Service, on ETCD_CLIENT_PORT',
    derived: (settings, cluster) => etcdClientEndpoints(cluster, settings.etcd?.replicas ?? DEFAULTS.etcd.replicas, settings.etcd?.clientPort ?? DEFAULTS.etcd.clientPort),
    matches: sameSet,
  },
  {
    env: 'PATRONI_NAME',
    explanation: 'each member\'s Patroni name is its pod name, <SCOPE>-0 to <SCOPE>-<POSTGRES_REPLICAS - 1>',
    derived: (settings, cluster) => postgresPodNames(cluster, settings.postgres?.replicas ?? DEFAULTS.postgres.replicas),
    matches: (given, derived) => derived.includes(given.trim()),
  },
  {
    env: 'PGUSER_SUPERUSER',
    explanation: 'Patroni\'s superuser is Spilo\'s',
    derived: () => [SUPERUSER],
    matches: (given, derived) => derived.includes(given.trim()),
  },
  {
    env: 'PGUSER_STANDBY',
    explanation: 'the replication role is Spilo\'s',
    derived: () => [REPLICATION_USER],
    matches: (given, derived) => derived.includes(given.trim()),
  },
];

/** A name that holds a password (or another secret): never a setting. */
export function isPasswordVariable(name: string): boolean {
  return /PASSWORD|PASSWD|(^|_)PASS$|^PGPASS|SECRET_KEY|_TOKEN$/.test(name.toUpperCase());
}

/** The compose deployment's (and Spilo's) password variables, by the credential they hold here. */
const PASSWORD_VARIABLES: ReadonlyMap<string, Credential> = new Map<string, Credential>([
  ['PGPASSWORD_SUPERUSER', 'superuser'],
  ['PGPASSWORD_STANDBY', 'replication'],
  ['POSTGRES_PASSWORD', 'app'],
  ['DATA_SOURCE_PASS', 'monitor'],
  ['MONITOR_PASSWORD', 'monitor'],
]);

/**
 * The problem for the password variables of the file (`where`: `pg-ha.env:7`): the values are never
 * shown; the message gives the command that creates the credentials Secret from the compose file's
 * variables.
 */
export function passwordVariableProblem(passwords: ReadonlyArray<{ where: string; key: string }>, fileVars: Record<string, string>): SettingProblem {
  const namespace = fileVars.NAMESPACE || DEFAULTS.namespace;
  const secret = fileVars.EXISTING_SECRET || `${fileVars.SCOPE || DEFAULTS.scope}-credentials`;
  const given = new Set(passwords.map((p) => p.key));
  const sourceOf = (credential: Credential) => [...PASSWORD_VARIABLES].find(([env, held]) => held === credential && given.has(env))?.[0];
  const literals = (Object.keys(CREDENTIAL_KEYS) as Credential[]).map((credential) => {
    const source = sourceOf(credential);
    return `--from-literal=${CREDENTIAL_KEYS[credential]}="${source ? `$${source}` : '$(openssl rand -hex 24)'}"`;
  });
  const becomes = passwords.map(({ key }) => {
    const held = PASSWORD_VARIABLES.get(key);
    return `${key} becomes ${held ? `the "${CREDENTIAL_KEYS[held]}" key of the credentials Secret` : 'no setting (the credentials Secret holds every password the cluster uses)'}`;
  });
  return {
    variables: passwords.map((p) => p.key),
    message: `${passwords.map((p) => `${p.key} at ${p.where}`).join(', ')}: (value not shown) must be a setting, not a password: pg-ha.env is committed to git. `
      + `${becomes.join('; ')}. Remove the line${passwords.length > 1 ? 's' : ''} and create the Secret before the first apply (the secrets Job leaves an existing one alone): `
      + `set -a; . ./.env.postgres; set +a; kubectl -n ${namespace} create secret generic ${secret} ${literals.join(' ')}`
      + ' (docs/migrating-from-compose.md#passwords)',
  };
}

/** Every name a pg-ha.env may hold without being refused as unknown. */
export function knownVariables(): string[] {
  return [...SETTINGS.map((spec) => spec.env), ...DERIVED_VARIABLES.map((d) => d.env)];
}

/** The known name closest to `name` (edit distance, typos and word order), if one is close enough. */
export function closestVariable(name: string, candidates: readonly string[] = knownVariables()): string | undefined {
  const upper = name.toUpperCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = Math.min(editDistance(upper, candidate), wordOrderDistance(upper, candidate));
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(upper.length / 4)) ? best.candidate : undefined;
}

/** The problem for an unknown name at `where`: the closest known setting, or where the list is. */
export function unknownVariableProblem(name: string, where: string): SettingProblem {
  const closest = closestVariable(name);
  return {
    variables: [],
    message: `${name} at ${where}: not a setting; ${closest ? `did you mean ${closest}?` : 'none is close to this name'} (every setting: docs/configuration.md)`,
  };
}

/** One line per derived variable given in the file: explained, or a warning when its value cannot be used. */
export function derivedVariableNotes(fileVars: Record<string, string>, settings: PgHaSettings, cluster: ClusterContext): string[] {
  return DERIVED_VARIABLES.filter((d) => fileVars[d.env] !== undefined).map((d) => {
    const derived = d.derived(settings, cluster);
    const given = fileVars[d.env];
    return d.matches(given, derived)
      ? `note: ${d.env} is derived in Kubernetes: ${d.explanation} (${derived.join(',')}); the line can go`
      : `warning: ${d.env}=${given} is not used: ${d.explanation}; the chart uses ${derived.join(',')}`;
  });
}

/** Levenshtein distance with adjacent transpositions. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** 1 when the two names have the same words in another order (`PORT_POSTGRES`), else Infinity. */
function wordOrderDistance(a: string, b: string): number {
  const words = (s: string) => s.split('_').sort().join('_');
  return a !== b && words(a) === words(b) ? 1 : Infinity;
}
