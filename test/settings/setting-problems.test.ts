/**
 * Every problem of a synth at once, each in the user's words (lib/settings/setting-problems.ts,
 * settings-check.ts): the variable as written and where, the value, what is valid, and only then
 * the PgHaSettings path. A user fixing a file wants the whole list, not one error per run.
 */
import { App } from 'cdk8s';
import {
  ConfigError, findProblems, hideUrlCredentials, inUserWords, PgHaChart, PgHaSettings, problemOf, SettingsInput,
} from '../../lib';

/** The synth's input for `values`, each set at a line of pg-ha.env in the order given. */
function fileInput(values: Record<string, string>): SettingsInput {
  const sources = Object.fromEntries(Object.keys(values).map((key, i) => [key, `pg-ha.env:${i + 1}`]));
  return { values, sources, fileValues: values, notes: [], problems: [] };
}

/** What the synth command builds, without writing. */
const build = (settings: PgHaSettings) => {
  new PgHaChart(new App(), 'pg-ha', settings).toJson();
};

const problems = (values: Record<string, string>) => findProblems(fileInput(values), build).map((p) => p.message);

describe('every invalid setting in one run', () => {
  test('independent errors of the parsers and of several constructs are all reported', () => {
    expect(problems({ POSTGRES_DB: 'Orders', ETCD_REPLICAS: '4', ROUTER_REPLICAS: 'two', SPILO_IMAGE: 'spilo:latest' })).toEqual([
      'ROUTER_REPLICAS at pg-ha.env:3: "two" must be a whole number',
      expect.stringMatching(/^ETCD_REPLICAS at pg-ha.env:2: 4 must be an odd integer from 1 to 9 .* \(PgHaSettings: etcd.replicas\)$/),
      expect.stringMatching(/^SPILO_IMAGE at pg-ha.env:4: "spilo:latest" must be an image reference pinned/),
      expect.stringMatching(/^POSTGRES_DB at pg-ha.env:1: "Orders" must be a lowercase PostgreSQL identifier/),
    ]);
  });

  test('an error that follows from one already reported is not reported again', () => {
    // BACKUPS=true needs a bucket; the bucket given is refused, so "a bucket is required" is not news.
    const found = problems({ BACKUPS: 'true', BACKUP_S3_BUCKET: 'Not A Bucket', BACKUP_CREDENTIALS_SECRET: 's3' });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^BACKUP_S3_BUCKET at pg-ha.env:2: "Not A Bucket" must be/);
  });

  test('valid settings: no problem', () => {
    expect(problems({ SCOPE: 'shop', POSTGRES_MEMORY_LIMIT: '2Gi' })).toEqual([]);
  });
});

describe('blame falls on what the user wrote', () => {
  test('POSTGRES_MEMORY_LIMIT=1G is below the default request: the limit is blamed, not POSTGRES_MEMORY_REQUEST (never set)', () => {
    expect(problems({ POSTGRES_MEMORY_LIMIT: '1G' })).toEqual([
      'POSTGRES_MEMORY_LIMIT at pg-ha.env:1: "1G" must be at least the default POSTGRES_MEMORY_REQUEST (1Gi), or set that request too: '
      + 'Kubernetes rejects a request above its limit (PgHaSettings: postgres.resources.limits.memory)',
    ]);
  });

  test('a request set above a limit: the request is blamed, the limit named by its variable', () => {
    expect(problems({ POSTGRES_MEMORY_REQUEST: '2Gi' })[0])
      .toBe('POSTGRES_MEMORY_REQUEST at pg-ha.env:1: "2Gi" must be at most POSTGRES_MEMORY_LIMIT (1Gi); Kubernetes rejects a request above its limit (PgHaSettings: postgres.resources.requests.memory)');
  });

  test('a value inside a variable is named after it, the way the user wrote the variable', () => {
    const error = new ConfigError('patroni.parameters["work_mem"]', '16', 'a memory size');
    expect(problemOf(error, ['POSTGRES_PARAMETERS'], { POSTGRES_PARAMETERS: 'the environment' }).message)
      .toBe('POSTGRES_PARAMETERS["work_mem"] from the environment: "16" must be a memory size (PgHaSettings: patroni.parameters["work_mem"])');
    // A parser's own part (NODE_SELECTOR["app"]) is already in the user's words: no path follows.
    expect(problemOf(new ConfigError('NODE_SELECTOR["app"]', 'my app', 'a label value'), ['NODE_SELECTOR'], { NODE_SELECTOR: 'pg-ha.env:3' }).message)
      .toBe('NODE_SELECTOR["app"] at pg-ha.env:3: "my app" must be a label value');
  });

  test('an error about no variable the user set (a TypeScript setting) is shown as the construct said it', () => {
    expect(problemOf(new ConfigError('init.deadlineSeconds', 5, 'an integer from 60 to 86400'), [], {}).message)
      .toBe('init.deadlineSeconds: 5 must be an integer from 60 to 86400');
  });
});

describe('the user\'s words', () => {
  test.each([
    ['at most postgres.resources.limits.memory (1Gi).', 'at most POSTGRES_MEMORY_LIMIT (1Gi).'],
    ['different from router.writePort', 'different from POSTGRES_WRITE_PORT'],
    ['the postgresUser role', 'the POSTGRES_USER role'],
    // Prose words that happen to be one-word paths stay; quoted values stay.
    ['a namespace in the scope', 'a namespace in the scope'],
    ['"router.writePort" as text', '"router.writePort" as text'],
  ])('%s', (text, words) => {
    expect(inUserWords(text)).toBe(words);
  });

  test('a token in a URL is never shown', () => {
    expect(hideUrlCredentials('"https://ci:glpat-1234@gitlab.example.com/x.git"')).toBe('"https://ci:***@gitlab.example.com/x.git"');
    expect(hideUrlCredentials('git@github.com:you/pg.git')).toBe('git@github.com:you/pg.git');
  });
});
