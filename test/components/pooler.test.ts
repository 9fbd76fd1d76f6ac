/**
 * The PgBouncer pooler (lib/components/pooler): off by default; when on, a Deployment per router
 * Service with its Service, budget and exporter, a pgbouncer.ini that holds no password, the
 * password lookup created by the init Job, and TLS with the cluster's certificate when there is one.
 * That PgBouncer really logs clients in and survives a failover is proven on the e2e test bed.
 */
import { PgHaSettings, settingsFromVariables } from '../../lib';
import { container, envOf } from '../support/manifests';
import { synth } from '../support/synth';

const ini = (settings: PgHaSettings, name = 'pg-ha-pooler') => synth(settings).get('ConfigMap', name).data['pgbouncer.ini'] as string;
const line = (text: string, key: string) => text.split('\n').find((l) => l.startsWith(`${key} =`));

describe('pooler off (the default)', () => {
  const s = synth();

  test('writes no pooler object, and neither the init Job nor the secrets Job asks for its password', () => {
    expect(s.objects.filter((o) => /pooler/.test(o.metadata.name))).toEqual([]);
    expect(envOf(container(s.job('pg-ha-init-'), 'init')).POOLER_USER).toBeUndefined();
    expect(envOf(container(s.job('pg-ha-secrets-'), 'create-secret')).SECRET_KEYS.value).not.toContain('pooler-password');
  });

  test('a pooler setting given while POOLER is off is refused, naming the switch', () => {
    expect(() => synth({ pooler: { mode: 'session' } })).toThrow(/^pooler\.mode .*unset while pooler\.enabled is false \(POOLER=false\)/);
  });
});

