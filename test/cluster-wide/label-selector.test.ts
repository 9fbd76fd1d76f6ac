/**
 * The unit tests' label-selector matcher (test/support/label-selector.ts) decides which pods a PodDisruptionBudget, NetworkPolicy,
 * anti-affinity term, PodMonitor or Service covers; if it matched too much or too little, those
 * tests would pass on broken selectors. Here it is held to the API server's semantics.
 */
import { selects, serviceSelects } from '../support/label-selector';

const pod = { 'app.kubernetes.io/name': 'etcd', 'app.kubernetes.io/instance': 'pg-ha' };

test('matchLabels: every pair must be on the object; {} selects everything; no selector selects nothing', () => {
  expect(selects({ matchLabels: { 'app.kubernetes.io/name': 'etcd' } }, pod)).toBe(true);
  expect(selects({ matchLabels: { 'app.kubernetes.io/name': 'etcd', tier: 'db' } }, pod)).toBe(false);
  expect(selects({}, pod)).toBe(true);
  expect(selects(undefined, pod)).toBe(false);
  expect(selects(null, pod)).toBe(false);
});

test('matchExpressions: In, NotIn, Exists, DoesNotExist, ANDed with matchLabels', () => {
  const name = (operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist', values?: string[]) =>
    selects({ matchExpressions: [{ key: 'app.kubernetes.io/name', operator, values }] }, pod);
  expect([name('In', ['etcd', 'postgres']), name('In', ['postgres'])]).toEqual([true, false]);
  expect([name('NotIn', ['postgres']), name('NotIn', ['etcd'])]).toEqual([true, false]);
  expect([name('Exists'), name('DoesNotExist')]).toEqual([true, false]);
  // A label the object lacks: NotIn and DoesNotExist select it, In and Exists do not.
  const role = (operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist') =>
    selects({ matchExpressions: [{ key: 'spilo-role', operator, values: operator.endsWith('In') ? ['master'] : undefined }] }, pod);
  expect([role('In'), role('NotIn'), role('Exists'), role('DoesNotExist')]).toEqual([false, true, false, true]);
  expect(selects({ matchLabels: { 'app.kubernetes.io/instance': 'other' }, matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'Exists' }] }, pod)).toBe(false);
});

test('a Service selector is a plain map; a Service without one selects no pod', () => {
  expect(serviceSelects({ 'app.kubernetes.io/name': 'etcd' }, pod)).toBe(true);
  expect(serviceSelects({ 'app.kubernetes.io/name': 'postgres' }, pod)).toBe(false);
  expect(serviceSelects(undefined, pod)).toBe(false);
});
