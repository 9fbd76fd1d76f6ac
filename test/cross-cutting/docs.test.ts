/**
 * The documentation tells the truth and says one thing: every relative link leads to a file (and
 * heading) that exists, and so does every repository path the docs and the code name; the settings
 * table is the one the settings code prints; every copyable pg-ha.env example synthesizes; the keys
 * of an existing credentials Secret, the Jobs' hooks, the objects of dist/ and the pods that get an
 * API token are what the code makes; the README shows the commands CI runs, and the e2e run time is
 * given in one place.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { clusterContextOf, CREDENTIAL_KEYS, DEFAULTS, FEATURE_CREDENTIALS, loadSettings, renderArgoCdApplication, SETTINGS } from '../../lib';
import { configTable } from '../../scripts/config-table';
import { CONFIGURATION_PAGE, settingsTableBlock, withSettingsTable } from '../../scripts/docs-table';
import { container, envOf, Manifest } from '../support/manifests';
import { brokenLinks, documentationFiles, headingAnchors, headingSlug, markdownLinks } from '../support/markdown-links';
import { missingPaths, pathsInMarkdown, pathsInSource } from '../support/repository-paths';
import { synth } from '../support/synth';
import { git } from '../support/synth-command';

const root = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

describe('the link checker', () => {
  test('anchors follow GitHub: lower case, punctuation dropped, spaces to hyphens, duplicates numbered', () => {
    expect(headingSlug('TLS: verify the server (`sslmode=verify-full`)')).toBe('tls-verify-the-server-sslmodeverify-full');
    expect(headingSlug('Regenerating imports/')).toBe('regenerating-imports');
    expect(headingSlug('Backups, restore and clone')).toBe('backups-restore-and-clone');
    expect(headingSlug('See [the table](x.md) here')).toBe('see-the-table-here');
    expect([...headingAnchors('# Setup\n## Setup\n```sh\n# a comment, not a heading\n```\n### Setup\n')]).toEqual(['setup', 'setup-1', 'setup-2']);
  });

  test('links inside code are not links', () => {
    const markdown = 'See [a](a.md) and `[b](b.md)`.\n```md\n[c](c.md)\n```\n[d]: d.md\n';
    expect(markdownLinks(markdown)).toEqual([{ line: 1, target: 'a.md' }, { line: 5, target: 'd.md' }]);
  });

  test('reports a missing file, a missing anchor and a path outside the repository; accepts the rest', () => {
    // GIVEN a small repository whose README links well and badly
    const repo = mkdtempSync(join(tmpdir(), 'pg-ha-links-'));
    mkdirSync(join(repo, 'docs'));
    writeFileSync(join(repo, 'docs', 'page.md'), '# Page\n\n## Some section\n\n[back](../README.md#top)\n');
    writeFileSync(join(repo, 'README.md'), [
      '# Top',
      '[ok](docs/page.md) [ok anchor](docs/page.md#some-section) [self](#top) [web](https://example.com/x.md)',
      '[gone](docs/missing.md)',
      '[bad anchor](docs/page.md#no-such-section)',
      '[outside](../elsewhere.md)',
    ].join('\n'));
    // WHEN the checker reads both pages
    const broken = brokenLinks(documentationFiles(repo), repo);
    // THEN exactly the three bad links are reported, with file and line
    expect(broken).toEqual([
      { file: 'README.md', line: 3, target: 'docs/missing.md', reason: `no such file: ${join('docs', 'missing.md')}` },
      { file: 'README.md', line: 4, target: 'docs/page.md#no-such-section', reason: `no heading of ${join('docs', 'page.md')} has the anchor #no-such-section` },
      { file: 'README.md', line: 5, target: '../elsewhere.md', reason: 'points outside the repository' },
    ]);
  });
});

describe('README.md and docs/', () => {
  test('every relative link resolves to an existing file and heading', () => {
    const files = documentationFiles(root);
    expect(files.length).toBeGreaterThan(5);
    expect(brokenLinks(files, root)).toEqual([]);
  });

  test('the settings table of docs/configuration.md is the one the settings code prints (npm run docs:table)', () => {
    expect(settingsTableBlock(readFileSync(CONFIGURATION_PAGE, 'utf8'))).toBe(configTable());
  });

  test('npm run docs:table replaces only the block between the markers', () => {
    const page = 'intro\n<!-- settings-table:start -->\n| old |\n<!-- settings-table:end -->\noutro\n';
    const updated = withSettingsTable(page, '| new |');
    expect(updated).toBe('intro\n<!-- settings-table:start -->\n| new |\n<!-- settings-table:end -->\noutro\n');
    expect(settingsTableBlock(updated)).toBe('| new |');
    expect(() => settingsTableBlock('no markers')).toThrow(/exactly one "<!-- settings-table:start -->"/);
  });

  test('the README\'s ten most-changed settings show the defaults the settings code has', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `([A-Z0-9_]+)` \| `([^`]*)` \|/gm)].map(([, env, shown]) => ({ env, shown }));
    expect(rows).toHaveLength(10);
    for (const { env, shown } of rows) expect({ env, default: SETTINGS.find((s) => s.env === env)?.default }).toEqual({ env, default: shown });
  });

  test('the README is a landing page: under 16 KB', () => {
    expect(statSync(join(root, 'README.md')).size).toBeLessThan(16 * 1024);
  });

  test('the README shows every command CI runs (.ci/run runs exactly the README\'s commands)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const commands = readFileSync(join(root, '.ci', 'run'), 'utf8').split('\n')
      .map((line) => line.trim())
      .filter((line) => /^(npm|bash) /.test(line));
    expect(commands).toEqual(expect.arrayContaining(['npm ci', 'npm run synth', 'npm test', 'npm run test:e2e']));
    for (const command of commands) expect(readme).toContain(command);
  });
});

describe('repository paths named by the docs and the code', () => {
  const FOLDERS = ['lib', 'docs', 'test', 'deploy'];

  test('the finder: inline code in Markdown (not fenced blocks), anywhere in source; placeholders and globs are patterns', () => {
    const markdown = 'See `lib/a.ts` and `npx tsx lib/b.ts --hold`, `lib/<scope>.ts`, `lib/*.py`.\n```sh\ncat lib/c.ts\n```\n`lib/d.ts:12`.\n';
    expect(pathsInMarkdown(markdown, FOLDERS)).toEqual([
      { line: 1, path: 'lib/a.ts' }, { line: 1, path: 'lib/b.ts' }, { line: 1, path: 'lib/<scope>.ts' }, { line: 1, path: 'lib/*.py' }, { line: 5, path: 'lib/d.ts' },
    ]);
    expect(pathsInSource("// see lib/a.ts.\nconst x = 'docs/p.md#anchor'; import y from '../lib/z';\n", FOLDERS)).toEqual([
      { line: 1, path: 'lib/a.ts' }, { line: 2, path: 'docs/p.md#anchor' },
    ]);
  });

  test('the checker reports a missing file and a missing heading, and skips patterns and generated folders', () => {
    // GIVEN a small repository and a page naming paths that exist and paths that do not
    const repo = mkdtempSync(join(tmpdir(), 'pg-ha-paths-'));
    mkdirSync(join(repo, 'docs'));
    mkdirSync(join(repo, 'lib'));
    writeFileSync(join(repo, 'lib', 'a.ts'), '// moved: lib/old.ts\n');
    writeFileSync(join(repo, 'docs', 'page.md'), '# Page\n## Steps\n`lib/a.ts` `docs/page.md#steps` `docs/page.md#gone` `lib/<x>.ts` `deploy/app.yaml`\n');
    // WHEN both are checked THEN exactly the stale path and the missing anchor are reported
    expect(missingPaths([join(repo, 'docs', 'page.md'), join(repo, 'lib', 'a.ts')], repo, FOLDERS, ['deploy'])).toEqual([
      { file: join('docs', 'page.md'), line: 3, path: 'docs/page.md#gone', reason: 'no heading of docs/page.md has the anchor #gone' },
      { file: join('lib', 'a.ts'), line: 1, path: 'lib/old.ts', reason: 'no such file or folder' },
    ]);
  });

  test('every path in backticks in README.md, CHANGELOG.md and docs/, and every path in lib/ and main.ts (comments, messages), exists', () => {
    const folders = [...new Set(git(root, ['ls-files']).split('\n').filter((f) => f.includes('/')).map((f) => f.split('/')[0]))];
    // What the synth writes depends on the settings (`dist/<SCOPE>.k8s.yaml`; the Argo CD Application,
    // not in the repository without ARGOCD_REPO_URL): a fork's differ from the docs' default names.
    const generated = ['dist', dirname(DEFAULTS.argocd.file)];
    const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      if (e.name === '__pycache__') return [];
      return e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)];
    });
    const sources = [...walk(join(root, 'lib')).filter((f) => !f.endsWith('.json')), join(root, 'main.ts')];
    expect(missingPaths([...documentationFiles(root), ...sources], root, [...folders, ...generated], generated)).toEqual([]);
  });
});

/** Fenced blocks of a page whose lines are all `KEY=VALUE` (or comments): what users copy into pg-ha.env. */
function envExamples(file: string): Array<{ name: string; text: string; inlineComments: boolean }> {
  const lines = read(file).split('\n');
  const blocks: Array<{ name: string; text: string; inlineComments: boolean }> = [];
  for (let i = 0; i < lines.length; i++) {
    const opener = /^\s*(`{3,}|~{3,})/.exec(lines[i]);
    if (!opener) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i].trim() !== opener[1]; i++) body.push(lines[i].trim());
    const settings = body.filter((l) => l !== '' && !l.startsWith('#'));
    if (settings.length && settings.every((l) => /^[A-Z][A-Z0-9_]*=/.test(l) && !/\s(npm|npx|kubectl)\s/.test(l))) {
      blocks.push({ name: `${file}:${start + 1}`, text: body.join('\n'), inlineComments: settings.some((l) => /\s#/.test(l)) });
    }
  }
  return blocks;
}

/**
 * Every copyable pg-ha.env block of the docs, synthesized as `npm run synth` would from a pg-ha.env
 * holding it (settings, the Argo CD Application, the chart with its validations).
 *
 * `KEY=value   # comment` is legal (compose's rule for .env files): every block is synthesized as written.
 */
const INLINE_COMMENTS_LEGAL = true;

describe('copyable pg-ha.env examples in the docs', () => {
  const examples = documentationFiles(root).flatMap((f) => envExamples(f.slice(root.length + 1)));

  test('the finder sees the examples (README.md and docs/ hold some)', () => {
    expect(examples.length).toBeGreaterThanOrEqual(8);
  });

  test.each(examples.map((e) => [`${e.name}${e.inlineComments && !INLINE_COMMENTS_LEGAL ? ' (inline # comments cut until settings-input)' : ''}`, e] as const))('%s synthesizes', (_, example) => {
    const text = example.inlineComments && !INLINE_COMMENTS_LEGAL ? example.text.replace(/\s+#.*$/gm, '') : example.text;
    // a block users copy as a whole sets each variable once (alternatives go in separate blocks)
    const variables = text.split('\n').filter((l) => /^[A-Z]/.test(l)).map((l) => l.split('=')[0]);
    expect(variables.filter((v, i) => variables.indexOf(v) !== i)).toEqual([]);
    const project = mkdtempSync(join(tmpdir(), 'pg-ha-example-'));
    writeFileSync(join(project, 'pg-ha.env'), `${text}\n`);
    const settings = loadSettings(join(project, 'pg-ha.env'), {});
    const cluster = clusterContextOf(settings);
    renderArgoCdApplication(settings.argocd, { scope: cluster.name, namespace: cluster.namespace, projectDir: project, outdir: join(project, 'dist') });
    expect(synth(settings).objects.length).toBeGreaterThan(0);
  });
});

describe('the docs say what the code does', () => {
  test('the keys an existing credentials Secret needs: security.md\'s table is CREDENTIAL_KEYS (feature keys marked "only with"), its example the keys the default settings ask for', () => {
    const page = read('docs/security.md');
    const section = page.slice(page.indexOf('## Credentials'), page.indexOf('### Patroni\'s REST API'));
    const rows = [...section.matchAll(/^\| `([a-z-]+-password)` \|(.*)$/gm)].map(([, key, rest]) => ({ key, optional: /only with/.test(rest) }));
    const featureKeys: string[] = FEATURE_CREDENTIALS.map((c) => CREDENTIAL_KEYS[c]);
    const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
    expect(rows.sort(byKey)).toEqual(Object.values(CREDENTIAL_KEYS).map((key) => ({ key, optional: featureKeys.includes(key) })).sort(byKey));
    // the secrets Job checks exactly these keys of an EXISTING_SECRET with the default settings
    const job = synth({ existingSecret: 'mine' }).job('pg-ha-secrets-');
    const required = envOf(container(job, job.spec.template.spec.containers[0].name)).SECRET_KEYS.value.split(',');
    const example = [...section.matchAll(/--from-literal=([a-z-]+)=/g)].map((m) => m[1]);
    expect(example.sort()).toEqual([...required].sort());
    // and no other page lists a different set: a paragraph naming EXISTING_SECRET and keys names them all
    for (const file of documentationFiles(root)) {
      for (const paragraph of readFileSync(file, 'utf8').split(/\n\s*\n/).filter((p) => p.includes('EXISTING_SECRET'))) {
        const keys = [...new Set([...paragraph.matchAll(/`([a-z-]+-password)`/g)].map((m) => m[1]))];
        if (keys.length >= 2 && file !== join(root, 'docs', 'security.md')) expect({ file, keys: [...keys].sort() }).toEqual({ file, keys: expect.arrayContaining(required) });
      }
    }
  });

  test('gitops.md\'s sync waves: each Job in the row of its wave, with its hook (Sync or PostSync)', () => {
    const rows = Object.fromEntries([...read('docs/gitops.md').matchAll(/^\s*\| (-?\d+) \| (.*)$/gm)].map(([, wave, rest]) => [wave, rest]));
    const jobs = synth().all('Job').map((job: Manifest) => ({
      job: job.metadata.name.replace(/^pg-ha-(.*)-[0-9a-f]{10}$/, '$1').replace('-', ' '),
      wave: job.metadata.annotations['argocd.argoproj.io/sync-wave'],
      hook: job.metadata.annotations['argocd.argoproj.io/hook'],
    }));
    expect(jobs.map((j) => j.job).sort()).toEqual(['converge', 'etcd access', 'init', 'rollout', 'secrets']);
    for (const { job, wave, hook } of jobs) {
      expect({ job, wave, row: new RegExp(`${job}[^|;]*?Job \\(${hook} hook`).test(rows[wave] ?? '') }).toEqual({ job, wave, row: true });
    }
  });

  test('architecture.md\'s table names every object of the default dist/ with its kind (ServiceAccounts, RBAC and NetworkPolicies by rule)', () => {
    const page = read('docs/architecture.md');
    const table = page.slice(page.indexOf('| Object | Kind | Purpose |'), page.indexOf('Optional objects appear only')).split('\n');
    const unnamed = synth().objects
      .filter((o) => !['ServiceAccount', 'Role', 'RoleBinding', 'NetworkPolicy'].includes(o.kind))
      .map((o) => ({ kind: o.kind, name: o.kind === 'Job' ? o.metadata.name.replace(/-[0-9a-f]{10}$/, '-<hash>') : o.metadata.name }))
      .filter(({ kind, name }) => !table.some((row) => row.includes(`\`${name}\``) && row.includes(kind)));
    expect(unnamed).toEqual([]);
  });

  test('operations.md names exactly the workloads that get an API token', () => {
    const row = read('docs/operations.md').split('\n').find((l) => l.includes('automountServiceAccountToken'))!;
    const s = synth();
    const withToken = s.workloads().filter((w) => w.podSpec.automountServiceAccountToken === true).map((w) => w.component);
    expect(withToken.sort()).toEqual(['converge', 'rollout', 'secrets']);
    expect(row).toContain('the secrets, converge and rollout Jobs');
    const spilo = s.workload('database');
    const mounting = spilo.containers.filter((c) => (c.volumeMounts ?? []).some((m: { name: string }) => m.name === 'kube-api-access')).map((c) => c.name);
    expect(mounting).toEqual(['postgres']);
    expect(row).toContain("Spilo's `postgres` container (not its exporter sidecar)");
  });

  test('the e2e suite\'s run time is given once, in docs/contributing/testing.md; other pages link there', () => {
    const duration = /\b\d+(\.\d+)?\s?(s|sec|seconds|min|minutes)\b|\bminutes?\b/;
    const stated = documentationFiles(root).filter((f) => !f.endsWith(join('contributing', 'testing.md')) && !f.endsWith('BENCHMARKS.md'))
      .flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((l) => /test:e2e|e2e-install/.test(l) && duration.test(l)).map((l) => `${f.slice(root.length + 1)}: ${l}`));
    expect(stated).toEqual([]);
    expect(read('docs/contributing/testing.md')).toMatch(/\*\*Run time\*\*.*\n.*\n.*`npm run test:e2e` takes about \d+ minutes/);
  });
});
