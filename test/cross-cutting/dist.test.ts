/**
 * The one guard against drift between the code and dist/ (what Argo CD deploys): a fresh synth, from
 * the committed pg-ha.env alone, must equal dist/ as git holds it, file for file, with no file added
 * or missing. It reads git's index (`git ls-files --stage`), not the working tree: CI runs
 * `npm run synth` before `npm test`, which rewrites the working-tree dist/, so a comparison with the
 * working tree could never fail there; on a clean checkout the index is the commit. Locally, a
 * change to dist/ passes once staged (`git add dist`), as `git diff --exit-code` would say.
 *
 * The fresh synth runs over the previous output as the synth command reads it (lib/cli.ts: dist/ at
 * git's HEAD), so a fork whose dist/ keeps deployed fields (grown volumes' claim templates) passes too.
 *
 * It reads whatever pg-ha.env and dist/ hold (a fork's own names): checks of behaviour synthesize their
 * own settings (test/support/synth.ts), and test/cross-cutting/fork.test.ts proves the suite passes
 * in a copy of the repository with other settings.
 */
import { spawnSync } from 'child_process';
import { readdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { readPreviousOutput } from '../../lib/cli';
import { newOutdir, runRepositorySynthAsync } from '../support/synth-command';
import { ROOT } from '../support/synth';

const DIST = 'dist';

const filesIn = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

function git(args: string[]): string {
  const result = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (result.error || result.status !== 0) {
    throw new Error(`the dist/ drift check needs git and the repository's .git: \`git ${args.join(' ')}\` failed `
      + `(${result.error?.message ?? result.stderr.trim()}). Run the tests in a git checkout.`);
  }
  return result.stdout;
}

/** dist/ as git's index holds it: file name -> content. */
function indexedDist(): Record<string, string> {
  const entries = git(['ls-files', '--stage', '--', DIST]).split('\n').filter(Boolean).map((line) => {
    const [meta, path] = line.split('\t');
    const [, sha, stage] = meta.split(' ');
    return { path, sha, stage };
  });
  const conflicted = entries.filter((e) => e.stage !== '0').map((e) => e.path);
  if (conflicted.length) throw new Error(`dist/ has unresolved merge conflicts: ${[...new Set(conflicted)].join(', ')}; re-run npm run synth and git add dist`);
  return Object.fromEntries(entries.map((e) => [e.path.slice(DIST.length + 1), git(['cat-file', 'blob', e.sha])]));
}

/** What differs between two file sets, as readable lines. */
function differences(committed: Record<string, string>, fresh: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(fresh)) {
    if (!(name in committed)) problems.push(`dist/${name}: the synth writes it but git does not have it (git add dist/${name})`);
  }
  for (const [name, content] of Object.entries(committed)) {
    if (!(name in fresh)) {
      problems.push(`dist/${name}: in git but the synth no longer writes it (git rm dist/${name})`);
    } else if (fresh[name] !== content) {
      const a = content.split('\n');
      const b = fresh[name].split('\n');
      const line = a.findIndex((l, i) => l !== b[i]);
      const at = line === -1 ? a.length : line;
      problems.push(`dist/${name}: differs from a fresh synth from line ${at + 1}: git has ${JSON.stringify(a[at])}, the synth writes ${JSON.stringify(b[at])}`);
    }
  }
  return problems;
}

describe('dist/', () => {
  test('equals a fresh synth of the committed pg-ha.env, file for file (run `npm run synth` and commit dist/)', async () => {
    const committed = indexedDist();
    expect(Object.keys(committed).length).toBeGreaterThan(0);
    // GIVEN two output directories holding the previous output the synth command reads (git's HEAD)
    const previous = readPreviousOutput(join(ROOT, DIST));
    const outdirs = [newOutdir(), newOutdir()];
    for (const dir of outdirs) for (const [name, text] of Object.entries(previous.files)) writeFileSync(join(dir, name), text);
    const [first, second] = await Promise.all(outdirs.map((dir) => runRepositorySynthAsync(dir)));
    // The synth is deterministic: two runs write the same files.
    expect(filesIn(second)).toEqual(filesIn(first));
    expect(differences(committed, filesIn(first))).toEqual([]);
  }, 60000);

  test('the comparison reports a changed, an added and a removed file', () => {
    const committed = { 'pg-ha.k8s.yaml': 'kind: Service\nname: a\n', 'old.k8s.yaml': 'x\n' };
    const fresh = { 'pg-ha.k8s.yaml': 'kind: Service\nname: b\n', 'new.k8s.yaml': 'y\n' };
    expect(differences(committed, fresh)).toEqual([
      'dist/new.k8s.yaml: the synth writes it but git does not have it (git add dist/new.k8s.yaml)',
      'dist/pg-ha.k8s.yaml: differs from a fresh synth from line 2: git has "name: a", the synth writes "name: b"',
      'dist/old.k8s.yaml: in git but the synth no longer writes it (git rm dist/old.k8s.yaml)',
    ]);
    expect(differences(committed, { ...committed })).toEqual([]);
  });
});
