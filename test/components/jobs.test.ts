/**
 * The Jobs: the init Job (roles, database, user SQL through the write Service) and the generator
 * of the credentials Secret (lib/assets/create-secret.py runs in test/assets). Argo CD hook
 * annotations are in test/gitops.
 */
import { CREDENTIAL_KEYS, PgHaSettings, requiredCredentials } from '../../lib';
import { container, envOf, Manifest } from '../support/manifests';
import { synth } from '../support/synth';

describe('init Job', () => {
  const s = synth();
  const job = s.job('pg-ha-init-');
  const init = container(job, 'init');
  const env = envOf(init);
  const files = s.get('ConfigMap', 'pg-ha-init').data;

  test('reaches the leader through the write Service with TLS (Spilo rejects non-TLS remote clients)', () => {
    expect(env.PGHOST.value).toBe('pg-ha-rw');
    expect(env.PGPORT.value).toBe('5432');
    expect(env.PGSSLMODE.value).toBe('require');
  });

  test('the script waits for the leader with a bounded loop, then applies the SQL file', () => {
    expect(init.command).toEqual(['/bin/sh', '/etc/pg-ha-init/init.sh']);
    expect(files['init.sh']).toContain('until pg_isready');
    expect(files['init.sh']).toMatch(/if \[ "\$i" -ge "\$attempts" \]/);
    expect(files['init.sh']).toContain('--set=ON_ERROR_STOP=1');
  });

  test('the SQL is idempotent: every CREATE is guarded by NOT EXISTS', () => {
    const creates = files['init.sql'].match(/CREATE (ROLE|DATABASE)[^\n]*\n[^\n]*/g);
    expect(creates).toHaveLength(4);
    for (const create of creates) expect(create).toContain('WHERE NOT EXISTS');
  });

  test('passwords reach SQL through \\getenv and are kept out of server logs', () => {
    expect(files['init.sql']).toContain('\\getenv app_password APP_PASSWORD');
    expect(files['init.sql']).toContain("SET log_statement = 'none';");
    expect(env.APP_PASSWORD.valueFrom.secretKeyRef.key).toBe('app-password');
    expect(env.MONITOR_PASSWORD.valueFrom.secretKeyRef.key).toBe('monitor-password');
  });

  test('the monitoring role gets pg_monitor only', () => {
    expect(files['init.sql']).toContain("GRANT pg_monitor TO %I', :'monitor_user'");
    expect(env.MONITOR_USER.value).toBe(s.chart.postgres.monitorUser);
  });

  test('bounded retries and deadline (cleaning up finished Jobs: test/gitops)', () => {
    expect(job.spec.backoffLimit).toBeLessThanOrEqual(6);
    expect(job.spec.activeDeadlineSeconds).toBe(900);
  });
});

describe('generated credentials (default)', () => {
  const s = synth();
  // Named after its content (pg-ha-secrets-<hash>) so a changed Job never fails `kubectl apply`.
  const job = s.job('pg-ha-secrets-');
  const env = envOf(container(job, 'create-secret'));

  test('a Job creates the Secret with every key the pods reference', () => {
    expect(env.SECRET_NAME.value).toBe('pg-ha-credentials');
    expect(env.SECRET_KEYS.value.split(',')).toEqual(requiredCredentials(['etcdRoot', 'etcdPatroni']).map((c) => CREDENTIAL_KEYS[c]));
    expect(container(job, 'create-secret').command).toEqual(['python3', '/scripts/create-secret.py']);
    expect(s.get('ConfigMap', 'pg-ha-secrets').data['create-secret.py']).toContain("status, existing = api('GET'");
  });

  test('the generator never overwrites: it creates only on 404 and otherwise patches in only the missing keys', () => {
    const script: string = s.get('ConfigMap', 'pg-ha-secrets').data['create-secret.py'];
    expect(script).not.toMatch(/'(PUT|DELETE)'/);
    expect(script).toContain("'data': {k: random_value() for k in missing}");
    expect(script).toContain("'resourceVersion': existing['metadata']['resourceVersion']");
    expect(script).toContain('secrets.token_urlsafe(32)');
    expect(env.SECRET_SOURCE.value).toBe('generated');
  });

  test('its ServiceAccount may create Secrets and read and patch only this one; no other pod gets that right', () => {
    const role = s.get('Role', 'pg-ha-secrets');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['pg-ha-credentials'], verbs: ['get', 'patch'] },
      // etcd's generated certificate and CA: created once, then only read (never overwritten).
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['pg-ha-etcd-tls', 'pg-ha-etcd-client-tls', 'pg-ha-etcd-ca'], verbs: ['get'] },
      // Whether the application's connection Secret exists (it creates it when absent).
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['pg-ha-app'], verbs: ['get'] },
    ]);
    const secretRoles = s.all('Role').filter((r) => r.rules.some((rule: Manifest) => rule.resources.includes('secrets')));
    expect(secretRoles.map((r) => r.metadata.name).sort()).toEqual(['pg-ha-init', 'pg-ha-secrets']);
    // The init Job may only read and patch the application's connection Secret.
    expect(s.get('Role', 'pg-ha-init').rules).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: ['pg-ha-app'], verbs: ['get', 'patch'] }]);
  });

  test('it talks to the API server with the mounted CA (TLS verified), as a non-root user', () => {
    const script: string = s.get('ConfigMap', 'pg-ha-secrets').data['create-secret.py'];
    expect(script).toContain("ssl.create_default_context(cafile=f'{SA_DIR}/ca.crt')");
    expect(job.spec.template.spec.automountServiceAccountToken).toBe(true);
    expect(job.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
  });
});

