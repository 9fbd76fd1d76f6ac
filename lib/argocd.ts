/**
 * Argo CD support: sync waves and hooks on the cluster's objects, and an optional Application
 * manifest written outside dist/ (the directory it points at).
 *
 * Everything here is annotations, so `kubectl apply -f dist/` behaves exactly as without Argo CD.
 */
import { renameSync, writeFileSync, mkdirSync } from 'fs';
import { dirname, isAbsolute, normalize, relative, resolve, sep } from 'path';
import { ApiObject, App, Chart, JsonPatch } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { Application } from '../imports/application-argoproj.io';
import { checkDnsLabel, checkDnsSubdomain, ConfigError } from './validation';

/** Annotation keys Argo CD reads. */
export const ARGOCD = {
  syncWave: 'argocd.argoproj.io/sync-wave',
  hook: 'argocd.argoproj.io/hook',
  hookDeletePolicy: 'argocd.argoproj.io/hook-delete-policy',
  syncOptions: 'argocd.argoproj.io/sync-options',
  compareOptions: 'argocd.argoproj.io/compare-options',
} as const;

/**
 * Sync waves, in dependency order. Argo CD applies a wave only when every object of the previous
 * wave is healthy, so Patroni never starts before etcd answers, the router never starts before
 * the members exist, and the init Job runs once the write Service can reach a leader.
 */
export const SYNC_WAVES = {
  /** The Namespace everything else lives in. */
  namespace: -3,
  /** ServiceAccount, Role, RoleBinding and script of the secrets Job. */
  secretsPrerequisites: -2,
  /** Before any pod starts, so every pod starts under its policy (the secrets Job's egress is allowed). */
  networkPolicies: -2,
  /** The secrets Job: every pod reads the Secret it creates. */
  secretsJob: -1,
  etcd: 0,
  /** The cert-manager Certificate of PostgreSQL's TLS: Ready (its Secret exists) before the members start. */
  certificates: 0,
  postgres: 1,
  router: 2,
  /** The init Job (a Sync hook) and its ConfigMap. */
  init: 3,
  /**
   * Last: Argo CD reports an Ingress Progressing until a controller publishes its address,
   * which would hold back every later wave; monitoring objects need nothing after them either.
   * PodDisruptionBudgets too: created before their pods, a PDB allows no disruption and may not
   * report healthy; here their pods already run.
   */
  extras: 4,
} as const;

/** Annotations that make a Job an Argo CD Sync hook (see `annotateForArgoCd`). */
export function syncHookAnnotations(wave: number): Record<string, string> {
  return {
    [ARGOCD.hook]: 'Sync',
    [ARGOCD.hookDeletePolicy]: 'BeforeHookCreation',
    [ARGOCD.syncWave]: String(wave),
  };
}

/**
 * Annotations for objects Kubernetes creates on the app's behalf (the generated credentials
 * Secret, the StatefulSets' PVCs). They are not in git, yet they carry the app's
 * `app.kubernetes.io/instance` label; under Argo CD's label tracking (the default before 3.0) they
 * would be listed as extraneous and pruned. These make Argo CD ignore them and never delete them,
 * neither when pruning nor when the Application is deleted.
 */
export const KEEP_UNTRACKED_ANNOTATIONS: Readonly<Record<string, string>> = {
  [ARGOCD.syncOptions]: 'Prune=false,Delete=false',
  [ARGOCD.compareOptions]: 'IgnoreExtraneous',
};

/**
 * Sync options of the Namespace: deleting it deletes every PVC and the generated Secret in it, so
 * neither pruning (e.g. after CREATE_NAMESPACE=false) nor deleting the Application removes it.
 */
export const NAMESPACE_SYNC_OPTIONS = 'Prune=false,Delete=false';

/** Which part of the topology a group of constructs is, for `annotateForArgoCd`. */
export interface SyncWaveGroup {
  /** Every ApiObject under this construct gets `wave`. */
  readonly scope: IConstruct;
  readonly wave: number;
}