describe('POOLER=true', () => {
  const settings = settingsFromVariables({ POOLER: 'true' });
  const s = synth(settings);
  const deployment = s.get('Deployment', 'pg-ha-pooler');
  const pod = deployment.spec.template.spec;
  const config = ini(settings);

  test('two PgBouncer pods, kept on different nodes when possible, at least one through a drain', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchLabels)
      .toEqual(deployment.spec.selector.matchLabels);
    expect(s.get('PodDisruptionBudget', 'pg-ha-pooler').spec).toMatchObject({ minAvailable: 1, selector: { matchLabels: deployment.spec.selector.matchLabels } });
  });

  test('a rollout surges a new pod first; with required anti-affinity it replaces one at a time (no node for a surge pod)', () => {
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
    const required = synth({ pooler: { enabled: true }, scheduling: { antiAffinity: 'required' } }).get('Deployment', 'pg-ha-pooler');
    expect(required.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 1, maxSurge: 0 });
  });

  test('Service pg-ha-pooler on the usual PostgreSQL port, to PgBouncer\'s 6432', () => {
    const service = s.get('Service', 'pg-ha-pooler');
    expect(service.spec.ports).toEqual([{ name: 'pgbouncer', port: 5432, targetPort: 'pgbouncer' }]);
    expect(container(deployment, 'pgbouncer').ports).toEqual([{ name: 'pgbouncer', containerPort: 6432 }]);
    expect(s.behind(service).map((w) => w.name)).toEqual(['pg-ha-pooler']);
  });

  test('every database goes to the router\'s write Service, in transaction mode with the default pool sizes', () => {
    expect(line(config, '*')).toBe('* = host=pg-ha-rw.pg-ha.svc.cluster.local port=5432');
    expect(line(config, 'pool_mode')).toBe('pool_mode = transaction');
    expect(line(config, 'default_pool_size')).toBe('default_pool_size = 20');
    expect(line(config, 'reserve_pool_size')).toBe('reserve_pool_size = 5');
    expect(line(config, 'max_client_conn')).toBe('max_client_conn = 1000');
  });

  test('passwords are looked up with auth_query through the lookup function, never listed in the ConfigMap', () => {
    expect(line(config, 'auth_query')).toBe('auth_query = SELECT usename, passwd FROM pooler_auth.user_lookup($1)');
    expect(line(config, 'auth_user')).toBe('auth_user = pooler');
    expect(line(config, 'auth_dbname')).toBe('auth_dbname = postgres');
    // The auth file is written at start into a memory-backed emptyDir, from the Secret.
    expect(line(config, 'auth_file')).toBe('auth_file = /run/pooler/userlist.txt');
    expect(pod.volumes).toContainEqual({ name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
    expect(envOf(container(deployment, 'pgbouncer')).POOLER_PASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'pooler-password' });
    const data = s.get('ConfigMap', 'pg-ha-pooler').data;
    expect(Object.keys(data).sort()).toEqual(['pgbouncer.ini', 'start.sh']);
    expect(data['start.sh']).toContain('"$RUN_DIR/userlist.txt"');
  });

  test('the init Job creates the lookup role and function; the secrets Job adds the role\'s password', () => {
    const init = s.job('pg-ha-init-');
    const env = envOf(container(init, 'init'));
    expect(env.POOLER_USER.value).toBe('pooler');
    expect(env.POOLER_PASSWORD.valueFrom.secretKeyRef.key).toBe('pooler-password');
    const sql: string = s.get('ConfigMap', 'pg-ha-init').data['init.sql'];
    expect(sql).toMatch(/CREATE OR REPLACE FUNCTION pooler_auth\.user_lookup\(username text\)[\s\S]*SECURITY DEFINER/);
    // A superuser or replication role can never log in through the pooler.
    expect(sql).toMatch(/AND NOT rolsuper\s+AND NOT rolreplication/);
    expect(sql).toContain('REVOKE ALL ON FUNCTION pooler_auth.user_lookup(text) FROM PUBLIC;');
    expect(envOf(container(s.job('pg-ha-secrets-'), 'create-secret')).SECRET_KEYS.value.split(',')).toContain('pooler-password');
  });

  test('TLS both ways; without a cluster certificate, a self-signed one made at start (like Spilo\'s)', () => {
    expect(line(config, 'client_tls_sslmode')).toBe('client_tls_sslmode = require');
    expect(line(config, 'client_tls_cert_file')).toBe('client_tls_cert_file = /run/pooler/tls.crt');
    expect(line(config, 'server_tls_sslmode')).toBe('server_tls_sslmode = require');
    expect(envOf(container(deployment, 'pgbouncer')).SELF_SIGNED_CN.value).toBe('pg-ha-pooler.pg-ha.svc.cluster.local');
  });

  test('a failover refills the pools within a second of the new leader passing HAProxy\'s check', () => {
    expect(line(config, 'server_login_retry')).toBe('server_login_retry = 1');
    expect(line(config, 'server_connect_timeout')).toBe('server_connect_timeout = 3');
  });

  test('the exporter sidecar reads the admin console as the lookup role (stats_users), over TLS', () => {
    expect(line(config, 'stats_users')).toBe('stats_users = pooler');
    const env = envOf(container(deployment, 'exporter'));
    // No password in the URI (it would need percent-encoding, which $(VAR) cannot do): the driver
    // (lib/pq) reads PGPASSWORD, the Secret's text as it is.
    expect(env.PGBOUNCER_EXPORTER_CONNECTION_STRING.value).toBe('postgres://pooler@127.0.0.1:6432/pgbouncer?sslmode=require');
    expect(env.PGPASSWORD.valueFrom).toEqual({ secretKeyRef: { name: 'pg-ha-credentials', key: 'pooler-password' } });
    expect(JSON.stringify(env)).not.toContain('$(');
  });

  test('a stopping pod finishes its transactions instead of waiting for every client (SIGTERM becomes SIGINT)', () => {
    expect(envOf(container(deployment, 'pgbouncer')).STOP_SIGNAL.value).toBe('INT');
    expect(envOf(container(synth({ pooler: { enabled: true, mode: 'session' } }).get('Deployment', 'pg-ha-pooler'), 'pgbouncer')).STOP_SIGNAL.value).toBe('TERM');
  });
});

