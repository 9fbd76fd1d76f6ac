/**
 * The optional Argo CD Application that syncs dist/ from your fork: validated and rendered here,
 * written outside dist/ (the directory it points at) by the command line.
 */
import { isAbsolute, relative, resolve, sep } from 'path';
import { App, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { Application } from '../../imports/application-argoproj.io';
import { DEFAULTS } from '../settings/defaults';
import { ArgoCdApplicationSettings } from '../settings/feature-settings';
import { checkOptionalFeatures } from '../settings/optional-features';
import { checkDnsLabel, checkDnsSubdomain, checkRepoPath, ConfigError } from '../validation';

export interface ArgoCdApplicationProps extends ArgoCdApplicationSettings {
  readonly repoUrl: string;
  /** Namespace of the cluster's objects (the destination namespace). */
  readonly destinationNamespace: string;
  /** Used as the default Application name. */
  readonly scope: string;
}

const REPO_URL = /^(?:(?:https?|ssh|git):\/\/[^\s/]+\/\S+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\S+)$/;
const REVISION = /^[A-Za-z0-9._\-/]+$/;

/** An Argo CD Application that syncs dist/ from your fork into the cluster's namespace. */
export class ArgoCdApplication extends Construct {
  public readonly application: Application;

  constructor(scope: Construct, id: string, props: ArgoCdApplicationProps) {
    super(scope, id);
    if (typeof props.repoUrl !== 'string' || !REPO_URL.test(props.repoUrl)) {
      throw new ConfigError('argocd.repoUrl', props.repoUrl, 'a Git URL such as "https://github.com/you/pg-ha-cdk8s.git" or "git@github.com:you/pg-ha-cdk8s.git"');
    }
    const targetRevision = props.targetRevision ?? DEFAULTS.argocd.targetRevision;
    if (!REVISION.test(targetRevision) || targetRevision.includes('..')) {
      throw new ConfigError('argocd.targetRevision', targetRevision, 'a branch, tag or commit (letters, digits, ".", "_", "-", "/")');
    }
    const path = checkRepoPath('argocd.path', props.path ?? DEFAULTS.argocd.path);
    const name = checkDnsSubdomain('argocd.appName', props.appName ?? props.scope);
    const namespace = checkDnsLabel('argocd.namespace', props.namespace ?? DEFAULTS.argocd.namespace);
    const project = checkDnsSubdomain('argocd.project', props.project ?? DEFAULTS.argocd.project);
    const server = props.server ?? DEFAULTS.argocd.server;
    if (!/^https:\/\/[^\s/]+(\/\S*)?$/.test(server)) {
      throw new ConfigError('argocd.server', server, 'an https:// URL of a Kubernetes API server, e.g. "https://kubernetes.default.svc"');
    }
    const automated = props.automated ?? DEFAULTS.argocd.automated;

    this.application = new Application(this, 'Application', {
      metadata: {
        name,
        namespace,
        labels: { 'app.kubernetes.io/part-of': 'pg-ha', 'app.kubernetes.io/managed-by': 'cdk8s' },
        // Deleting the Application deletes the cluster's objects too; the Namespace, PVCs and generated
        // Secret stay (Delete=false).
        finalizers: ['resources-finalizer.argocd.argoproj.io'],
      },
      spec: {
        project,
        source: {
          repoUrl: props.repoUrl,
          targetRevision,
          path,
          // dist/ holds plain YAML; recursing could pick up anything else a user puts there.
          directory: { recurse: false },
        },
        destination: { server, namespace: props.destinationNamespace },
        syncPolicy: {
          ...(automated ? { automated: { prune: true, selfHeal: true } } : {}),
          syncOptions: [
            // Removed objects are deleted only after everything else is in sync and healthy.
            'PruneLast=true',
          ],
          // The init Job waits up to its deadline for a leader; a failed sync is tried again.
          retry: { limit: 5, backoff: { duration: '30s', factor: 2, maxDuration: '5m' } },
        },
      },
    });
  }
}

/** The rendered Application and the file it goes to. */
export interface RenderedApplication {
  readonly file: string;
  readonly yaml: string;
}

/**
 * Validates the Argo CD settings and renders the Application manifest, without writing anything.
 * Returns undefined when `repoUrl` is unset (no Application wanted).
 *
 * @param projectDir the repository root (where pg-ha.env lives); `file` is relative to it
 * @param outdir the synth output directory; the Application must be written outside it
 */
export function renderArgoCdApplication(
  settings: ArgoCdApplicationSettings | undefined,
  context: { scope: string; namespace: string; projectDir: string; outdir: string },
): RenderedApplication | undefined {
  checkOptionalFeatures({ argocd: settings });
  if (settings?.repoUrl === undefined) return undefined;
  const fileSetting = settings.file ?? DEFAULTS.argocd.file;
  const file = resolve(context.projectDir, fileSetting);
  const fromOutdir = relative(resolve(context.outdir), file);
  if (!fromOutdir.startsWith('..') && !isAbsolute(fromOutdir)) {
    throw new ConfigError('argocd.file', fileSetting, `a path outside the synth output directory ${context.outdir} (Argo CD syncs that directory; the Application must not be in it)`);
  }
  if (!fileSetting.endsWith('.yaml') && !fileSetting.endsWith('.yml')) {
    throw new ConfigError('argocd.file', fileSetting, 'a .yaml file name');
  }
  const app = new App();
  const chart = new Chart(app, 'argocd-application');
  new ArgoCdApplication(chart, 'ArgoCd', {
    ...settings,
    repoUrl: settings.repoUrl,
    scope: context.scope,
    destinationNamespace: context.namespace,
  });
  const header = '# Generated by pg-ha-cdk8s (`npm run synth`, ARGOCD_* settings); apply once with\n'
    + '#   kubectl apply -f ' + relative(context.projectDir, file).split(sep).join('/') + '\n';
  return { file, yaml: header + app.synthYaml() };
}