/**
 * Writes sync waves on every ApiObject of `chart`, turns every Job into a Sync hook, and marks the
 * Namespace and the PVCs of every StatefulSet as never pruned or deleted by Argo CD.
 *
 * Why the Jobs are Sync hooks (not PreSync/PostSync, not plain resources):
 * - a plain Job deleted by `ttlSecondsAfterFinished` would leave the app OutOfSync forever (and
 *   self-heal would re-run it every hour); hooks are not part of the compared state;
 * - Sync hooks run inside the Sync phase in wave order, so the secrets Job (wave -1) runs after its
 *   RBAC (wave -2) and the init Job (wave 3) after the router (wave 2). A PreSync hook would run before
 *   its ServiceAccount exists on the first sync; a PostSync hook waits for every resource to be
 *   healthy, including an Ingress that may never get an address;
 * - `BeforeHookCreation` deletes the previous Job of the same name before creating it again, so a
 *   re-sync never fails on a Job's immutable pod template; a changed Job has a new (hashed) name
 *   anyway, which is also what keeps `kubectl apply -f dist/` re-runs working (hook annotations mean
 *   nothing to kubectl).
 *
 * Objects under none of `groups` get wave 0 (Argo CD's default), written explicitly so a reviewer
 * sees it; a test checks that every object is in the wave its component belongs to.
 */
export function annotateForArgoCd(chart: Chart, groups: readonly SyncWaveGroup[]): void {
  const waveOf = new Map<IConstruct, number>();
  for (const group of groups) {
    for (const child of group.scope.node.findAll()) waveOf.set(child, group.wave);
  }
  for (const child of chart.node.findAll()) {
    if (!(child instanceof ApiObject)) continue;
    const wave = waveOf.get(child) ?? 0;
    if (child.kind === 'Job') {
      // The secrets Job runs one wave after its prerequisites.
      const hookWave = wave === SYNC_WAVES.secretsPrerequisites ? SYNC_WAVES.secretsJob : wave;
      for (const [key, value] of Object.entries(syncHookAnnotations(hookWave))) child.metadata.addAnnotation(key, value);
      continue;
    }
    child.metadata.addAnnotation(ARGOCD.syncWave, String(wave));
    if (child.kind === 'StatefulSet') keepClaimsUntracked(child);
    if (child.kind === 'Namespace') child.metadata.addAnnotation(ARGOCD.syncOptions, NAMESPACE_SYNC_OPTIONS);
  }
}

/**
 * Adds KEEP_UNTRACKED_ANNOTATIONS to every volumeClaimTemplate (the StatefulSet controller copies
 * them onto the PVCs it creates). volumeClaimTemplates are immutable after creation, so this has to
 * be there from the first apply.
 */
function keepClaimsUntracked(statefulSet: ApiObject): void {
  const templates: unknown[] = statefulSet.toJson().spec?.volumeClaimTemplates ?? [];
  templates.forEach((_, i) => {
    statefulSet.addJsonPatch(JsonPatch.add(`/spec/volumeClaimTemplates/${i}/metadata/annotations`, { ...KEEP_UNTRACKED_ANNOTATIONS }));
  });
}

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

function checkRepoPath(setting: string, value: string): string {
  const normal = normalize(value).replace(/\\/g, '/').replace(/\/$/, '');
  if (value === '' || isAbsolute(value) || normal === '..' || normal.startsWith('../') || /\s/.test(value)) {
    throw new ConfigError(setting, value, 'a directory relative to the repository root, inside it, e.g. "dist"');
  }
  return normal;
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

/** Writes `rendered` through a temporary file and a rename, so a reader never sees half a file. */
export function writeApplication(rendered: RenderedApplication): void {
  mkdirSync(dirname(rendered.file), { recursive: true });
  const staging = `${rendered.file}.tmp-${process.pid}`;
  writeFileSync(staging, rendered.yaml, { mode: 0o644 });
  renameSync(staging, rendered.file);
}
