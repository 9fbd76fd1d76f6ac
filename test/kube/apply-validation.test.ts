/**
 * Changes the Kubernetes API server refuses are refused by apply too, with the API server's
 * message, and leave the object as it was while the rest of the dist/ still applies. The allowed
 * StatefulSet changes are accepted. Each case starts from the committed dist/.
 */
import { ApiObject } from '../../e2e/lib/kube/object-store';
import { clusterFromDist, distObjects } from './cluster-fixture';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** dist/ with one object changed by `edit`. */
function distWith(kind: string, name: string, edit: (o: any) => void): ApiObject[] {
  const objects = distObjects();
  const o = objects.find((x) => x.kind === kind && (x.metadata.name === name || (kind === 'Job' && x.metadata.name.startsWith(name))));
  if (!o) throw new Error(`no ${kind} ${name} in dist/`);
  edit(o);
  return objects;
}

const STS_FORBIDDEN = "StatefulSet.apps \"pg-ha\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

describe('StatefulSet', () => {
  test.each([
    ['a larger volume (volumeClaimTemplates)', (o: any) => { o.spec.volumeClaimTemplates[0].spec.resources.requests.storage = '999Gi'; }],
    ['another serviceName', (o: any) => { o.spec.serviceName = 'other-headless'; }],
    ['another podManagementPolicy', (o: any) => { o.spec.podManagementPolicy = 'OrderedReady'; }],
    ['another selector', (o: any) => { o.spec.selector.matchLabels.extra = 'x'; o.spec.template.metadata.labels.extra = 'x'; }],
  ])('%s is refused with the API server\'s message and the StatefulSet keeps its spec', async (_what, edit) => {
    const c = await clusterFromDist();
    const before = c.store.get('StatefulSet', 'pg-ha', 'pg-ha')!;
    const events = c.pods.events.length;
    const r = await c.applier.apply(distWith('StatefulSet', 'pg-ha', edit));
    expect(r.ok).toBe(false);
    expect(r.rejected).toEqual([{ object: 'StatefulSet/pg-ha', message: STS_FORBIDDEN }]);
    expect(c.store.get('StatefulSet', 'pg-ha', 'pg-ha')!.spec).toEqual(before.spec);
    expect(c.pods.events.length).toBe(events);
  });

  test.each([
    ['replicas', (o: any) => { o.spec.replicas = 4; }],
    ['updateStrategy', (o: any) => { o.spec.updateStrategy = { type: 'RollingUpdate' }; }],
    ['minReadySeconds', (o: any) => { o.spec.minReadySeconds = 5; }],
    ['persistentVolumeClaimRetentionPolicy', (o: any) => { o.spec.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Delete', whenScaled: 'Retain' }; }],
    ['revisionHistoryLimit', (o: any) => { o.spec.revisionHistoryLimit = 3; }],
    ['ordinals', (o: any) => { o.spec.ordinals = { start: 0 }; }],
  ])('a change of %s is accepted', async (_what, edit) => {
    const c = await clusterFromDist();
    const r = await c.applier.apply(distWith('StatefulSet', 'pg-ha', edit));
    expect(r.rejected).toEqual([]);
    expect(r.configured).toEqual(['StatefulSet/pg-ha']);
  });

  test('a refused object does not stop the others: a ConfigMap change in the same apply is applied', async () => {
    const c = await clusterFromDist();
    const objects = distWith('StatefulSet', 'pg-ha', (o) => { o.spec.serviceName = 'x'; });
    objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'pg-ha-router')!.data.extra = '1';
    const r = await c.applier.apply(objects);
    expect(r.rejected.map((x) => x.object)).toEqual(['StatefulSet/pg-ha']);
    expect(r.configured).toEqual(['ConfigMap/pg-ha-router']);
    expect(c.store.get('ConfigMap', 'pg-ha', 'pg-ha-router')!.data.extra).toBe('1');
  });
});

describe('Job', () => {
  test('a changed template under the same name is refused: spec.template is immutable', async () => {
    const c = await clusterFromDist();
    const r = await c.applier.apply(distWith('Job', 'pg-ha-init-', (o) => { o.spec.template.spec.containers[0].image = 'postgres:18-alpine'; }));
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0].message).toMatch(/^Job\.batch "pg-ha-init-[0-9a-f]+" is invalid: spec\.template: Invalid value: .*: field is immutable$/);
    expect(c.pods.jobsRun.filter((j) => j.startsWith('pg-ha-init-'))).toHaveLength(1);
  });

  test('a changed selector is refused: spec.selector is immutable', async () => {
    const objects = distWith('Job', 'pg-ha-init-', (o) => { o.spec.selector = { matchLabels: { 'app.kubernetes.io/name': 'pg-ha-init' } }; });
    const c = await clusterFromDist(objects);
    const r = await c.applier.apply(distWith('Job', 'pg-ha-init-', (o) => { o.spec.selector = { matchLabels: { 'app.kubernetes.io/component': 'init' } }; }));
    expect(r.rejected[0].message).toMatch(/^Job\.batch "pg-ha-init-[0-9a-f]+" is invalid: spec\.selector: Invalid value: .*: field is immutable$/);
  });
});

describe('Deployment', () => {
  test('a changed selector is refused: spec.selector is immutable', async () => {
    const c = await clusterFromDist();
    const r = await c.applier.apply(distWith('Deployment', 'pg-ha-router', (o) => {
      o.spec.selector.matchLabels.tier = 'edge';
      o.spec.template.metadata.labels.tier = 'edge';
    }));
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0].message).toMatch(/^Deployment\.apps "pg-ha-router" is invalid: spec\.selector: Invalid value: .*: field is immutable$/);
  });

  test('maxSurge and maxUnavailable both 0 is refused', async () => {
    const c = await clusterFromDist();
    const r = await c.applier.apply(distWith('Deployment', 'pg-ha-router', (o) => { o.spec.strategy.rollingUpdate = { maxSurge: 0, maxUnavailable: 0 }; }));
    expect(r.rejected[0].message).toBe('Deployment.apps "pg-ha-router" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0');
  });

  test('a selector that does not match the template labels is refused', async () => {
    const c = await clusterFromDist();
    const r = await c.applier.apply(distWith('Deployment', 'pg-ha-router', (o) => { o.spec.template.metadata.labels['app.kubernetes.io/name'] = 'other'; }));
    expect(r.rejected[0].message).toMatch(/spec\.template\.metadata\.labels: Invalid value: .*`selector` does not match template `labels`$/);
  });
});
