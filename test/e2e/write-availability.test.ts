/**
 * The measure the rollout scenario and `npm run bench:rollout` report: seconds without an
 * acknowledged write, and how often the acknowledging server (the leader) changed.
 */
import { writeUnavailability } from '../../e2e/lib/write-availability';

const acks = (...points: Array<[number, string]>) => points.map(([ackAt, server]) => ({ ackAt, server }));

test('steady writes a few ms apart on one leader: no unavailability, no leader change', () => {
  const r = writeUnavailability(acks([0, 'a'], [10, 'a'], [20, 'a'], [900, 'a']), []);
  expect(r).toEqual({ unavailableS: 0, windows: [], serverChanges: 0 });
});

test('failed writes between two acknowledgements: the whole gap counts, once, with the attempts', () => {
  const r = writeUnavailability(acks([0, 'a'], [10, 'a'], [2510, 'b'], [2520, 'b']), [{ at: 100 }, { at: 600 }, { at: 1200 }]);
  expect(r.unavailableS).toBe(2.5);
  expect(r.windows).toEqual([{ fromMs: 10, toMs: 2510, failedAttempts: 3 }]);
  expect(r.serverChanges).toBe(1);
});

test('a write that hangs longer than the stall bound counts without an error; shorter pauses do not', () => {
  const r = writeUnavailability(acks([0, 'a'], [3000, 'a'], [3900, 'a']), [], 1000);
  expect(r.unavailableS).toBe(3);
  expect(r.windows).toEqual([{ fromMs: 0, toMs: 3000, failedAttempts: 0 }]);
});

test('several windows add up; acknowledgements out of order are sorted first', () => {
  const r = writeUnavailability(acks([5000, 'b'], [0, 'a'], [1500, 'a'], [9000, 'a']), [{ at: 4000 }]);
  expect(r.windows.map((w) => [w.fromMs, w.toMs])).toEqual([[0, 1500], [1500, 5000], [5000, 9000]]);
  expect(r.unavailableS).toBe(9);
  expect(r.serverChanges).toBe(2);
});
