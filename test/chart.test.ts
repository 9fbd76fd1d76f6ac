import { parse } from 'yaml';
import { container, envOf, synth } from './support/synth';

describe('default configuration', () => {
  const s = synth();

  test('snapshot of every manifest (catches drift; correctness is asserted below)', () => {
    expect(s.manifests).toMatchSnapshot();
  });

  test('every namespaced object lands in the configured namespace', () => {
    for (const m of s.manifests.filter((x) => x.kind !== 'Namespace')) {
      expect([m.kind, m.metadata.name, m.metadata.namespace]).toEqual([m.kind, m.metadata.name, 'pg-ha']);
    }
    // A Namespace is cluster-scoped: a namespace field on it is rejected by kubectl.
    expect(s.get('Namespace', 'pg-ha').metadata.namespace).toBeUndefined();
  });
});

describe('etcd', () => {
  const s = synth();
  const sts = s.get('StatefulSet', 'pg-ha-etcd');
  const etcd = container(sts, 'etcd');
  const env = envOf(etcd);

  test('three members start in parallel (OrderedReady deadlocks: member 0 is not ready before a quorum)', () => {
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
  });

  test('the headless Service publishes not-ready addresses so peers resolve each other before quorum', () => {
    const headless = s.get('Service', 'pg-ha-etcd-headless');
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    expect(sts.spec.serviceName).toBe('pg-ha-etcd-headless');
  });

  test('configured with ETCD_* env only (the image is distroless: no shell, no command)', () => {
    expect(etcd.command).toBeUndefined();
    expect(etcd.args).toBeUndefined();
    expect(env.ETCD_NAME.value).toBe('$(POD_NAME)');
    expect(env.POD_NAME.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    // $(POD_NAME) is only expanded by Kubernetes when POD_NAME is defined earlier in the list.
    const names = etcd.env.map((e: any) => e.name);
    expect(names.indexOf('POD_NAME')).toBeLessThan(names.indexOf('ETCD_NAME'));
    expect(env.ETCD_ADVERTISE_CLIENT_URLS.value).toBe('http://$(POD_NAME).pg-ha-etcd-headless.pg-ha.svc.cluster.local:2379');
    expect(env.ETCD_INITIAL_CLUSTER.value.split(',')).toEqual([0, 1, 2].map(
      (i) => `pg-ha-etcd-${i}=http://pg-ha-etcd-${i}.pg-ha-etcd-headless.pg-ha.svc.cluster.local:2380`,
    ));
    expect(env.ETCD_INITIAL_CLUSTER_STATE.value).toBe('new');
  });

  test('the cluster token is unique to this cluster and namespace', () => {
    const other = synth({ scope: 'orders', namespace: 'shop' });
    const otherEnv = envOf(container(other.get('StatefulSet', 'orders-etcd'), 'etcd'));
    expect(env.ETCD_INITIAL_CLUSTER_TOKEN.value).toBe('pg-ha-etcd.pg-ha');
    expect(otherEnv.ETCD_INITIAL_CLUSTER_TOKEN.value).not.toBe(env.ETCD_INITIAL_CLUSTER_TOKEN.value);
  });

  test('history is compacted, or Patroni\'s constant writes would fill the backend quota and stop the DCS', () => {
    expect(env.ETCD_AUTO_COMPACTION_MODE.value).toBe('periodic');
    expect(env.ETCD_AUTO_COMPACTION_RETENTION.value).toBe('1h');
  });

  test('data lives on a PVC per member, mounted where ETCD_DATA_DIR points', () => {
    const [claim] = sts.spec.volumeClaimTemplates;
    expect(claim).toMatchObject({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' } });
    expect(claim.spec.resources.requests.storage).toBe('1Gi');
    const mount = etcd.volumeMounts.find((v: any) => v.name === 'data');
    expect(env.ETCD_DATA_DIR.value.startsWith(`${mount.mountPath}/`)).toBe(true);
  });

  test('readiness uses /readyz (quorum) and liveness /livez (no quorum needed: losing quorum restarts nothing)', () => {
    expect(etcd.readinessProbe.httpGet.path).toBe('/readyz');
    expect(etcd.livenessProbe.httpGet.path).toBe('/livez');
    expect(env.ETCD_LISTEN_METRICS_URLS.value).toBe('http://0.0.0.0:8080');
  });
});

describe('postgres (Spilo + Patroni)', () => {
  const s = synth();
  const sts = s.get('StatefulSet', 'pg-ha');
  const spilo = container(sts, 'postgres');
  const env = envOf(spilo);
  const patroni = parse(env.SPILO_CONFIGURATION.value);

  test('three members on a PVC mounted at Spilo\'s data root', () => {
    expect(sts.spec.replicas).toBe(3);
    expect(spilo.image).toBe('ghcr.io/zalando/spilo-17:4.0-p3');
    expect(spilo.volumeMounts).toContainEqual({ name: 'pgdata', mountPath: '/home/postgres/pgdata' });
    expect(sts.spec.volumeClaimTemplates[0]).toMatchObject({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'pgdata' } });
  });

  test('/dev/shm is a memory emptyDir (the container default of 64Mi breaks parallel queries)', () => {
    expect(spilo.volumeMounts).toContainEqual({ name: 'dshm', mountPath: '/dev/shm' });
    expect(sts.spec.template.spec.volumes).toContainEqual({ name: 'dshm', emptyDir: { medium: 'Memory' } });
  });

  test('Spilo uses etcd v3 through ETCD3_HOSTS and never the Kubernetes DCS', () => {
    expect(env.SCOPE.value).toBe('pg-ha');
    expect(env.PGVERSION.value).toBe('17');
    expect(env.ETCD3_HOSTS.value).toBe(s.chart.etcd.clientEndpoints.join(','));
    expect(env.DCS_ENABLE_KUBERNETES_API).toBeUndefined();
    expect(Object.keys(env).filter((k) => k.startsWith('PATRONI_'))).toEqual([]);
  });

  test('service links are off (Spilo would parse ETCD3_*-like service variables as DCS settings)', () => {
    for (const m of s.all('StatefulSet').concat(s.all('Deployment'), s.all('Job'))) {
      expect([m.metadata.name, m.spec.template.spec.enableServiceLinks]).toEqual([m.metadata.name, false]);
    }
  });

  test('POD_IP feeds Patroni\'s connect addresses', () => {
    expect(env.POD_IP.valueFrom.fieldRef.fieldPath).toBe('status.podIP');
  });

  test('passwords come from the credentials Secret, never as values', () => {
    expect(env.PGUSER_SUPERUSER.value).toBe('postgres');
    expect(env.PGPASSWORD_SUPERUSER.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'superuser-password' });
    expect(env.PGUSER_STANDBY.value).toBe('standby');
    expect(env.PGPASSWORD_STANDBY.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'replication-password' });
    expect(env.PGPASSWORD_SUPERUSER.value).toBeUndefined();
  });

  test('synchronous mode is on so no acknowledged commit is lost on failover', () => {
    expect(patroni.bootstrap.dcs.synchronous_mode).toBe(true);
    expect(patroni.bootstrap.dcs.synchronous_mode_strict).toBe(false);
  });

  test('Patroni timings obey Patroni\'s rules (ttl >= 20, loop_wait + 2*retry_timeout <= ttl)', () => {
    const { ttl, loop_wait, retry_timeout } = patroni.bootstrap.dcs;
    expect({ ttl, loop_wait, retry_timeout }).toEqual({ ttl: 20, loop_wait: 5, retry_timeout: 7 });
    expect(loop_wait + 2 * retry_timeout).toBeLessThanOrEqual(ttl);
  });

  test('probes use Patroni\'s REST API on 8008', () => {
    expect(spilo.readinessProbe.httpGet).toEqual({ path: '/readiness', port: 'patroni' });
    expect(spilo.livenessProbe.httpGet).toEqual({ path: '/liveness', port: 'patroni' });
    expect(spilo.ports).toContainEqual({ name: 'patroni', containerPort: 8008 });
  });

  test('the grace period lets Patroni hand over the leader lock and stop PostgreSQL cleanly', () => {
    expect(sts.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(120);
  });

  test('the memory limit is set (Spilo sizes shared_buffers and max_connections from it)', () => {
    expect(spilo.resources.limits.memory).toBe('1Gi');
  });
});

describe('postgres-exporter sidecar', () => {
  const s = synth();
  const exporter = container(s.get('StatefulSet', 'pg-ha'), 'exporter');
  const env = envOf(exporter);

  test('runs next to every member and listens on 9187', () => {
    expect(exporter.image).toBe('prometheuscommunity/postgres-exporter:v0.18.1');
    expect(exporter.ports).toEqual([{ name: 'metrics', containerPort: 9187 }]);
    expect(exporter.args).toContain('--web.listen-address=:9187');
  });

  test('connects over 127.0.0.1 (the only non-TLS address Spilo\'s pg_hba accepts) as the monitoring role', () => {
    expect(env.DATA_SOURCE_URI.value).toBe('127.0.0.1:5432/postgres?sslmode=disable');
    expect(env.DATA_SOURCE_USER.value).toBe('postgres_exporter');
    expect(env.DATA_SOURCE_PASS.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'monitor-password' });
    expect(env.DATA_SOURCE_NAME).toBeUndefined(); // it would take precedence over the URI/USER/PASS triple
  });
});

