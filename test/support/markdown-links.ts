/**
 * Relative links in Markdown files, and the ones that lead nowhere: a missing file, a path outside
 * the repository, or a `#anchor` that no heading of the target page produces (GitHub's rule).
 * Links inside code (fenced blocks, inline spans) and links with a scheme (https:, mailto:) are not checked.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'fs';
import { dirname, extname, isAbsolute, join, relative, resolve } from 'path';

export interface MarkdownLink {
  readonly line: number;
  readonly target: string;
}

export interface BrokenLink extends MarkdownLink {
  /** Path of the Markdown file holding the link, relative to the root. */
  readonly file: string;
  readonly reason: string;
}

/** The text with fenced code blocks blanked line by line (line numbers stay right). */
function withoutFencedCode(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const opener = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === undefined) {
      if (opener) fence = opener[1];
      return opener ? '' : line;
    }
    if (opener && opener[1][0] === fence[0] && opener[1].length >= fence.length && line.trim() === opener[1]) fence = undefined;
    return '';
  });
}

const withoutInlineCode = (line: string): string => line.replace(/(`+)(?:(?!\1).)+?\1/g, '');

/** Inline links and images `[text](target "title")` and reference definitions `[name]: target`. */
export function markdownLinks(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  withoutFencedCode(markdown).forEach((raw, index) => {
    const line = withoutInlineCode(raw);
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+["'(][^)]*)?\)/g)) links.push({ line: index + 1, target: match[1] });
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/.exec(line);
    if (definition) links.push({ line: index + 1, target: definition[1] });
  });
  return links;
}

/** GitHub's anchor of a heading: the rendered text lower-cased, punctuation dropped, spaces to hyphens. */
export function headingSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link or image renders as its text
    .replace(/<[^>]+>/g, '') // inline HTML tags render nothing
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor the page's ATX headings produce, duplicates numbered as GitHub does (`-1`, `-2`, ...). */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFencedCode(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (!heading) continue;
    const slug = headingSlug(heading[1]);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

const hasScheme = (target: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

/** The links of `files` (absolute paths) that do not resolve inside `root`. */
export function brokenLinks(files: readonly string[], root: string): BrokenLink[] {
  const broken: BrokenLink[] = [];
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (path: string): Set<string> => {
    if (!anchorsOf.has(path)) anchorsOf.set(path, headingAnchors(readFileSync(path, 'utf8')));
    return anchorsOf.get(path)!;
  };
  for (const file of files) {
    for (const link of markdownLinks(readFileSync(file, 'utf8'))) {
      if (hasScheme(link.target)) continue;
      const report = (reason: string) => broken.push({ file: relative(root, file), ...link, reason });
      const hashAt = link.target.indexOf('#');
      const pathPart = decodeURIComponent(hashAt < 0 ? link.target : link.target.slice(0, hashAt));
      const anchor = hashAt < 0 ? undefined : decodeURIComponent(link.target.slice(hashAt + 1));
      if (isAbsolute(pathPart)) {
        report('an absolute path; links must be relative to the page');
        continue;
      }
      const path = pathPart === '' ? file : resolve(dirname(file), pathPart);
      const fromRoot = relative(root, path);
      if (fromRoot.startsWith('..') || isAbsolute(fromRoot)) {
        report('points outside the repository');
      } else if (!existsSync(path)) {
        report(`no such file: ${fromRoot}`);
      } else if (anchor !== undefined && anchor !== '') {
        if (statSync(path).isDirectory() || extname(path) !== '.md') report(`an anchor into ${fromRoot}, which is not a Markdown page`);
        else if (!anchors(path).has(anchor)) report(`no heading of ${fromRoot} has the anchor #${anchor}`);
      }
    }
  }
  return broken;
}

/** README.md, CHANGELOG.md and every Markdown file under docs/, as absolute paths. */
export function documentationFiles(root: string): string[] {
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return walk(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
  return [join(root, 'README.md'), ...(existsSync(join(root, 'CHANGELOG.md')) ? [join(root, 'CHANGELOG.md')] : []), ...walk(join(root, 'docs'))];
}
