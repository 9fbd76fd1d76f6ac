/* Writing a benchmark's results section into docs/BENCHMARKS.md, between its own markers. */
import * as fs from 'fs';
import * as path from 'path';
import { log } from '../lib/log';

/**
 * Replace the block between `<!-- <key>:start -->` and `<!-- <key>:end -->` in `file` with `section`;
 * without the markers, append the block under `heading`.
 */
export function writeBenchSection(file: string, key: string, heading: string, section: string): void {
  const start = `<!-- ${key}:start -->`;
  const end = `<!-- ${key}:end -->`;
  const block = `${start}\n${section}\n${end}`;
  let doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  if (doc.includes(start) && doc.includes(end)) {
    doc = doc.slice(0, doc.indexOf(start)) + block + doc.slice(doc.indexOf(end) + end.length);
  } else {
    doc = `${doc.trimEnd()}\n\n## ${heading}\n\n${block}\n`;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, doc);
  log(`results written to ${file}`);
}
