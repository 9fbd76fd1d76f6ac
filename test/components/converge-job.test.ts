/**
 * The converge Job (lib/components/jobs/converge-job.ts): what it runs, with what, and when it runs
 * again. Its behaviour against a real cluster is proven on the real-Kubernetes bed (e2e/kubernetes-day2.e2e.ts).
 */
import { spawnSync } from 'child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { REFUSED_EXIT_CODE } from '../../lib/k8s/workload';
import { ARGOCD, CONVERGE_SCRIPTS } from '../../lib';
import { container, envOf, Manifest } from '../support/manifests';
import { ROOT, synth } from '../support/synth';

const convergeJob = (settings: object = {}) => synth(settings).job('pg-ha-converge-');

describe('the converge Job', () => {
  const s = synth();
  const job = s.job('pg-ha-converge-');
  const c = container(job, 'converge');
  const env = envOf(c);

  test('runs lib/assets/converge_patroni.py (and its Patroni client module) with the Spilo image\'s python3', () => {
    expect(c.image).toBe('ghcr.io/zalando/spilo-17:4.0-p3');
    expect(c.command).toEqual(['python3', '/scripts/converge_patroni.py']);
    const scripts = s.get('ConfigMap', 'pg-ha-converge').data;
    for (const file of CONVERGE_SCRIPTS) expect(scripts[file]).toBe(readFileSync(join(ROOT, 'lib', 'assets', file), 'utf8'));
  });

  test('reads what Git declares from the Patroni ConfigMap the pods bootstrap from', () => {
    const volumes = job.spec.template.spec.volumes as Manifest[];
    expect(volumes.find((v) => v.name === 'config')?.configMap).toEqual({ name: 'pg-ha-patroni' });
    expect(env.DESIRED_CONFIG.value).toBe('/declared/dynamic-config.json');
    expect(env.PGBIN.value).toBe('/usr/lib/postgresql/17/bin');
  });

  test('reaches every member\'s REST API by its stable name, with the patroni user; passwords only from the Secret', () => {
    expect(env.PATRONI_URLS.value.split(',')).toEqual([0, 1, 2].map((i) => `http://pg-ha-${i}.pg-ha-headless.pg-ha.svc.cluster.local:8008`));
    expect(env.REST_API_USERNAME.value).toBe('patroni');
    expect(env.REST_API_PASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'patroni-api-password' });
    expect(env.PGPASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'superuser-password' });
  });

  test('runs as Spilo\'s postgres user (postgres -C refuses root)', () => {
    expect(job.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 101, runAsGroup: 103 });
  });

  test('without a configured certificate: TLS required (Spilo refuses plain connections from other pods)', () => {
    expect(env.PGSSLMODE.value).toBe('require');
    expect(env.PGSSLROOTCERT).toBeUndefined();
  });

  test('with a configured certificate: the members\' certificates are checked against its CA (only ca.crt is mounted)', () => {
    const tls = synth({ postgres: { tls: { secretName: 'pg-tls' } } }).job('pg-ha-converge-');
    const tlsEnv = envOf(container(tls, 'converge'));
    expect([tlsEnv.PGSSLMODE.value, tlsEnv.PGSSLROOTCERT.value]).toEqual(['verify-ca', '/etc/pg-ha-ca/ca.crt']);
    expect((tls.spec.template.spec.volumes as Manifest[]).find((v) => v.name === 'ca')?.secret).toEqual({ secretName: 'pg-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
  });

  test("a value PostgreSQL refuses fails the Job at once (podFailurePolicy on the script's refusal status), anything else is retried", () => {
    expect(job.spec.podFailurePolicy).toEqual({ rules: [{ action: 'FailJob', onExitCodes: { containerName: 'converge', operator: 'In', values: [REFUSED_EXIT_CODE] } }] });
    expect(job.spec.template.spec.restartPolicy).toBe('Never'); // the API server refuses a podFailurePolicy otherwise
    expect(job.spec.backoffLimit).toBeGreaterThan(0);
    expect(REFUSED_EXIT_CODE).not.toBe(1); // Python's sys.exit(message) and an uncaught error exit 1: retried
  });

  test('is an Argo CD PostSync hook, replaced before it is created again', () => {
    expect(job.metadata.annotations[ARGOCD.hook]).toBe('PostSync');
    expect(job.metadata.annotations[ARGOCD.hookDeletePolicy]).toBe('BeforeHookCreation');
  });
});

