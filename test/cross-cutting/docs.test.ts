/**
 * The documentation tells the truth: every relative link leads to a file (and heading) that exists,
 * the settings table is the one the settings code prints, and the README shows the commands CI runs.
 */
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { SETTINGS } from '../../lib';
import { configTable } from '../../scripts/config-table';
import { CONFIGURATION_PAGE, settingsTableBlock, withSettingsTable } from '../../scripts/docs-table';
import { brokenLinks, documentationFiles, headingAnchors, headingSlug, markdownLinks } from '../support/markdown-links';

const root = join(__dirname, '..', '..');

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
