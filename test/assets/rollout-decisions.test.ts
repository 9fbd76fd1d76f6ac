/**
 * The rollout script's decisions, run by python3 on Patroni's `GET /cluster` answer as Patroni 4
 * writes it (roles leader / sync_standby / replica, replicas `streaming`, lag in bytes): which
 * replicas go first, where the switchover goes, and what holds the rollout back.
 */
import { spawnSync } from 'child_process';
import { join } from 'path';

const SCRIPT = join(__dirname, '..', '..', 'lib', 'assets', 'rollout.py');

/** Calls `expression` (Python, with the script's module as `r` and `args` from JSON) and returns its JSON result. */
function py(expression: string, args: unknown): any {
  const program = `import importlib.util, json, sys
spec = importlib.util.spec_from_file_location('rollout', sys.argv[1]); r = importlib.util.module_from_spec(spec); spec.loader.exec_module(r)
args = json.loads(sys.argv[2]); print(json.dumps(${expression}))`;
  const out = spawnSync('python3', ['-c', program, SCRIPT, JSON.stringify(args)], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout);
}

const member = (name: string, role: string, state: string, lag?: number | string) => ({ name, role, state, ...(lag === undefined ? {} : { lag }) });
const healthy = {
  'pg-ha-0': member('pg-ha-0', 'leader', 'running'),
  'pg-ha-1': member('pg-ha-1', 'sync_standby', 'streaming', 0),
  'pg-ha-2': member('pg-ha-2', 'replica', 'streaming', 0),
};
const pod = (name: string, revision: string, ready = true) => ({
  metadata: { name, uid: name, labels: { 'controller-revision-hash': revision } },
  status: { podIP: '10.0.0.1', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});
const pods = (revisions: string[], ready = [true, true, true]) => Object.fromEntries(revisions.map((rev, i) => [`pg-ha-${i}`, pod(`pg-ha-${i}`, rev, ready[i])]));
const health = (members: object, podMap: object, synchronous = true) =>
  py(`r.Cluster('pg-ha', 'pg-ha', 1048576, args['sync'], 1).health(3, args['pods'], args['members'])`, { members, pods: podMap, sync: synchronous });

describe('the health gate', () => {
  test('a leader, every replica streaming within the bound, a synchronous standby, every pod Ready: nothing holds the rollout', () => {
    expect(health(healthy, pods(['a', 'a', 'a']))).toEqual([]);
  });

  test('each missing condition is named', () => {
    const members = { ...healthy, 'pg-ha-2': member('pg-ha-2', 'replica', 'starting'), 'pg-ha-1': member('pg-ha-1', 'replica', 'streaming', 4 << 20) };
    expect(health(members, pods(['a', 'a', 'a'], [true, true, false]))).toEqual([
      'pg-ha-1 lags 4194304 bytes (bound 1048576)', 'pod pg-ha-2 is not Ready', 'pg-ha-2 is starting, not streaming', 'no synchronous standby']);
    const { 'pg-ha-0': _leader, ...leaderless } = healthy;
    expect(health(leaderless, pods(['a', 'a', 'a']))).toEqual(['0 leaders in Patroni\'s view (one expected)', 'pg-ha-0 is not a Patroni member']);
    expect(health({ ...healthy, 'pg-ha-2': member('pg-ha-2', 'replica', 'streaming', 'unknown') }, pods(['a', 'a', 'a']))).toEqual(['pg-ha-2 lags unknown bytes (bound 1048576)']);
  });

  test('without synchronous mode no synchronous standby is required', () => {
    const members = { ...healthy, 'pg-ha-1': member('pg-ha-1', 'replica', 'streaming', 0) };
    expect(health(members, pods(['a', 'a', 'a']), false)).toEqual([]);
    expect(health(members, pods(['a', 'a', 'a']), true)).toEqual(['no synchronous standby']);
  });
});

describe('the order', () => {
  test('outdated replicas go first, the asynchronous before the synchronous standby; the leader is never among them', () => {
    expect(py(`r.replica_order(args['outdated'], args['members'])`, { outdated: ['pg-ha-0', 'pg-ha-1', 'pg-ha-2'], members: healthy })).toEqual(['pg-ha-2', 'pg-ha-1']);
  });

  test('the switchover goes to an updated synchronous standby, never to an outdated one', () => {
    const candidate = (podMap: object, members: object = healthy, synchronous = true) =>
      py(`r.switchover_candidate(args['members'], args['pods'], 'new', args['sync'])`, { members, pods: podMap, sync: synchronous });
    expect(candidate(pods(['old', 'new', 'new']))).toBe('pg-ha-1');
    // The synchronous standby still on the old revision: no candidate (pg-ha-2 is updated but asynchronous).
    expect(candidate(pods(['old', 'old', 'new']))).toBeNull();
    // Without synchronous mode: the least lagging updated replica.
    const lagging = { ...healthy, 'pg-ha-1': member('pg-ha-1', 'replica', 'streaming', 500), 'pg-ha-2': member('pg-ha-2', 'replica', 'streaming', 20) };
    expect(candidate(pods(['old', 'new', 'new']), lagging, false)).toBe('pg-ha-2');
  });
});

test('storage quantities compare as the API server does (binary and decimal suffixes)', () => {
  expect(py(`[r.quantity_bytes(q) for q in args]`, ['10Gi', '20G', '512Mi', '1.5Ti'])).toEqual([10 * 2 ** 30, 20e9, 512 * 2 ** 20, 1.5 * 2 ** 40]);
});

test('ROLLOUT_PRIMARY=manual hands over one command: the switchover to the updated standby, then the old primary\'s pod', () => {
  expect(py(`r.finish_command('pg-ha', 'pg-ha-0', 'pg-ha-2')`, {})).toBe(
    'kubectl -n pg-ha exec pg-ha-0 -c postgres -- patronictl switchover --leader pg-ha-0 --candidate pg-ha-2 --force && kubectl -n pg-ha delete pod pg-ha-0');
});