describe('router (HAProxy)', () => {
  const s = synth();
  const deployment = s.get('Deployment', 'pg-ha-router');
  const haproxy = container(deployment, 'haproxy');
  const cfg: string = s.get('ConfigMap', 'pg-ha-router').data['haproxy.cfg'];
  const section = (name: string) => cfg.split(/\n(?=\S)/).find((block) => block.startsWith(name)) ?? '';

  test('two replicas: one router would be a single point of failure', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  test('the write frontend sends traffic only to the member answering /primary', () => {
    const primary = section('listen primary');
    expect(primary).toContain('bind :5432');
    expect(primary).toContain('http-check send meth OPTIONS uri /primary');
    expect(primary).toContain('http-check expect status 200');
    expect(primary.match(/^\s+server .* check port 8008$/gm)).toHaveLength(3);
  });

  test('the read frontend balances over replicas under a lag bound and falls back to the leader', () => {
    const replicas = section('listen replicas');
    expect(replicas).toContain('bind :5433');
    expect(replicas).toContain('balance roundrobin');
    expect(replicas).toContain('http-check send meth OPTIONS uri /replica?lag=16777216');
    // Fallback servers are backups that mirror the write backend's checks.
    expect(replicas.match(/^\s+server \S+-leader \S+ backup track primary\/\S+ /gm)).toHaveLength(3);
  });

  test('every server of the read backend may share its address with another (each member is listed twice)', () => {
    // Without allow-dup-ip, HAProxy's runtime DNS refuses the second server with a member's IP, so the
    // leader fallback (or the replica) would never get an address.
    const servers = section('listen replicas').split('\n').filter((l) => /^\s+server /.test(l));
    expect(servers).toHaveLength(6);
    for (const server of servers) expect(server).toMatch(/resolve-opts allow-dup-ip$/);
  });

  test('sessions on a server marked down are shut, so clients of a demoted leader reconnect', () => {
    expect(section('defaults')).toMatch(/default-server .*on-marked-down shutdown-sessions/);
  });

  test('servers are pod FQDNs re-resolved through the cluster DNS (rescheduled pods get new IPs)', () => {
    expect(section('resolvers cluster-dns')).toContain('parse-resolv-conf');
    expect(section('defaults')).toMatch(/default-server .*resolvers cluster-dns .*init-addr last,none/);
    expect(cfg).toContain('server pg-ha-0 pg-ha-0.pg-ha-headless.pg-ha.svc.cluster.local:5432');
  });

  test('stats and Prometheus metrics have their own ports', () => {
    expect(section('frontend stats')).toContain('bind :7000');
    expect(section('frontend metrics')).toContain('bind :8404');
    expect(section('frontend metrics')).toContain('http-request use-service prometheus-exporter if { path /metrics }');
  });

  test('HAProxy runs as uid 99 and binds unprivileged ports only', () => {
    expect(haproxy.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 99 });
    for (const port of haproxy.ports) expect(port.containerPort).toBeGreaterThanOrEqual(1024);
  });

  test('a change to haproxy.cfg changes the pod template, which rolls the router pods', () => {
    const hash = deployment.spec.template.metadata.annotations['pg-ha.cdk8s.io/config-hash'];
    const other = synth({ router: { replicaMaxLagBytes: 1024 } }).get('Deployment', 'pg-ha-router');
    expect(other.spec.template.metadata.annotations['pg-ha.cdk8s.io/config-hash']).not.toBe(hash);
  });

  test('write, read and stats Services', () => {
    expect(s.get('Service', 'pg-ha-rw').spec.ports).toEqual([{ name: 'write', port: 5432, targetPort: 'write' }]);
    expect(s.get('Service', 'pg-ha-ro').spec.ports).toEqual([{ name: 'read', port: 5433, targetPort: 'read' }]);
    expect(s.get('Service', 'pg-ha-router').spec.ports.map((p: any) => p.port)).toEqual([7000, 8404]);
  });
});

