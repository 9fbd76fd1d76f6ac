/**
 * The command line: read settings (pg-ha.env + environment), build the chart, write dist/ and the
 * optional Argo CD Application. Run with `npm run synth` or `npx cdk8s synth` (cdk8s.yaml's `app`): both
 * read the deployed state from the committed dist/ (lib/cli.ts), so both make and refuse the same synths.
 */
import { join } from 'path';
import { clusterContextOf, ConfigError, DeployedManifests, loadSettings, PgHaChart, renderArgoCdApplication, variablesFor } from './lib';
import { readPreviousOutput, restorePreviousOutput, synthAtomically, writeApplication } from './lib/cli';

const outdir = process.env.CDK8S_OUTDIR ?? join(__dirname, 'dist');
const say = (line: string) => process.stderr.write(`pg-ha-cdk8s: ${line}\n`);
// The previous output is what running clusters were applied from: their immutable fields stay.
const previous = readPreviousOutput(outdir);

try {
  say(`deployed state: ${previous.source}`);
  const settings = loadSettings(join(__dirname, 'pg-ha.env'), process.env, say);
  const cluster = clusterContextOf(settings);
  // Rendered (and validated) before dist/ is touched; written outside dist/ after it succeeded.
  const application = renderArgoCdApplication(settings.argocd, {
    scope: cluster.name, namespace: cluster.namespace, projectDir: __dirname, outdir,
  });
  const deployed = DeployedManifests.parse(previous.files);
  synthAtomically(outdir, (app) => new PgHaChart(app, cluster.name, settings, { deployed }));
  if (application) writeApplication(application);
} catch (error) {
  if (restorePreviousOutput(outdir, previous)) say(`${outdir} had been removed before the synth ran (cdk8s synth does that); restored it from ${previous.source}`);
  if (!(error instanceof ConfigError)) throw error;
  const vars = variablesFor(error.setting);
  const hint = vars.length ? ` [set by ${vars.join(', ')} in pg-ha.env or the environment]` : '';
  process.stderr.write(`pg-ha-cdk8s: invalid configuration: ${error.message}${hint}\nNothing was written; ${outdir} is unchanged.\n`);
  process.exit(1);
}