describe('existing Secret', () => {
  const s = synth({ existingSecret: 'team-pg-passwords' });

  test('the Job only checks it: SECRET_SOURCE=existing, and its Role may only read that Secret', () => {
    const env = envOf(container(s.job('pg-ha-secrets-'), 'create-secret'));
    expect([env.SECRET_NAME.value, env.SECRET_SOURCE.value]).toEqual(['team-pg-passwords', 'existing']);
    expect(env.SECRET_KEYS.value.split(',')).toEqual(requiredCredentials(['etcdRoot', 'etcdPatroni']).map((c) => CREDENTIAL_KEYS[c]));
    expect(s.get('Role', 'pg-ha-secrets').rules).toEqual([
      // etcd's certificate is still generated: create, and read its two Secrets.
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['team-pg-passwords'], verbs: ['get'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['pg-ha-etcd-tls', 'pg-ha-etcd-client-tls', 'pg-ha-etcd-ca'], verbs: ['get'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['pg-ha-app'], verbs: ['get'] },
    ]);
    // Without etcd TLS the Job may only read that Secret, and create the application's connection Secret.
    expect(synth({ existingSecret: 'team-pg-passwords', etcd: { tls: { enabled: false } } }).get('Role', 'pg-ha-secrets').rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['team-pg-passwords'], verbs: ['get'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['pg-ha-app'], verbs: ['get'] },
    ]);
  });
});

test('a changed Job gets a new name, so re-applying never patches an immutable pod template', () => {
  const jobs = (settings: PgHaSettings) => {
    const s = synth(settings);
    // Sorted: converge, init, (rollout, whose name follows the Postgres pod template: postgres-rollout.test.ts), secrets.
    const names = s.all('Job').map((j) => j.metadata.name).filter((n) => !n.startsWith('pg-ha-rollout-') && !n.startsWith('pg-ha-etcd-access-')).sort().slice(1);
    return { names, userSql: s.get('ConfigMap', 'pg-ha-init').data['user.sql'] };
  };
  const before = jobs({}).names;
  // Named after their content: <scope>-init-<hash> and <scope>-secrets-<hash>.
  expect(before).toEqual([expect.stringMatching(/^pg-ha-init-[0-9a-f]{10}$/), expect.stringMatching(/^pg-ha-secrets-[0-9a-f]{10}$/)]);
  // The init Job runs the SQL: new SQL, new init Job; the secrets Job is unchanged.
  const newSql = jobs({ init: { extraSql: 'CREATE EXTENSION IF NOT EXISTS pg_trgm;' } });
  expect(newSql.userSql).toContain('pg_trgm');
  expect(newSql.names[0]).not.toEqual(before[0]);
  expect(newSql.names[1]).toEqual(before[1]);
  // The secrets Job runs with the Spilo image: a new image is a new secrets Job.
  expect(jobs({ postgres: { image: 'ghcr.io/zalando/spilo-17:4.0-p2' } }).names[1]).not.toEqual(before[1]);
  // The same input gives the same names: re-applying is a no-op.
  expect(jobs({}).names).toEqual(before);
});
