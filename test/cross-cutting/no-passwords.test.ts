/**
 * No password is ever written to the repository: not in source, tests, docs or dist/ (dist/ is the
 * default configuration's synth, whose env and objects workloads.test.ts checks).
 */
import { readFileSync, readdirSync, statSync } from 'fs';
import { join } from 'path';
import { ROOT } from '../support/synth';

const root = ROOT;

describe('no password anywhere in the repository', () => {
  // Catches a quoted password assignment, an env-style PGPASSWORD assignment and connection URIs with user:pass@.
  const literal = /(pass(word)?|pwd)["']?\s*[:=]\s*["'](?!\/)[^"'$\s{}]{3,}["']|(PGPASSWORD|_PASSWORD|_PASS)=[^\s$"'`{]+|postgres(ql)?:\/\/[^:/\s]+:[^@/\s$]+@/i;
  const files = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
    if (['node_modules', '.git', 'imports', 'crds'].includes(name)) return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });

  test('no source, test or doc file assigns a password literal', () => {
    const offenders = files(root)
      .filter((f) => /\.(ts|js|json|ya?ml|md|sh|sql|py|env|cfg)$/.test(f) && !f.endsWith('package-lock.json'))
      .filter((f) => literal.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });

  test('the literal check itself catches a password', () => {
    expect(literal.test('adminPass' + "word: 'zalando'")).toBe(true);
    expect(literal.test('PGPASS' + 'WORD=cola psql')).toBe(true);
    expect(literal.test('postgresql://app:' + 's3cret@pg-ha-rw:5432/app')).toBe(true);
    expect(literal.test('PGPASSWORD="$(kubectl get secret ...)"')).toBe(false);
    expect(literal.test("pgpass: '/run/postgresql/pgpass'")).toBe(false); // a file path, not a password
  });
});
