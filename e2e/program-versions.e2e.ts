/*
 * The test bed runs Debian 13's programs, the versions closest to the images (Spilo's
 * Patroni 4.0 + PostgreSQL 17, etcd 3.6, HAProxy 3.3, postgres-exporter 0.18): the run
 * prints them, and this fails if the root holds anything else.
 */
import { DebianRoot, EXPECTED_VERSIONS } from './lib/debian-root';
import { log } from './lib/log';

test('the programs in the Debian 13 root are the expected versions', () => {
  const root = new DebianRoot();
  root.check();
  const versions = root.programVersions();
  log(`programs (${root.path}): ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const [program, expected] of Object.entries(EXPECTED_VERSIONS)) {
    expect({ program, version: versions[program] }).toEqual({ program, version: expect.stringMatching(expected) });
  }
});
