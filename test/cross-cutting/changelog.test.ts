/**
 * Upgrade notes live in CHANGELOG.md (Keep a Changelog), one section per release, and the package
 * version is its newest release: docs and errors name a release ("release 0.2.0"), which a reader
 * finds there, instead of "this release", which means another one a release later.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { documentationFiles } from '../support/markdown-links';
import { ROOT } from '../support/synth';

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;
const SECTIONS = ['Upgrading', 'Added', 'Changed', 'Deprecated', 'Removed', 'Fixed', 'Security'];

interface Release { version: string; date: string; sections: string[] }

/** The releases of a Keep a Changelog text, newest first, and what is wrong with its form. */
function changelogReleases(text: string): { releases: Release[]; problems: string[] } {
  const problems: string[] = [];
  const releases: Release[] = [];
  const headings = [...text.matchAll(/^(##|###) (.*)$/gm)].map((m) => ({ level: m[1].length, text: m[2] }));
  if (headings[0]?.text !== '[Unreleased]') problems.push('the first section must be "## [Unreleased]"');
  for (const h of headings.slice(1)) {
    if (h.level === 3) {
      if (!SECTIONS.includes(h.text)) problems.push(`"### ${h.text}" is none of ${SECTIONS.join(', ')}`);
      else releases[releases.length - 1]?.sections.push(h.text);
      continue;
    }
    const m = /^\[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$/.exec(h.text);
    if (!m) problems.push(`"## ${h.text}" is not "## [X.Y.Z] - YYYY-MM-DD"`);
    else releases.push({ version: m[1], date: m[2], sections: [] });
  }
  const order = (v: string) => SEMVER.exec(v)!.slice(1).map(Number).reduce((a, n) => a * 1000 + n, 0);
  releases.slice(1).forEach((older, i) => {
    const newer = releases[i];
    if (order(older.version) >= order(newer.version) || older.date > newer.date) problems.push(`${newer.version} (${newer.date}) must be newer than ${older.version} (${older.date}), which follows it`);
  });
  return { releases, problems };
}

describe('CHANGELOG.md', () => {
  const { releases, problems } = changelogReleases(readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8'));

  test('has the form of Keep a Changelog: Unreleased, then releases newest first, known sections', () => {
    expect(problems).toEqual([]);
    expect(releases.length).toBeGreaterThan(0);
  });

  test('package.json\'s version (and package-lock.json\'s) is its newest release', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    expect({ pkg: pkg.version, lock: lock.version, lockRoot: lock.packages[''].version }).toEqual({ pkg: releases[0].version, lock: releases[0].version, lockRoot: releases[0].version });
  });

  test('the form check finds a missing Unreleased, a bad heading, an unknown section and releases out of order', () => {
    const text = '## [0.1.0] - 2026-01-02\n### Notes\n## 0.3\n## [0.2.0] - 2026-01-01\n';
    expect(changelogReleases(text).problems).toEqual([
      'the first section must be "## [Unreleased]"',
      '"### Notes" is none of Upgrading, Added, Changed, Deprecated, Removed, Fixed, Security',
      '"## 0.3" is not "## [X.Y.Z] - YYYY-MM-DD"',
    ]);
    expect(changelogReleases('## [Unreleased]\n## [0.1.0] - 2026-01-02\n## [0.2.0] - 2026-01-01\n').problems).toEqual([
      '0.1.0 (2026-01-02) must be newer than 0.2.0 (2026-01-01), which follows it',
    ]);
  });
});

describe('the documentation names releases', () => {
  test('no page says "this release", "the last release" or "the next release": they name a version of CHANGELOG.md', () => {
    const vague = /\b(this|the last|the next|the previous|an earlier)\s+release\b/gi;
    const found = documentationFiles(ROOT).flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return [...text.matchAll(vague)].map((m) => ({ file: file.slice(ROOT.length + 1), line: text.slice(0, m.index).split('\n').length, text: m[0] }));
    });
    expect(found).toEqual([]);
  });
});
