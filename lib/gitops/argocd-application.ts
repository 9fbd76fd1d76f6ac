/**
 * The optional Argo CD Application that syncs dist/ from your fork: validated and rendered here,
 * written outside dist/ (the directory it points at) by the command line.
 */
import { isAbsolute, relative, resolve, sep } from 'path';
import { App, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { Application } from '../../imports/application-argoproj.io';
import { checkDnsLabel, checkDnsSubdomain, checkRepoPath, ConfigError } from '../validation';

/** Where the optional Argo CD Application points and how it syncs. */
export interface ArgoCdApplicationSettings {
  /**
   * Git URL of your fork (ARGOCD_REPO_URL). When unset, no Application manifest is written.
   * @default - no Application
   */
  readonly repoUrl?: string;
  /**
   * Branch, tag or commit Argo CD follows (ARGOCD_TARGET_REVISION).
   * @default 'HEAD'
   */
  readonly targetRevision?: string;
  /**
   * Directory of the manifests in the repository (ARGOCD_PATH).
   * @default 'dist'
   */
  readonly path?: string;
  /**
   * Name of the Application (ARGOCD_APP_NAME).
   * @default - the cluster's scope (SCOPE)
   */
  readonly appName?: string;
  /**
   * Namespace Argo CD watches for Applications (ARGOCD_NAMESPACE).
   * @default 'argocd'
   */
  readonly namespace?: string;
  /**
   * Argo CD project (ARGOCD_PROJECT).
   * @default 'default'
   */
  readonly project?: string;
  /**
   * Kubernetes API server of the destination cluster (ARGOCD_DESTINATION_SERVER).
   * @default 'https://kubernetes.default.svc' (the cluster Argo CD runs in)
   */
  readonly server?: string;
  /**
   * Sync automatically on every commit, prune what was removed from git and undo manual changes
   * (ARGOCD_AUTO_SYNC).
   * @default true
   */
  readonly automated?: boolean;
  /**
   * Where the Application manifest is written, relative to the project (ARGOCD_APPLICATION_FILE).
   * Must be outside the synth output directory: Argo CD would otherwise sync the Application into itself.
   * @default 'deploy/argocd-application.yaml'
   */
  readonly file?: string;
}

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
    const targetRevision = props.targetRevision ?? 'HEAD';
    if (!REVISION.test(targetRevision) || targetRevision.includes('..')) {
      throw new ConfigError('argocd.targetRevision', targetRevision, 'a branch, tag or commit (letters, digits, ".", "_", "-", "/")');
    }
    const path = checkRepoPath('argocd.path', props.path ?? 'dist');
    const name = checkDnsSubdomain('argocd.appName', props.appName ?? props.scope);
    const namespace = checkDnsLabel('argocd.namespace', props.namespace ?? 'argocd');
    const project = checkDnsSubdomain('argocd.project', props.project ?? 'default');
    const server = props.server ?? 'https://kubernetes.default.svc';
    if (!/^https:\/\/[^\s/]+(\/\S*)?$/.test(server)) {
      throw new ConfigError('argocd.server', server, 'an https:// URL of a Kubernetes API server, e.g. "https://kubernetes.default.svc"');
    }
    const automated = props.automated ?? true;

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
  if (settings?.repoUrl === undefined) {
    const given = Object.entries(settings ?? {}).filter(([, value]) => value !== undefined).map(([key]) => `argocd.${key}`);
    if (given.length > 0) {
      throw new ConfigError('argocd.repoUrl', undefined, `set (ARGOCD_REPO_URL) when ${given.join(', ')} ${given.length > 1 ? 'are' : 'is'} set: without it no Application is written`);
    }
    return undefined;
  }
  const fileSetting = settings.file ?? 'deploy/argocd-application.yaml';
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
