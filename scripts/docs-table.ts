/**
 * Writes the settings table into docs/configuration.md, between its two marker comments
 * (`npm run docs:table`). test/cross-cutting/docs.test.ts fails when the page and the settings code differ.
 */
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { configTable } from './config-table';

export const CONFIGURATION_PAGE = join(__dirname, '..', 'docs', 'configuration.md');
const START = '<!-- settings-table:start -->';
const END = '<!-- settings-table:end -->';

function markerPositions(markdown: string): { start: number; end: number } {
  const start = markdown.indexOf(START);
  const end = markdown.indexOf(END);
  if (start < 0 || end < start || markdown.indexOf(START, start + 1) >= 0) {
    throw new Error(`the page must hold exactly one "${START}" followed by "${END}"`);
  }
  return { start: start + START.length, end };
}

/** The table between the markers, without the line breaks that separate it from them. */
export function settingsTableBlock(markdown: string): string {
  const { start, end } = markerPositions(markdown);
  return markdown.slice(start, end).replace(/^\n/, '').replace(/\n$/, '');
}

/** The page with `table` between the markers; the rest of the page unchanged. */
export function withSettingsTable(markdown: string, table: string): string {
  const { start, end } = markerPositions(markdown);
  return `${markdown.slice(0, start)}\n${table}\n${markdown.slice(end)}`;
}

if (require.main === module) {
  const page = readFileSync(CONFIGURATION_PAGE, 'utf8');
  const updated = withSettingsTable(page, configTable());
  if (updated === page) {
    console.log('docs/configuration.md: the settings table is up to date');
  } else {
    writeFileSync(CONFIGURATION_PAGE, updated);
    console.log('docs/configuration.md: settings table rewritten from the settings code');
  }
}