describe('pooler settings', () => {
  test('POOLER_READ adds pg-ha-pooler-ro in front of the read Service', () => {
    const s = synth(settingsFromVariables({ POOLER: 'true', POOLER_READ: 'true' }));
    expect(line(ini({ pooler: { enabled: true, read: true } }, 'pg-ha-pooler-ro'), '*')).toBe('* = host=pg-ha-ro.pg-ha.svc.cluster.local port=5433');
    expect(s.get('PodDisruptionBudget', 'pg-ha-pooler-ro').spec.minAvailable).toBe(1);
    expect(s.behind(s.get('Service', 'pg-ha-pooler-ro')).map((w) => w.name)).toEqual(['pg-ha-pooler-ro']);
  });

  test('mode, pool sizes, client limit, port and role come from their variables', () => {
    const settings = settingsFromVariables({
      POOLER: 'true', POOLER_MODE: 'session', POOLER_DEFAULT_POOL_SIZE: '40', POOLER_RESERVE_POOL_SIZE: '0',
      POOLER_MAX_CLIENT_CONN: '5000', POOLER_PORT: '6432', POOLER_USER: 'bouncer', POOLER_REPLICAS: '3',
    });
    const config = ini(settings);
    expect([line(config, 'pool_mode'), line(config, 'default_pool_size'), line(config, 'reserve_pool_size'), line(config, 'max_client_conn'), line(config, 'auth_user')])
      .toEqual(['pool_mode = session', 'default_pool_size = 40', 'reserve_pool_size = 0', 'max_client_conn = 5000', 'auth_user = bouncer']);
    const s = synth(settings);
    expect(s.get('Service', 'pg-ha-pooler').spec.ports[0].port).toBe(6432);
    expect(s.get('Deployment', 'pg-ha-pooler').spec.replicas).toBe(3);
  });

  test('with the cluster\'s certificate: shown to clients, and its CA verifies the router (verify-full)', () => {
    const s = synth({ pooler: { enabled: true }, postgres: { tls: { issuerName: 'ca-issuer' } } });
    const config = s.get('ConfigMap', 'pg-ha-pooler').data['pgbouncer.ini'];
    expect(line(config, 'client_tls_key_file')).toBe('client_tls_key_file = /etc/pooler-tls/tls.key');
    expect(line(config, 'server_tls_sslmode')).toBe('server_tls_sslmode = verify-full');
    expect(line(config, 'server_tls_ca_file')).toBe('server_tls_ca_file = /etc/pooler-tls/ca.crt');
    const deployment = s.get('Deployment', 'pg-ha-pooler');
    expect(deployment.spec.template.spec.volumes).toContainEqual({ name: 'tls', secret: { secretName: 'pg-ha-tls', defaultMode: 0o440 } });
    expect(envOf(container(deployment, 'pgbouncer')).SELF_SIGNED_CN).toBeUndefined();
    // The certificate names the pooler's Service, so clients can verify-full against it too.
    expect(s.get('Certificate', 'pg-ha-tls').spec.dnsNames).toContain('pg-ha-pooler.pg-ha.svc.cluster.local');
  });

  test.each<[string, Record<string, string>, RegExp]>([
    ['an unknown mode', { POOLER_MODE: 'connection' }, /^pooler\.mode must be one of "transaction", "session", "statement" \(got "connection"\)/],
    ['no pods', { POOLER_REPLICAS: '0' }, /^pooler\.replicas must be an integer from 1 to 20 \(got 0\)/],
    ['an empty pool', { POOLER_DEFAULT_POOL_SIZE: '0' }, /^pooler\.defaultPoolSize must be an integer from 1 to 10000 \(got 0\)/],
    ['a negative reserve', { POOLER_RESERVE_POOL_SIZE: '-1' }, /^pooler\.reservePoolSize must be an integer from 0 to 10000 \(got -1\)/],
    ['no clients', { POOLER_MAX_CLIENT_CONN: '0' }, /^pooler\.maxClientConnections must be an integer from 1 to 100000 \(got 0\)/],
    ['a port out of range', { POOLER_PORT: '70000' }, /^pooler\.port must be a port from 1 to 65535 \(got 70000\)/],
    ['a role that is not an identifier', { POOLER_USER: 'Pool-er' }, /^pooler\.user must be a lowercase PostgreSQL identifier.*\(got "Pool-er"\)/],
    ['an unpinned image', { POOLER_IMAGE: 'ghcr.io/cloudnative-pg/pgbouncer' }, /^pooler\.image must be an image reference pinned.*\(got "ghcr\.io\/cloudnative-pg\/pgbouncer"\)/],
    ['an unpinned exporter image', { POOLER_EXPORTER_IMAGE: 'prometheuscommunity/pgbouncer-exporter:latest' }, /^pooler\.exporterImage must be an image reference pinned/],
  ])('refuses %s, naming the setting, the value and what is valid', (_, variables, message) => {
    expect(() => synth(settingsFromVariables({ POOLER: 'true', ...variables }))).toThrow(message);
  });
});