describe('a changed declaration gets a new Job name (plain kubectl apply runs it again)', () => {
  const before = convergeJob().metadata.name;

  test.each([
    ['a reload-only parameter', { patroni: { parameters: { work_mem: '32MB' } } }],
    ['a restart-needing parameter', { patroni: { parameters: { max_connections: 300 } } }],
    ['a timing', { patroni: { loopWait: 4 } }],
    ['synchronous mode', { patroni: { synchronousMode: false } }],
  ])('%s', (_, settings) => {
    expect(convergeJob(settings).metadata.name).not.toBe(before);
  });

  test('the same declaration keeps the name (re-applying is a no-op)', () => {
    expect(convergeJob().metadata.name).toBe(before);
  });
});

describe('the day-2 Lease', () => {
  const s = synth();
  const job = s.job('pg-ha-converge-');

  test('both day-2 Jobs hold the Lease pg-ha-day2 (declared in dist/, no holder), identified by their pod\'s name', () => {
    expect(s.get('Lease', 'pg-ha-day2').spec).toEqual({ leaseDurationSeconds: 30 });
    for (const j of [job, s.job('pg-ha-rollout-')]) {
      const env = envOf(j.spec.template.spec.containers[0]);
      expect([env.LEASE_NAME.value, env.LEASE_DURATION_SECONDS.value]).toEqual(['pg-ha-day2', '30']);
      expect(env.POD_NAME.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
      expect(env.POD_NAMESPACE.valueFrom.fieldRef.fieldPath).toBe('metadata.namespace');
      expect(j.spec.template.spec.automountServiceAccountToken).toBe(true);
    }
  });

  test('the converge Job\'s Role allows get and update of that one Lease, nothing else (no create: the Lease is in dist/)', () => {
    expect(s.get('Role', 'pg-ha-converge').rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['pg-ha-day2'], verbs: ['get', 'update'] },
    ]);
    expect(s.get('Role', 'pg-ha-rollout').rules).toContainEqual(
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['pg-ha-day2'], verbs: ['get', 'update'] });
    expect(s.all('Role').flatMap((r) => r.rules).filter((r: Manifest) => r.resources.includes('leases') && r.verbs.includes('create'))).toEqual([]);
  });

  test('a scope of its own: the Lease is named after it', () => {
    expect(synth({ scope: 'orders' }).all('Lease').map((l) => l.metadata.name)).toEqual(['orders-day2']);
  });
});

