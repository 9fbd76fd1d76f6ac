/**
 * The command line: read settings (pg-ha.env + environment), build the chart, write dist/ and the
 * optional Argo CD Application. Run with `npm run synth` (or `cdk8s synth`, which uses cdk8s.yaml's `app`).
 */
import { join } from 'path';
import { clusterContextOf, ConfigError, DeployedManifests, loadSettings, PgHaChart, renderArgoCdApplication, variablesFor } from './lib';
import { synthAtomically, writeApplication } from './lib/cli';

const outdir = process.env.CDK8S_OUTDIR ?? join(__dirname, 'dist');

try {
  const settings = loadSettings(join(__dirname, 'pg-ha.env'), process.env, (line) => process.stderr.write(`pg-ha-cdk8s: ${line}\n`));
  const cluster = clusterContextOf(settings);
  // Rendered (and validated) before dist/ is touched; written outside dist/ after it succeeded.
  const application = renderArgoCdApplication(settings.argocd, {
    scope: cluster.name, namespace: cluster.namespace, projectDir: __dirname, outdir,
  });
  // The previous output is what running clusters were applied from: their immutable fields stay.
  const deployed = DeployedManifests.read(outdir);
  synthAtomically(outdir, (app) => new PgHaChart(app, cluster.name, settings, { deployed }));
  if (application) writeApplication(application);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  const vars = variablesFor(error.setting);
  const hint = vars.length ? ` [set by ${vars.join(', ')} in pg-ha.env or the environment]` : '';
  process.stderr.write(`pg-ha-cdk8s: invalid configuration: ${error.message}${hint}\nNothing was written; ${outdir} is unchanged.\n`);
  process.exit(1);
}
