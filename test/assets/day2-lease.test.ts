/**
 * The day-2 Lease (lib/assets/kube_lease.py), run by python3 against an in-memory Lease that
 * answers as the API server does (a PUT with an old resourceVersion gets 409) and a clock the test
 * moves: the converge and rollout Jobs may never both hold it, a crashed holder is taken over only
 * after its record stayed unchanged for leaseDurationSeconds, a holder that cannot renew stops.
 * Both Jobs taking turns through the real API server's Lease: e2e/kubernetes-day2.e2e.ts.
 */
import { spawnSync } from 'child_process';
import { join } from 'path';

const MODULE = join(__dirname, '..', '..', 'lib', 'assets', 'kube_lease.py');

/** A fake API server holding one Lease, a settable clock, and `lease(identity)` making a Day2Lease that records on_lost. */
const HARNESS = `import importlib.util, json, sys
spec = importlib.util.spec_from_file_location('kube_lease', sys.argv[1]); k = importlib.util.module_from_spec(spec); spec.loader.exec_module(k)
PATH = '/apis/coordination.k8s.io/v1/namespaces/pg-ha/leases/pg-ha-day2'
class Api:
    def __init__(self):
        self.rv = 1
        self.obj = {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease', 'metadata': {'name': 'pg-ha-day2', 'namespace': 'pg-ha', 'resourceVersion': '1'}, 'spec': {'leaseDurationSeconds': 30}}
        self.down = False
        self.puts = []
    def __call__(self, method, path, body=None):
        assert path == PATH, path
        if self.down:
            return 0, {'message': 'the API server did not answer'}
        if method == 'GET':
            return 200, json.loads(json.dumps(self.obj))
        if method == 'PUT':
            if body['metadata']['resourceVersion'] != self.obj['metadata']['resourceVersion']:
                return 409, {'reason': 'Conflict', 'message': 'the object has been modified'}
            self.rv += 1
            body = json.loads(json.dumps(body))
            body['metadata']['resourceVersion'] = str(self.rv)
            body['spec'] = {key: v for key, v in body['spec'].items() if v is not None}
            self.obj = body
            self.puts.append(body['spec'].get('holderIdentity'))
            return 200, body
        return 405, {'message': method}
api = Api()
now = [1000.0]
lost = []
def lease(identity):
    return k.Day2Lease('pg-ha', 'pg-ha-day2', identity, 30, api=api, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s), on_lost=lost.append)
`;

