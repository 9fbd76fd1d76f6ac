/**
 * What apply does to a running cluster made from the committed dist/ (in-memory pods: this
 * proves the order of the controllers' decisions; the e2e test bed proves real programs survive
 * them): unchanged objects untouched, new Jobs run, removed objects deleted, changed pod
 * templates rolled per updateStrategy.
 */
import { ApiObject } from '../../e2e/lib/kube/object-store';
import { statefulSetRevision } from '../../e2e/lib/kube/revision-hash';
import { Cluster, clusterFromDist, distObjects, NS } from './cluster-fixture';

/* eslint-disable @typescript-eslint/no-explicit-any */
function edited(kind: string, name: string, edit: (o: any) => void, objects = distObjects()): ApiObject[] {
  edit(objects.find((x) => x.kind === kind && x.metadata.name === name)!);
  return objects;
}
const newImage = (o: any): void => { o.spec.template.spec.containers[0].image = `${o.spec.template.spec.containers[0].image}-next`; };
/** dist/'s Postgres StatefulSet is OnDelete (the rollout Job replaces its pods); these tests roll it the controller's way. */
const rollingNewImage = (o: any): void => { o.spec.updateStrategy = { type: 'RollingUpdate' }; newImage(o); };
const revisions = (c: Cluster, prefix: string): Record<string, string> => Object.fromEntries(c.pods.pods()
  .filter((p) => p.owner?.kind === 'StatefulSet' && p.owner.name === prefix).map((p) => [p.name, p.labels['controller-revision-hash']]));

test('re-applying the same dist/ changes nothing: no pod stopped or started, no Job run again', async () => {
  const c = await clusterFromDist();
  const events = [...c.pods.events];
  const r = await c.applier.apply(distObjects());
  expect(r.created).toEqual([]);
  expect(r.configured).toEqual([]);
  expect(r.unchanged).toHaveLength(distObjects().length);
  expect(c.pods.events).toEqual(events);
  expect(c.pods.jobsRun).toHaveLength(5); // secrets, etcd access, init, converge and rollout: each once, at the first apply
});

test('the first apply runs in sync-wave order: the secrets Job before etcd, etcd and the etcd access Job (its wave) before Postgres, the init Job, then the PostSync converge and rollout Jobs', async () => {
  const c = await clusterFromDist();
  const step = (e: string): string => {
    if (e.startsWith('job ')) return e.replace(/-[0-9a-f]+$/, '');
    for (const [prefix, what] of [['start pg-ha-etcd-', 'etcd'], ['start pg-ha-router-', 'router'], ['start pg-ha-', 'postgres']]) if (e.startsWith(prefix)) return what;
    return e;
  };
  expect([...new Set(c.pods.events.map(step))]).toEqual(['job pg-ha-secrets', 'job pg-ha-etcd-access', 'etcd', 'postgres', 'router', 'job pg-ha-init', 'job pg-ha-converge', 'job pg-ha-rollout']);
});

test('a Job with a new name runs; the Job and a ConfigMap no longer in dist/ are deleted; a Secret created through the API is kept', async () => {
  const c = await clusterFromDist();
  c.store.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pg-ha-credentials', namespace: NS }, data: {} });
  const objects = distObjects().filter((o) => !(o.kind === 'ConfigMap' && o.metadata.name === 'pg-ha-init'));
  const job = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith('pg-ha-init-'))!;
  const oldName = job.metadata.name;
  job.metadata.name = 'pg-ha-init-0123456789';
  const r = await c.applier.apply(objects);
  expect(r.created).toEqual(['Job/pg-ha-init-0123456789']);
  expect(r.jobs).toEqual([{ name: 'pg-ha-init-0123456789', succeeded: true, message: 'done' }]);
  expect(r.deleted.sort()).toEqual(['ConfigMap/pg-ha-init', `Job/${oldName}`]);
  expect(c.store.get('ConfigMap', NS, 'pg-ha-init')).toBeUndefined();
  expect(c.store.get('Secret', NS, 'pg-ha-credentials')).toBeDefined();
});

