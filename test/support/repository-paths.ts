/**
 * Repository paths the documentation and the code name, and the ones that lead nowhere: a file
 * moved or renamed while a page, a comment or a message still names the old path (the HAProxy
 * config in dist/ named `lib/haproxy-config.ts` long after it moved to lib/components/router/).
 *
 * A path is a word that starts with a top-level folder of the repository (`lib/`, `docs/`, `test/`,
 * ...): in Markdown, a word of an inline code span (outside fenced blocks: those are commands and
 * examples); in source files, anywhere (comments, doc comments and messages alike). Words with a
 * placeholder or a glob (`<scope>`, `*`, `$`, `{`) are patterns, not paths. `docs/page.md#anchor`
 * must also name a heading of the page.
 */
import { existsSync, readFileSync } from 'fs';
import { join, relative } from 'path';
import { headingAnchors } from './markdown-links';

export interface NamedPath {
  readonly file: string;
  readonly line: number;
  readonly path: string;
}

export interface MissingPath extends NamedPath {
  readonly reason: string;
}

/** A word that starts with one of `folders` followed by `/`. */
const pathPattern = (folders: readonly string[]) =>
  new RegExp(`(?<![\\w./@-])((?:${folders.map((f) => f.replace(/\./g, '\\.')).join('|')})/[\\w./#<>*{}$-]*)`, 'g');

/** Strips what follows a path in prose: punctuation, a `:line` suffix. */
const cleaned = (word: string) => word.replace(/:\d+$/, '').replace(/[.,;:)]+$/, '');

const isPattern = (path: string) => /[<>*{}$]/.test(path);

/** Inline code spans of a Markdown text, outside fenced blocks, with their line numbers. */
function inlineCode(markdown: string): Array<{ line: number; text: string }> {
  const spans: Array<{ line: number; text: string }> = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((line, index) => {
    const opener = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence !== undefined) {
      if (opener && opener[1][0] === fence[0] && opener[1].length >= fence.length && line.trim() === opener[1]) fence = undefined;
      return;
    }
    if (opener) {
      fence = opener[1];
      return;
    }
    for (const m of line.matchAll(/(`+)((?:(?!\1).)+?)\1/g)) spans.push({ line: index + 1, text: m[2] });
  });
  return spans;
}

/** The repository paths a Markdown page names in its inline code. */
export function pathsInMarkdown(markdown: string, folders: readonly string[]): Array<{ line: number; path: string }> {
  return inlineCode(markdown).flatMap(({ line, text }) => [...text.matchAll(pathPattern(folders))].map((m) => ({ line, path: cleaned(m[1]) })));
}

/** The repository paths a source file names anywhere (comments, strings). */
export function pathsInSource(source: string, folders: readonly string[]): Array<{ line: number; path: string }> {
  return source.split('\n').flatMap((text, index) => [...text.matchAll(pathPattern(folders))].map((m) => ({ line: index + 1, path: cleaned(m[1]) })));
}

/** The named paths of `files` (absolute) that do not exist under `root` (or name a missing heading). */
export function missingPaths(files: readonly string[], root: string, folders: readonly string[], generated: readonly string[] = []): MissingPath[] {
  const missing: MissingPath[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const named = file.endsWith('.md') ? pathsInMarkdown(text, folders) : pathsInSource(text, folders);
    for (const { line, path } of named) {
      if (isPattern(path) || generated.some((g) => path === g || path.startsWith(`${g}/`))) continue;
      const [target, anchor] = path.split('#');
      const report = (reason: string) => missing.push({ file: relative(root, file), line, path, reason });
      if (!existsSync(join(root, target))) report('no such file or folder');
      else if (anchor !== undefined && target.endsWith('.md') && !headingAnchors(readFileSync(join(root, target), 'utf8')).has(anchor)) report(`no heading of ${target} has the anchor #${anchor}`);
    }
  }
  return missing;
}
