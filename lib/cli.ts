/**
 * File writing of the command line (main.ts): the synth output and the Argo CD Application are
 * replaced only when everything succeeded, so invalid settings leave them untouched.
 */
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'fs';
import { basename, dirname, join, resolve } from 'path';
import { App, YamlOutputType } from 'cdk8s';
import { RenderedApplication } from './gitops/argocd-application';

/** Synthesizes into a temporary directory and swaps it into place only when `build` and the synth succeeded. */

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

/** Writes `rendered` through a temporary file and a rename, so a reader never sees half a file. */
export function writeApplication(rendered: RenderedApplication): void {
  mkdirSync(dirname(rendered.file), { recursive: true });
  const staging = `${rendered.file}.tmp-${process.pid}`;
  writeFileSync(staging, rendered.yaml, { mode: 0o644 });
  renameSync(staging, rendered.file);
}