test('a failed Job stops the apply at its sync wave (Argo CD semantics): later waves are not applied', async () => {
  const c = await clusterFromDist();
  c.pods.jobOutcome = (job) => ({ succeeded: !job.metadata.name.startsWith('pg-ha-secrets'), message: 'boom' });
  const objects = edited('Job', distObjects().find((o) => o.kind === 'Job' && o.metadata.name.startsWith('pg-ha-secrets'))!.metadata.name, (o) => { o.metadata.name = 'pg-ha-secrets-new'; });
  edited('ConfigMap', 'pg-ha-router', (o) => { o.data.extra = '1'; }, objects);
  const r = await c.applier.apply(objects);
  expect(r.ok).toBe(false);
  expect(r.jobs).toEqual([{ name: 'pg-ha-secrets-new', succeeded: false, message: 'boom' }]);
  expect(c.store.get('ConfigMap', NS, 'pg-ha-router')!.data.extra).toBeUndefined();
});

test('{ order: \'kubectl\' } is a plain kubectl apply: no waves, every new Job starts before any of them ends', async () => {
  const c = await clusterFromDist();
  const timeline: string[] = [];
  c.pods.jobOutcome = ((job: ApiObject) => {
    timeline.push(`start ${job.metadata.name}`);
    return new Promise((resolve) => setTimeout(() => { timeline.push(`end ${job.metadata.name}`); resolve({ succeeded: true, message: 'done' }); }, 20));
  }) as any;
  const objects = distObjects();
  for (const o of objects) if (o.kind === 'Job' && /^pg-ha-(converge|rollout)-/.test(o.metadata.name)) o.metadata.name = `${o.metadata.name}-next`;
  const r = await c.applier.apply(objects, { order: 'kubectl' });
  expect(r.ok).toBe(true);
  expect(timeline.slice(0, 2).every((e) => e.startsWith('start '))).toBe(true);
  expect(timeline.filter((e) => e.startsWith('start ')).map((e) => e.replace(/-[0-9a-f]+-next$/, '')).sort()).toEqual(['start pg-ha-converge', 'start pg-ha-rollout']);
});

describe('StatefulSet RollingUpdate', () => {
  test('highest ordinal first, one at a time, each Ready before the next is stopped', async () => {
    const c = await clusterFromDist();
    c.pods.readyDelayMs = 20;
    const from = c.pods.events.length;
    const objects = edited('StatefulSet', 'pg-ha', rollingNewImage);
    const r = await c.applier.apply(objects);
    expect(r.ok).toBe(true);
    const next = statefulSetRevision(objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'pg-ha')!);
    expect(c.pods.events.slice(from)).toEqual([
      'stop pg-ha-2', `start pg-ha-2 (${next})`, 'ready pg-ha-2',
      'stop pg-ha-1', `start pg-ha-1 (${next})`, 'ready pg-ha-1',
      'stop pg-ha-0', `start pg-ha-0 (${next})`, 'ready pg-ha-0',
    ]);
    expect(c.store.get('StatefulSet', NS, 'pg-ha')!.status.currentRevision).toBe(next);
  });

  test('with a partition, only ordinals >= partition are rolled and currentRevision stays the old one', async () => {
    const c = await clusterFromDist();
    const old = revisions(c, 'pg-ha')['pg-ha-0'];
    const objects = edited('StatefulSet', 'pg-ha', (o) => { newImage(o); o.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 2 } }; });
    await c.applier.apply(objects);
    const next = statefulSetRevision(objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'pg-ha')!);
    expect(revisions(c, 'pg-ha')).toEqual({ 'pg-ha-0': old, 'pg-ha-1': old, 'pg-ha-2': next });
    expect(c.store.get('StatefulSet', NS, 'pg-ha')!.status.currentRevision).toBe(old);
  });

  test('a pod that is not Ready holds the rollout: nothing is stopped until it is Ready', async () => {
    const c = await clusterFromDist();
    c.pods.setReady('pg-ha-0', false);
    const from = c.pods.events.length;
    const applying = c.applier.apply(edited('StatefulSet', 'pg-ha', rollingNewImage));
    await new Promise((r) => setTimeout(r, 100));
    expect(c.pods.events.slice(from)).toEqual([]);
    c.pods.setReady('pg-ha-0', true);
    await applying;
    expect(c.pods.events[from]).toBe('stop pg-ha-2');
  });
});