describe('init Job', () => {
  const s = synth();
  const [job] = s.all('Job').filter((j) => j.metadata.name.startsWith('pg-ha-init-'));
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

  test('bounded retries and deadline; finished Jobs are cleaned up', () => {
    expect(job.spec.backoffLimit).toBeLessThanOrEqual(6);
    expect(job.spec.activeDeadlineSeconds).toBe(900);
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
  });

  test('a change to the SQL gives a new Job name, so re-applying never edits an immutable pod template', () => {
    const other = synth({ init: { extraSql: 'CREATE EXTENSION IF NOT EXISTS pg_trgm;' } });
    const [otherJob] = other.all('Job').filter((j) => j.metadata.name.startsWith('pg-ha-init-'));
    expect(otherJob.metadata.name).not.toBe(job.metadata.name);
    expect(other.get('ConfigMap', 'pg-ha-init').data['user.sql']).toContain('pg_trgm');
  });
});

describe('stats UI', () => {
  test('an Ingress for pg-haproxy.<DEFAULT_URL> with class traefik by default', () => {
    const ingress = synth({ domain: 'corp.example' }).get('Ingress', 'pg-ha-router-stats');
    expect(ingress.spec.ingressClassName).toBe('traefik');
    expect(ingress.spec.rules[0].host).toBe('pg-haproxy.corp.example');
    expect(ingress.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'pg-ha-router', port: { name: 'stats' } });
  });

  test('a Traefik IngressRoute instead, with basic auth through a Middleware', () => {
    const s = synth({ statsIngress: { kind: 'ingressroute', basicAuthSecret: 'stats-users' } });
    expect(s.all('Ingress')).toEqual([]);
    const route = s.get('IngressRoute', 'pg-ha-router-stats');
    expect(route.spec.routes[0].match).toBe('Host(`pg-haproxy.example.com`)');
    expect(route.spec.routes[0].middlewares).toEqual([{ name: 'pg-ha-stats-auth' }]);
    expect(s.get('Middleware', 'pg-ha-stats-auth').spec.basicAuth.secret).toBe('stats-users');
  });

  test('basic auth on the Ingress goes through the Middleware annotation', () => {
    const ingress = synth({ statsIngress: { basicAuthSecret: 'stats-users' } }).get('Ingress', 'pg-ha-router-stats');
    expect(ingress.metadata.annotations['traefik.ingress.kubernetes.io/router.middlewares']).toBe('pg-ha-pg-ha-stats-auth@kubernetescrd');
  });

  test('none: no stats exposure at all', () => {
    const s = synth({ statsIngress: { kind: 'none' } });
    expect(s.all('Ingress').concat(s.all('IngressRoute'))).toEqual([]);
  });
});

