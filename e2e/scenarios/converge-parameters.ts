/*
 * Scenario: settings changed in Git reach the running cluster through the converge Job, with
 * writes flowing and no acknowledged write lost. Each step synthesizes a second dist/ with changed
 * variables, applies what it changes (only the Patroni ConfigMap and a new converge Job: no pod
 * template changes), and runs that Job. The last step returns to the committed settings.
 */
import { applyChanged, ConvergeRun, runConverge, showEverywhere, synthWith } from '../lib/converge';
import { httpJson } from '../lib/poll';
import type { SuiteContext } from './suite';

const DCS_ONLY = ['ConfigMap/', 'Job/'];

export function convergeParameters(ctx: SuiteContext): void {
  describe('converging declared settings (converge Job)', () => {
    let maxConnections = 0;
    const declare = async (variables: Record<string, string>): Promise<ConvergeRun> => {
      const changed = applyChanged(ctx.bed, synthWith({ ...ctx.variables, ...variables }), DCS_ONLY);
      expect(changed.filter((k) => k.startsWith('ConfigMap/'))).toEqual([expect.stringMatching(/-patroni$/)]);
      return runConverge(ctx.bed, ctx.router, ctx.app);
    };

    test('a reload-only parameter: 0 restarts, 0 leader changes, the value visible on every member', async () => {
      // the bed runs what a synth of its variables writes: nothing to apply
      expect(applyChanged(ctx.bed, synthWith({ ...ctx.variables }), [])).toEqual([]);
      const shown = await showEverywhere(ctx.bed, 'max_connections');
      maxConnections = Number(Object.values(shown)[0]);
      const r = await declare({ POSTGRES_PARAMETERS: 'work_mem=24MB' });
      expect(r.code).toBe(0);
      expect(r.restarted).toEqual([]);
      expect(r.leaderChanges).toBe(0);
      expect(r.lost).toBe(0);
      expect(Object.values(await showEverywhere(ctx.bed, 'work_mem'))).toEqual(ctx.bed.pgPods.map(() => '24MB'));
    }, 600000);

    test('a restart-needing parameter raised: every member restarts, replicas first, at most 1 leader change', async () => {
      const raised = maxConnections + 20;
      const r = await declare({ POSTGRES_PARAMETERS: `work_mem=24MB,max_connections=${raised}` });
      expect(r.code).toBe(0);
      expect([...r.restarted].sort()).toEqual(ctx.bed.pgPods.map((p) => p.name).sort());
      expect(r.restarted[r.restarted.length - 1]).toBe(r.leaderBefore); // the old primary last
      expect(r.leaderChanges).toBeLessThanOrEqual(1);
      expect(r.lost).toBe(0);
      expect(Object.values(await showEverywhere(ctx.bed, 'max_connections'))).toEqual(ctx.bed.pgPods.map(() => String(raised)));
    }, 900000);

    test('the same parameter lowered: the primary restarts first, in place', async () => {
      const r = await declare({ POSTGRES_PARAMETERS: `work_mem=24MB,max_connections=${maxConnections}` });
      expect(r.code).toBe(0);
      expect(r.restarted[0]).toBe(r.leaderBefore);
      expect(r.restarted).toHaveLength(ctx.bed.pgPods.length);
      expect(r.leaderChanges).toBe(0);
      expect(r.lost).toBe(0);
      expect(Object.values(await showEverywhere(ctx.bed, 'max_connections'))).toEqual(ctx.bed.pgPods.map(() => String(maxConnections)));
    }, 900000);

    test('a value only PostgreSQL knows is invalid: the Job fails with PostgreSQL\'s message, changes nothing, the cluster keeps serving', async () => {
      // The synth refuses what the parameter fixture can tell (types, units, ranges, enums: `work_mem=lots`);
      // a time zone name is a string to it, and only PostgreSQL's own check knows this one does not exist.
      const api = ctx.bed.patroni.restApi(ctx.bed.pgPods[0]);
      const configBefore = await httpJson(api.host, api.port, '/config', 2000);
      const r = await declare({ POSTGRES_PARAMETERS: 'log_timezone=Mars/Olympus_Mons' });
      expect(r.code).not.toBe(0);
      expect(r.output).toContain('invalid value for parameter "log_timezone": "Mars/Olympus_Mons"');
      expect(await httpJson(api.host, api.port, '/config', 2000)).toEqual(configBefore);
      expect(r.restarted).toEqual([]);
      expect(r.leaderChanges).toBe(0);
      expect(r.lost).toBe(0);
    }, 600000);

    test('timings changed: Patroni\'s /config shows them (0 restarts); a parameter removed from Git leaves the DCS', async () => {
      const api = ctx.bed.patroni.restApi(ctx.bed.pgPods[0]);
      const initial = ctx.bed.patroni.timing();
      const kept = `max_connections=${maxConnections}`;
      const changed = await declare({ POSTGRES_PARAMETERS: kept, PATRONI_TTL: '24', PATRONI_LOOP_WAIT: '4', PATRONI_RETRY_TIMEOUT: '8' });
      expect(changed.code).toBe(0);
      expect(changed.restarted).toEqual([]);
      expect(changed.leaderChanges).toBe(0);
      expect(changed.lost).toBe(0);
      const config = await httpJson<Record<string, any>>(api.host, api.port, '/config', 2000);
      expect([config?.ttl, config?.loop_wait, config?.retry_timeout]).toEqual([24, 4, 8]);
      expect(config?.postgresql?.parameters?.work_mem).toBeUndefined(); // removed from Git: PATCHed to null
      // back to the bed's timings for the scenarios that follow
      const back = await declare({ POSTGRES_PARAMETERS: kept });
      expect(back.code).toBe(0);
      const restored = await httpJson<Record<string, any>>(api.host, api.port, '/config', 2000);
      expect([restored?.ttl, restored?.loop_wait, restored?.retry_timeout]).toEqual([initial.ttl, initial.loop_wait, initial.retry_timeout]);
    }, 600000);

    // Last: it leaves the cluster on other values than the bed's (no test after it needs them).
    test('mixed: max_connections raised and max_locks_per_transaction lowered in one change: the raise replicas first (one switchover), then the decrease primary first; every member ends with both values', async () => {
      const locks = Number((await showEverywhere(ctx.bed, 'max_locks_per_transaction'))[ctx.bed.pgPods[0].name]);
      const lowered = locks / 2; // Patroni's default 64 runs (the DCS has none): 32, Patroni's minimum
      const raised = maxConnections + 10;
      const members = ctx.bed.pgPods.map((p) => p.name);
      const r = await declare({ POSTGRES_PARAMETERS: `max_connections=${raised},max_locks_per_transaction=${lowered}` });
      expect(r.code).toBe(0);
      // What the Job did, in its order: "restart <member> (replica | primary, in place | now a replica)", "switchover <a> -> <b>"
      const events = [...r.output.matchAll(/restart (\S+) \((replica|primary, in place|now a replica)\)|switchover (\S+) -> (\S+)/g)]
        .map((m) => (m[1] ? `restart ${m[1]} ${m[2]}` : `switchover ${m[3]} -> ${m[4]}`));
      const others = (leader: string) => members.filter((m) => m !== leader);
      const switchover = events.findIndex((e) => e.startsWith('switchover'));
      // step 1, the raise: every replica, then the switchover (the old primary restarts as a replica, by
      // its demotion or after it), so a replica never runs a lower max_connections than its primary
      expect(events.slice(0, switchover).sort()).toEqual(others(r.leaderBefore).map((m) => `restart ${m} replica`).sort());
      expect(events[switchover]).toBe(`switchover ${r.leaderBefore} -> ${r.leaderAfter}`);
      // step 2, the decrease: the new primary first, in place, then every replica
      const step2 = events.slice(switchover + 1).filter((e) => e !== `restart ${r.leaderBefore} now a replica`);
      expect(step2[0]).toBe(`restart ${r.leaderAfter} primary, in place`);
      expect(step2.slice(1).sort()).toEqual(others(r.leaderAfter).map((m) => `restart ${m} replica`).sort());
      expect(r.leaderChanges).toBe(1);
      expect(r.lost).toBe(0);
      expect(Object.values(await showEverywhere(ctx.bed, 'max_connections'))).toEqual(members.map(() => String(raised)));
      expect(Object.values(await showEverywhere(ctx.bed, 'max_locks_per_transaction'))).toEqual(members.map(() => String(lowered)));
    }, 900000);
  });
}
