/**
 * Synthesizes into a temporary directory and swaps it into place only when everything succeeded,
 * so invalid settings leave the existing dist/ untouched.
 */
import { chmodSync, mkdtempSync, renameSync, rmSync } from 'fs';
import { basename, dirname, join, resolve } from 'path';
import { App, YamlOutputType } from 'cdk8s';

export function synthAtomically(outdir: string, build: (app: App) => void): string[] {
  const target = resolve(outdir);
  const staging = mkdtempSync(join(dirname(target), `.${basename(target)}.staging-`));
  try {
    const app = new App({ outdir: staging, yamlOutputType: YamlOutputType.FILE_PER_CHART });
    build(app);
    app.synth();
    const files = app.charts.map((chart) => `${chart.node.id}.k8s.yaml`);
    rmSync(target, { recursive: true, force: true });
    chmodSync(staging, 0o755);
    renameSync(staging, target);
    return files;
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}