describe('the plan (converge_patroni.plan, run with python3)', () => {
  const plan = (current: object, desired: object) => {
    const code = 'import json,sys; sys.path.insert(0, sys.argv[1]); import converge_patroni as c; '
      + 'print(json.dumps(c.plan(json.loads(sys.argv[2]), json.loads(sys.argv[3]))))';
    const r = spawnSync('python3', ['-c', code, join(ROOT, 'lib', 'assets'), JSON.stringify(current), JSON.stringify(desired)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout);
  };
  const declared = (parameters: Record<string, unknown>, extra: object = {}) => ({
    ttl: 20, loop_wait: 5, postgresql: { use_pg_rewind: true, parameters }, pg_ha_declared_parameters: Object.keys(parameters).sort(), ...extra,
  });

  test('nothing differs: no step', () => {
    expect(plan(declared({ work_mem: '8MB' }), declared({ work_mem: '8MB' }))).toEqual([]);
  });

  test('what differs is PATCHed in one replicas-first step; a parameter removed from Git is PATCHed to null', () => {
    const current = declared({ work_mem: '8MB', max_connections: 100, statement_timeout: '5s' }, { loop_wait: 10 });
    expect(plan({ ...current, postgresql: { ...current.postgresql, parameters: { ...current.postgresql.parameters, wal_level: 'replica' } } },
      declared({ work_mem: '16MB', max_connections: 200 })))
      .toEqual([[{ loop_wait: 5, postgresql: { parameters: { work_mem: '16MB', max_connections: 200, statement_timeout: null } }, pg_ha_declared_parameters: ['max_connections', 'work_mem'] }, false]]);
  });

  test('parameters Spilo put in the DCS but Git never declared are left alone', () => {
    const current = { ...declared({}), postgresql: { use_pg_rewind: true, parameters: { wal_level: 'replica', max_wal_senders: 10 } } };
    expect(plan(current, declared({}))).toEqual([]);
  });

  test('a must-match parameter the DCS does not hold yet: raised or lowered as against the primary\'s running value', () => {
    const planWith = (current: object, desired: object, running: object) => {
      const code = 'import json,sys; sys.path.insert(0, sys.argv[1]); import converge_patroni as c; '
        + 'print(json.dumps(c.plan(*[json.loads(a) for a in sys.argv[2:5]])))';
      const r = spawnSync('python3', ['-c', code, join(ROOT, 'lib', 'assets'), ...[current, desired, running].map((x) => JSON.stringify(x))], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout);
    };
    // Spilo's default max_locks_per_transaction (64) runs; Git declares 32 for the first time: a decrease, primary first
    expect(planWith(declared({}), declared({ max_locks_per_transaction: 32 }), { max_locks_per_transaction: '64' }))
      .toEqual([[{ pg_ha_declared_parameters: ['max_locks_per_transaction'] }, false], [{ postgresql: { parameters: { max_locks_per_transaction: 32 } } }, true]]);
    expect(planWith(declared({}), declared({ max_locks_per_transaction: 128 }), { max_locks_per_transaction: '64' }))
      .toEqual([[{ postgresql: { parameters: { max_locks_per_transaction: 128 } }, pg_ha_declared_parameters: ['max_locks_per_transaction'] }, false]]);
  });

  test('mixed: one must-match parameter raised, another lowered: the raise first (replicas first), then the decrease (primary first)', () => {
    expect(plan(declared({ max_connections: 100, max_locks_per_transaction: 64 }), declared({ max_connections: 120, max_locks_per_transaction: 32 })))
      .toEqual([[{ postgresql: { parameters: { max_connections: 120 } } }, false], [{ postgresql: { parameters: { max_locks_per_transaction: 32 } } }, true]]);
  });

  test('lowering a must-match parameter is a second, primary-first step', () => {
    expect(plan(declared({ max_connections: 300, work_mem: '8MB' }), declared({ max_connections: 200, work_mem: '16MB' })))
      .toEqual([[{ postgresql: { parameters: { work_mem: '16MB' } } }, false], [{ postgresql: { parameters: { max_connections: 200 } } }, true]]);
    expect(plan(declared({ max_connections: 300 }), declared({ max_connections: 200 })))
      .toEqual([[{ postgresql: { parameters: { max_connections: 200 } } }, true]]);
  });
});

describe("converge_patroni.py on a value PostgreSQL refuses (found on the real cluster: retried, the sync took 4 minutes to fail)", () => {
  test("exits with the refusal status and PostgreSQL's message before it touches anything (no Lease, no Patroni call)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-converge-refused-'));
    try {
      // `postgres -C` as PostgreSQL answers an unknown time zone
      writeFileSync(join(dir, 'postgres'), '#!/bin/sh\necho \'FATAL:  invalid value for parameter "log_timezone": "Mars/Olympus_Mons"\' >&2\nexit 1\n');
      chmodSync(join(dir, 'postgres'), 0o755);
      writeFileSync(join(dir, 'desired.json'), JSON.stringify({ ttl: 30, postgresql: { parameters: { log_timezone: 'Mars/Olympus_Mons' } } }));
      // Patroni's URL is a closed loopback port and there is no Lease: any call would fail differently (exit 1)
      const r = spawnSync('python3', [join(ROOT, 'lib', 'assets', 'converge_patroni.py')], {
        env: { PATH: process.env.PATH!, DESIRED_CONFIG: join(dir, 'desired.json'), PGBIN: dir, PATRONI_URLS: 'http://127.0.0.1:9', REST_API_USERNAME: 'patroni', REST_API_PASSWORD: 'x', HOME: dir },
        encoding: 'utf8', timeout: 30000,
      });
      expect(r.stderr).toContain('converge refused, nothing further was changed: log_timezone=Mars/Olympus_Mons: invalid value for parameter "log_timezone": "Mars/Olympus_Mons"');
      expect(r.status).toBe(REFUSED_EXIT_CODE);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
