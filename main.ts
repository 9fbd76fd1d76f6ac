/**
 * Entry point: read settings (pg-ha.env + environment), build the chart, write dist/.
 * Run with `npm run synth` (or `cdk8s synth`, which uses cdk8s.yaml's `app`).
 */
import { join } from 'path';
import { ConfigError } from './lib/validation';
import { loadSettings, variablesFor } from './lib/settings/env-table';
import { PgHaChart } from './lib/pg-ha-chart';
import { renderArgoCdApplication } from './lib/gitops/argocd-application';
import { synthAtomically, writeApplication } from './lib/cli';

const outdir = process.env.CDK8S_OUTDIR ?? join(__dirname, 'dist');

try {
  const settings = loadSettings(join(__dirname, 'pg-ha.env'), process.env);
  // Rendered (and validated) before dist/ is touched; written outside dist/ after it succeeded.
  const application = renderArgoCdApplication(settings.argocd, {
    scope: settings.scope ?? 'pg-ha', namespace: settings.namespace ?? 'pg-ha', projectDir: __dirname, outdir,
  });
  synthAtomically(outdir, (app) => new PgHaChart(app, settings.scope ?? 'pg-ha', settings));
  if (application) writeApplication(application);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  const vars = variablesFor(error.setting);
  const hint = vars.length ? ` [set by ${vars.join(', ')} in pg-ha.env or the environment]` : '';
  process.stderr.write(`pg-ha-cdk8s: invalid configuration: ${error.message}${hint}\nNothing was written; ${outdir} is unchanged.\n`);
  process.exit(1);
}
