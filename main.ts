/**
 * The command line: read settings (pg-ha.env + environment), build the chart, write dist/ and the
 * optional Argo CD Application. Run with `npm run synth` or `npx cdk8s synth` (cdk8s.yaml's `app`): both
 * read the deployed state from the committed dist/ (lib/cli.ts), so both make and refuse the same synths.
 * `npm run synth -- --settings other.env` reads another file instead of pg-ha.env.
 */
import { join } from 'path';
import { clusterContextOf, PgHaChart, renderArgoCdApplication } from './lib';
import { runSynth } from './lib/cli';

const outdir = process.env.CDK8S_OUTDIR ?? join(__dirname, 'dist');

process.exitCode = runSynth({
  args: process.argv.slice(2),
  defaultEnvFile: join(__dirname, 'pg-ha.env'),
  env: process.env,
  outdir,
  // `deployed` is the previous output, what running clusters were applied from: their immutable fields stay.
  build: (app, settings, deployed) => {
    const cluster = clusterContextOf(settings);
    // Rendered (and validated) before dist/ is touched; written outside dist/ after it succeeded.
    const application = renderArgoCdApplication(settings.argocd, { scope: cluster.name, namespace: cluster.namespace, projectDir: __dirname, outdir });
    new PgHaChart(app, cluster.name, settings, { deployed });
    return application;
  },
  stderr: (line) => process.stderr.write(`${line}\n`),
  stdout: (line) => process.stdout.write(`${line}\n`),
});