function py(program: string): any {
  const out = spawnSync('python3', ['-c', `${HARNESS}\n${program}`, MODULE], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(out.stderr);
  const lines = out.stdout.trim().split('\n');
  return { result: JSON.parse(lines[lines.length - 1]), log: lines.slice(0, -1).join('\n') };
}

test('a Lease without a holder is taken: holder = the pod name, times in MicroTime, a transition counted', () => {
  const { result } = py(`a = lease('pg-ha-converge-abc-x1'); print(json.dumps([a.try_acquire(), api.obj['spec']]))`);
  expect(result[0]).toBe(true);
  expect(result[1]).toMatchObject({ holderIdentity: 'pg-ha-converge-abc-x1', leaseDurationSeconds: 30, leaseTransitions: 1 });
  expect(result[1].renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  expect(result[1].acquireTime).toBe(result[1].renewTime);
});

test('two Jobs that read the same free Lease: one wins, the other gets 409 and is told who holds it', () => {
  // both read version 1 before either writes: the API server takes only the first update
  const { result } = py(`a = lease('converge'); b = lease('rollout')
seen = a.read(); b_seen = b.read()
print(json.dumps([a.write(seen, holderIdentity='converge')[0], b.write(b_seen, holderIdentity='rollout')[0], b.try_acquire(), api.obj['spec']['holderIdentity']]))`);
  expect(result).toEqual([true, false, 'converge', 'converge']);
});

test('a held Lease that its holder keeps renewing is never taken, however long the wait', () => {
  const { result, log } = py(`a = lease('converge'); b = lease('rollout')
a.try_acquire()
tries = []
for i in range(40):
    tries.append(b.try_acquire())
    now[0] += 5
    if i % 3 == 0: a.renew_once()
print(json.dumps([sorted(set(map(str, tries))), api.obj['spec']['holderIdentity'], api.puts]))`);
  expect(result[0]).toEqual(['converge']);
  expect(result[1]).toBe('converge');
  expect(result[2].every((h: string) => h === 'converge')).toBe(true);
  expect(log).toBe('');
});

test('acquire() waits while another Job holds the Lease and logs who holds it, then takes it once released', () => {
  const { result, log } = py(`a = lease('pg-ha-converge-abc-run1'); b = lease('pg-ha-rollout-def-run2')
a.try_acquire()
waits = [0]
def sleep(s):
    waits[0] += 1
    now[0] += s
    if waits[0] == 5: a.held.set(); a.release()
b.sleep = sleep
b.acquire(); b.release()
print(json.dumps([waits[0], api.puts]))`);
  expect(result[0]).toBe(5);
  // converge took it, released it (None), rollout took it and released it
  expect(result[1]).toEqual(['pg-ha-converge-abc-run1', null, 'pg-ha-rollout-def-run2', null]);
  expect(log).toMatch(/lease pg-ha-day2: held by pg-ha-converge-abc-run1; waiting for it/);
  expect(log).toMatch(/lease pg-ha-day2: released by pg-ha-converge-abc-run1/);
  expect(log).toMatch(/lease pg-ha-day2: acquired by pg-ha-rollout-def-run2/);
});

test('a crashed holder (its record unchanged) is taken over only after leaseDurationSeconds on the waiting Job\'s clock', () => {
  const { result, log } = py(`a = lease('crashed'); b = lease('rollout')
a.try_acquire()
first = b.try_acquire()          # starts observing
now[0] += 29
before = b.try_acquire()         # 29 s unchanged: still held
now[0] += 1
after = b.try_acquire()          # 30 s unchanged: stale
print(json.dumps([first, before, after, api.obj['spec']['holderIdentity'], api.obj['spec']['leaseTransitions']]))`);
  expect(result).toEqual(['crashed', 'crashed', true, 'rollout', 2]);
  expect(log).toMatch(/crashed did not renew it for 30 s \(a crashed Job\): taking it over/);
});

test('a holder that finds another holder, or cannot renew for two thirds of the duration, stops (before anyone may take over)', () => {
  const other = py(`a = lease('converge')
a.try_acquire(); a.held.set()
api.obj['spec']['holderIdentity'] = 'someone-else'
print(json.dumps([a.renew_once(), lost, a.held.is_set()]))`).result;
  expect(other).toEqual(['lost', ['the lease is now held by someone-else'], false]);

  const silent = py(`a = lease('converge')
a.try_acquire(); a.held.set(); a.renewed_at = now[0]
api.down = True
class Stop:
    waits = 0
    def wait(self, s):
        now[0] += s; Stop.waits += 1
        return Stop.waits > 50
    def set(self): pass
a.stopped = Stop()
a.keep_renewing()
print(json.dumps([lost, now[0] - 1000.0 <= 20, a.held.is_set()]))`).result;
  expect(silent[0]).toHaveLength(1);
  expect(silent[0][0]).toMatch(/^not renewed for \d+ s of its 30 s$/);
  expect(silent[1]).toBe(true); // gave up within 20 s: before the 30 s after which another Job may take over
  expect(silent[2]).toBe(false);
});

test('release leaves a Lease alone that another Job holds by now', () => {
  const { result } = py(`a = lease('converge')
a.try_acquire(); a.held.set()
api.obj['spec']['holderIdentity'] = 'rollout'
a.release()
print(json.dumps(api.obj['spec']['holderIdentity']))`);
  expect(result).toBe('rollout');
});
