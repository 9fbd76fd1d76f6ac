/** The settings table of docs/configuration.md, from SETTINGS (lib/settings/env-table.ts), its Default column from DEFAULTS;
 * `npm run docs:table` writes it there and test/cross-cutting/docs.test.ts keeps them equal. */
import { SETTINGS } from '../lib';

export function configTable(): string {
  const rows = SETTINGS.map((s) => `| \`${s.env}\` | \`${s.path}\` | ${s.default === '' ? '' : `\`${s.default}\``} | ${s.doc} |`);
  return ['| Variable | Setting (`PgHaSettings`) | Default | What it does |', '|---|---|---|---|', ...rows].join('\n');
}

if (require.main === module) console.log(configTable());