describe('customised configuration (compose variables changed)', () => {
  const s = synth({
    scope: 'orders',
    namespace: 'shop',
    domain: 'corp.example',
    postgresUser: 'orders_app',
    postgresDb: 'orders',
    router: { writePort: 6432, readPort: 6433, replicas: 3 },
    etcd: { replicas: 5, storageClass: 'fast', storageSize: '2Gi' },
    postgres: { replicas: 2, storageSize: '50Gi', storageClass: 'fast' },
    patroni: { ttl: 30, loopWait: 10, retryTimeout: 10 },
    createNamespace: false,
  });

  test('snapshot', () => {
    expect(s.manifests).toMatchSnapshot();
  });

  test('names, ports and counts follow the settings', () => {
    expect(s.get('StatefulSet', 'orders-etcd').spec.replicas).toBe(5);
    expect(s.get('StatefulSet', 'orders').spec.replicas).toBe(2);
    expect(s.get('StatefulSet', 'orders').spec.volumeClaimTemplates[0].spec).toMatchObject({ storageClassName: 'fast', resources: { requests: { storage: '50Gi' } } });
    expect(s.get('Service', 'orders-rw').spec.ports[0].port).toBe(6432);
    expect(s.get('Service', 'orders-ro').spec.ports[0].port).toBe(6433);
    expect(envOf(container(s.get('StatefulSet', 'orders'), 'postgres')).ETCD3_HOSTS.value.split(',')).toHaveLength(5);
    expect(s.all('Namespace')).toEqual([]);
    const init = envOf(container(s.all('Job').find((j) => j.metadata.name.startsWith('orders-init-'))!, 'init'));
    expect([init.APP_USER.value, init.APP_DB.value, init.PGHOST.value, init.PGPORT.value]).toEqual(['orders_app', 'orders', 'orders-rw', '6432']);
  });
});
