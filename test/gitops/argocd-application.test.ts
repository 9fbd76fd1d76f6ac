/**
 * The optional Argo CD Application (ARGOCD_* settings): pointed at this fork's dist/, validated like
 * every setting. Writing it outside dist/ is the synth command's (test/cli.test.ts); its schema is
 * checked in test/cross-cutting/schema.test.ts.
 */
import { parse } from 'yaml';
import { renderArgoCdApplication, settingsFromVariables } from '../../lib';

describe('Application', () => {
  const context = { scope: 'pg-ha', namespace: 'pg-ha', projectDir: '/repo', outdir: '/repo/dist' };
  const render = (settings: object) => renderArgoCdApplication({ repoUrl: 'https://github.com/you/pg-ha-cdk8s.git', ...settings }, context);

  test('is not written without a repo URL', () => {
    expect(renderArgoCdApplication(undefined, context)).toBeUndefined();
    expect(renderArgoCdApplication({}, context)).toBeUndefined();
  });

  test('other ARGOCD_* settings without a repo URL are an error, not silently ignored', () => {
    expect(() => renderArgoCdApplication({ targetRevision: 'main' }, context)).toThrow(/argocd.targetRevision must be unset while argocd.repoUrl is unset \(ARGOCD_REPO_URL\)/);
  });

  test('points at dist/ of the fork and syncs into the cluster namespace, written outside dist/', () => {
    const rendered = render({ targetRevision: 'main' })!;
    expect(rendered.file).toBe('/repo/deploy/argocd-application.yaml');
    const app = parse(rendered.yaml);
    expect(app.metadata).toMatchObject({ name: 'pg-ha', namespace: 'argocd' });
    expect(app.spec.source).toEqual({ repoURL: 'https://github.com/you/pg-ha-cdk8s.git', targetRevision: 'main', path: 'dist', directory: { recurse: false } });
    expect(app.spec.destination).toEqual({ server: 'https://kubernetes.default.svc', namespace: 'pg-ha' });
    expect(app.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
  });

  test('manual sync leaves out `automated`', () => {
    expect(parse(render({ automated: false })!.yaml).spec.syncPolicy.automated).toBeUndefined();
  });

  test('the ARGOCD_* variables reach the settings; ARGOCD_AUTO_SYNC must be true or false', () => {
    expect(settingsFromVariables({ ARGOCD_REPO_URL: 'git@github.com:you/pg.git', ARGOCD_AUTO_SYNC: 'false', ARGOCD_APP_NAME: 'db' }).argocd)
      .toEqual({ repoUrl: 'git@github.com:you/pg.git', automated: false, appName: 'db' });
    expect(() => settingsFromVariables({ ARGOCD_AUTO_SYNC: 'maybe' })).toThrow(/ARGOCD_AUTO_SYNC must be "true" or "false"/);
  });

  test.each([
    [{ repoUrl: 'github.com/you/repo' }, /argocd.repoUrl must be a Git URL/],
    [{ targetRevision: 'main branch' }, /argocd.targetRevision must be a branch, tag or commit/],
    [{ path: '../elsewhere' }, /argocd.path must be a directory relative to the repository root/],
    [{ path: '/abs' }, /argocd.path must be/],
    [{ appName: 'Bad_Name' }, /argocd.appName must be a DNS-1123 subdomain/],
    [{ namespace: 'argo cd' }, /argocd.namespace must be a DNS-1123 label/],
    [{ project: 'My Project' }, /argocd.project must be a DNS-1123 subdomain/],
    [{ server: 'http://insecure:6443' }, /argocd.server must be an https:\/\/ URL/],
    [{ file: 'dist/app.yaml' }, /argocd.file must be a path outside the synth output directory/],
    [{ file: 'deploy/app.json' }, /argocd.file must be a .yaml file name/],
  ])('rejects %j', (settings, message) => {
    expect(() => render(settings)).toThrow(message);
  });
});