describe('StatefulSet OnDelete', () => {
  test('a template change restarts no pod; a deleted pod comes back at updateRevision, the others stay', async () => {
    const onDelete = edited('StatefulSet', 'pg-ha', (o) => { o.spec.updateStrategy = { type: 'OnDelete' }; });
    const c = await clusterFromDist(onDelete);
    const old = revisions(c, 'pg-ha')['pg-ha-0'];
    const from = c.pods.events.length;
    const objects = edited('StatefulSet', 'pg-ha', (o) => { o.spec.updateStrategy = { type: 'OnDelete' }; newImage(o); });
    await c.applier.apply(objects);
    expect(c.pods.events.slice(from)).toEqual([]);
    const next = statefulSetRevision(objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'pg-ha')!);
    await c.controllers.clusterState().onDeletePod(NS, 'pg-ha-1');
    await c.controllers.settled();
    expect(revisions(c, 'pg-ha')).toEqual({ 'pg-ha-0': old, 'pg-ha-1': next, 'pg-ha-2': old });
    expect(c.store.get('StatefulSet', NS, 'pg-ha')!.status.currentRevision).toBe(old);
    for (const p of ['pg-ha-0', 'pg-ha-2']) await c.controllers.clusterState().onDeletePod(NS, p);
    await c.controllers.settled();
    expect(c.store.get('StatefulSet', NS, 'pg-ha')!.status.currentRevision).toBe(next);
  });
});

describe('Deployment RollingUpdate', () => {
  test('dist/ router (maxSurge 1, maxUnavailable 0): never more than 3 pods, never fewer than 2 Ready', async () => {
    const c = await clusterFromDist();
    c.pods.readyDelayMs = 10;
    c.pods.peak.clear();
    await c.applier.apply(edited('Deployment', 'pg-ha-router', newImage));
    const routers = c.pods.pods().filter((p) => p.labels['app.kubernetes.io/name'] === 'haproxy');
    expect(routers).toHaveLength(2);
    expect(routers.every((p) => p.spec!.containers[0].image.endsWith('-next'))).toBe(true);
    expect(c.pods.peak.get('haproxy')).toBe(3);
    expect(c.pods.fewestReadyAfterStop.get('haproxy')).toBe(2);
  });

  test('maxSurge 0, maxUnavailable 1: never more than 2 pods, one may be down', async () => {
    const surgeless = (o: any): void => { o.spec.strategy.rollingUpdate = { maxSurge: 0, maxUnavailable: 1 }; };
    const c = await clusterFromDist(edited('Deployment', 'pg-ha-router', surgeless));
    c.pods.readyDelayMs = 10;
    c.pods.peak.clear();
    await c.applier.apply(edited('Deployment', 'pg-ha-router', (o) => { surgeless(o); newImage(o); }));
    expect(c.pods.peak.get('haproxy')).toBe(2);
    expect(c.pods.fewestReadyAfterStop.get('haproxy')).toBe(1);
  });
});

test('a Deployment removed from dist/ has its pods stopped', async () => {
  const c = await clusterFromDist();
  const r = await c.applier.apply(distObjects().filter((o) => !(o.kind === 'Deployment')));
  expect(r.deleted).toEqual(['Deployment/pg-ha-router']);
  expect(c.pods.pods().filter((p) => p.labels['app.kubernetes.io/name'] === 'haproxy')).toEqual([]);
});

test('a second apply during a rollout waits for it, then rolls to the newest template: every pod ends on the last revision', async () => {
  const c = await clusterFromDist();
  c.pods.readyDelayMs = 10;
  const first = c.applier.apply(edited('StatefulSet', 'pg-ha', rollingNewImage));
  await new Promise((r) => setTimeout(r, 15));
  const latest = edited('StatefulSet', 'pg-ha', (o) => { rollingNewImage(o); newImage(o); });
  const second = c.applier.apply(latest);
  const results = await Promise.all([first, second]);
  expect(results.map((r) => r.ok)).toEqual([true, true]);
  const want = statefulSetRevision(latest.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'pg-ha')!);
  expect(Object.values(revisions(c, 'pg-ha'))).toEqual([want, want, want]);
});
