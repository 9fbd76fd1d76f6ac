/*
 * Spilo's environment -> Patroni configuration, the mapping Spilo's
 * configure_spilo.py (tag 4.0-p3) does at container start, for the parts a
 * Kubernetes pod with the etcd3 DCS uses:
 *   - placeholders: image ENV defaults, then the container's environment;
 *   - the generated config (TEMPLATE), with USE_KUBERNETES true (a pod has
 *     KUBERNETES_SERVICE_HOST), so CALLBACK_SCRIPT and shared_buffers = mem/5;
 *   - the DCS from <DCS>_<PARAM> variables (ETCD3_HOSTS -> etcd3.hosts; *_HOSTS
 *     wrapped in [...] and parsed as YAML);
 *   - SPILO_CONFIGURATION (or PATRONI_CONFIGURATION) deep-merged over it,
 *     the user's values winning and user lists replacing generated ones.
 * The Spilo stand-in image's entrypoint (spilo/rootfs/scripts/configure_spilo.py)
 * is a port of it; spilo-parity.ts and check.sh compare the two on dist/.
 */
import * as fs from 'fs';
import { parse as parseYaml } from 'yaml';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Dict = Record<string, any>;

export const PATRONI_DCS = ['kubernetes', 'zookeeper', 'exhibitor', 'consul', 'etcd3', 'etcd'];

/** What pystache's `{{VAR}}` makes of a value: Python's html.escape(value, quote=True). */
export function pystacheEscape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#x27;');
}

/** Spilo's deep_update(a=user, b=generated): dicts merge, a wins, a's lists replace. */
export function deepUpdate(a: any, b: any): any {
  if (isDict(a) && isDict(b)) {
    for (const k of Object.keys(b)) a[k] = k in a ? deepUpdate(a[k], b[k]) : b[k];
    return a;
  }
  if (Array.isArray(a) && Array.isArray(b)) return a;
  return a !== null && a !== undefined ? a : b;
}

function isDict(v: any): v is Dict {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Spilo image ENV (Dockerfile of 4.0-p3) that configure_spilo.py reads. */
export const SPILO_IMAGE_ENV: Record<string, string> = {
  PGHOME: '/home/postgres',
  RW_DIR: '/run',
  PGROOT: '/home/postgres/pgdata/pgroot',
  PGDATA: '/home/postgres/pgdata/pgroot/data',
  PGLOG: '/home/postgres/pgdata/pgroot/pg_log',
  LC_ALL: 'en_US.utf-8',
};

export interface SpiloResult {
  /** Patroni config as Spilo would write it to /run/postgres.yml (container paths). */
  spiloConfig: Dict;
  placeholders: Record<string, string>;
  /** the parsed user configuration (SPILO_CONFIGURATION) */
  userConfig: Dict;
  /** DCS variables found (for the split-brain trap check) */
  dcsVars: Record<string, Dict>;
  warnings: string[];
}

/**
 * The configuration Spilo generates for this environment.
 * `env` is the container environment as the kubelet builds it (plus image ENV).
 */
export function spiloConfig(containerEnv: Record<string, string>, opts: { memoryLimitBytes?: number; hostMemBytes: number; pgVersionOnImage: string }): SpiloResult {
  const warnings: string[] = [];
  // PGDATA in the image is expanded at build time from the image's PGROOT: overriding PGROOT alone keeps it.
  const p: Record<string, string> = { ...SPILO_IMAGE_ENV, ...containerEnv };
  const d = (k: string, v: string): void => {
    if (p[k] === undefined) p[k] = v;
  };
  d('APIPORT', '8008');
  d('PGUSER_STANDBY', 'standby');
  d('PGPASSWORD_STANDBY', 'standby');
  d('PGUSER_SUPERUSER', 'postgres');
  d('PGPASSWORD_SUPERUSER', 'zalando');
  d('PGUSER_ADMIN', 'admin');
  d('PGPASSWORD_ADMIN', 'cola');
  d('HUMAN_ROLE', 'zalandos');
  d('ALLOW_NOSSL', '');
  d('PGPORT', '5432');
  d('SCOPE', 'dummy');
  d('SSL_CERTIFICATE_FILE', `${p.RW_DIR}/certs/server.crt`);
  d('SSL_PRIVATE_KEY_FILE', `${p.RW_DIR}/certs/server.key`);
  d('INITDB_LOCALE', 'en_US');
  d('DCS_ENABLE_KUBERNETES_API', '');
  if (p.PGPASSWORD_SUPERUSER === 'zalando') warnings.push('PGPASSWORD_SUPERUSER not set: Spilo uses its default password "zalando"');
  if (p.PGPASSWORD_STANDBY === 'standby') warnings.push('PGPASSWORD_STANDBY not set: Spilo uses its default password "standby"');
  for (const k of ['WAL_S3_BUCKET', 'WALE_S3_PREFIX', 'WALG_S3_PREFIX', 'WALG_AZ_PREFIX', 'WAL_GS_BUCKET', 'WALG_GS_PREFIX', 'WAL_SWIFT_BUCKET', 'CLONE_METHOD', 'STANDBY_HOST', 'PAM_OAUTH2']) {
    if (p[k]) warnings.push(`${k} is set: the test bed does not emulate this Spilo feature (ignored)`);
  }
  const useKubernetesApi = !!p.DCS_ENABLE_KUBERNETES_API; // a pod always has KUBERNETES_SERVICE_HOST
  const callback = useKubernetesApi ? '' : 'python3 /scripts/callback_role.py';

  // memory: cgroup limit (the container's limits.memory) capped by node RAM; no limit -> node RAM
  const memMb = Math.min(opts.memoryLimitBytes ?? Number.MAX_SAFE_INTEGER, opts.hostMemBytes) / 1048576;
  if (opts.memoryLimitBytes === undefined) warnings.push('no resources.limits.memory on the Spilo container: shared_buffers and max_connections are sized from the node RAM');
  const sharedBuffers = `${Math.floor(memMb / 5)}MB`;
  const maxConnections = Math.min(Math.max(100, Math.floor(memMb / 30)), 1000);
  const ip = p.POD_IP;
  if (!ip) warnings.push('POD_IP not set: Spilo would use getaddrinfo(hostname)');

  const g: Dict = {
    bootstrap: {
      post_init: `/scripts/post_init.sh "${p.HUMAN_ROLE}"`,
      dcs: {
        ttl: 30,
        loop_wait: 10,
        retry_timeout: 10,
        maximum_lag_on_failover: 33554432,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            archive_mode: 'on',
            archive_timeout: '1800s',
            wal_level: 'hot_standby',
            wal_log_hints: 'on',
            wal_compression: 'on',
            max_wal_senders: 10,
            max_connections: maxConnections,
            max_replication_slots: 10,
            hot_standby: 'on',
            tcp_keepalives_idle: 900,
            tcp_keepalives_interval: 100,
            log_line_prefix: '%t [%p]: [%l-1] %c %x %d %u %a %h ',
            log_checkpoints: 'on',
            log_lock_waits: 'on',
            log_min_duration_statement: 500,
            log_autovacuum_min_duration: 0,
            log_connections: 'on',
            log_disconnections: 'on',
            log_statement: 'ddl',
            log_temp_files: 0,
            track_functions: 'all',
            checkpoint_completion_target: 0.9,
            autovacuum_max_workers: 5,
            autovacuum_vacuum_scale_factor: 0.05,
            autovacuum_analyze_scale_factor: 0.02,
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: `${p.INITDB_LOCALE}.UTF-8` }, 'data-checksums'],
    },
    scope: p.SCOPE,
    restapi: {
      listen: `:${p.APIPORT}`,
      connect_address: p.RESTAPI_CONNECT_ADDRESS ?? `${ip}:${p.APIPORT}`,
    },
    postgresql: {
      pgpass: '/run/postgresql/pgpass',
      use_unix_socket: true,
      use_unix_socket_repl: true,
      name: containerEnv.HOSTNAME,
      listen: `*:${p.PGPORT}`,
      connect_address: p.PG_CONNECT_ADDRESS ?? `${ip}:${p.PGPORT}`,
      data_dir: p.PGDATA,
      parameters: {
        archive_command: '/bin/true',
        shared_buffers: sharedBuffers,
        logging_collector: 'on',
        log_destination: 'csvlog',
        log_directory: '../pg_log',
        log_filename: 'postgresql-%u.log',
        log_file_mode: '0644',
        log_rotation_age: '1d',
        log_truncate_on_rotation: 'on',
        ssl: 'on',
        ssl_cert_file: p.SSL_CERTIFICATE_FILE,
        ssl_key_file: p.SSL_PRIVATE_KEY_FILE,
        shared_preload_libraries: 'bg_mon,pg_stat_statements,pgextwlist,pg_auth_mon,set_user',
        'bg_mon.listen_address': '0.0.0.0',
        'bg_mon.history_buckets': 120,
        'pg_stat_statements.track_utility': 'off',
        'extwlist.extensions':
          'btree_gin,btree_gist,citext,extra_window_functions,first_last_agg,hll,hstore,hypopg,intarray,ltree,pgcrypto,pgq,pgq_node,pg_trgm,postgres_fdw,roaringbitmap,tablefunc,uuid-ossp,vector',
        'extwlist.custom_path': '/scripts',
      },
      pg_hba: [
        'local   all             all                                   trust',
        'host    all             all                127.0.0.1/32       md5',
        'host    all             all                ::1/128            md5',
        `local   replication     ${p.PGUSER_STANDBY}                    trust`,
        `hostssl replication     ${p.PGUSER_STANDBY} all                md5`,
        ...(p.ALLOW_NOSSL
          ? ['host    all             all                all                md5']
          : ['hostnossl all           all                all                reject', 'hostssl all             all                all                md5']),
      ],
      // TEMPLATE's `password: '{{PGPASSWORD_SUPERUSER}}'`: pystache's default escaping is Python's
      // html.escape(quote=True), so a password with & < > " ' reaches Patroni changed (zalando/spilo#1008)
      authentication: {
        superuser: { username: p.PGUSER_SUPERUSER, password: pystacheEscape(p.PGPASSWORD_SUPERUSER) },
        replication: { username: p.PGUSER_STANDBY, password: pystacheEscape(p.PGPASSWORD_STANDBY) },
      },
      callbacks: callback
        ? { on_start: callback, on_stop: callback, on_role_change: `/scripts/on_role_change.sh ${p.HUMAN_ROLE} ${callback}` }
        : { on_role_change: `/scripts/on_role_change.sh ${p.HUMAN_ROLE} true` },
      create_replica_method: ['basebackup_fast_xlog'],
      basebackup_fast_xlog: { command: '/scripts/basebackup.sh', retries: 2 },
    },
  };
  if ('PGPASSWORD_ADMIN' in containerEnv) {
    g.bootstrap.users = { [p.PGUSER_ADMIN]: { password: p.PGPASSWORD_ADMIN, options: ['createrole', 'createdb'] } };
  }

  // DCS from <DCS>_<PARAM> variables
  const dcsVars: Record<string, Dict> = {};
  for (const [name, value0] of Object.entries(p)) {
    const i = name.indexOf('_');
    if (i < 0) continue;
    const dcs = name.slice(0, i).toLowerCase();
    let param = name.slice(i + 1).toLowerCase();
    if (!PATRONI_DCS.includes(dcs)) continue;
    let value: any = value0;
    if (param === 'hosts') {
      if (!(value0.trim().startsWith('-') || value0.includes('['))) value = `[${value0}]`;
      value = parseYaml(value);
    } else if (param === 'discovery_domain') param = 'discovery_srv';
    (dcsVars[dcs] ??= {})[param] = value;
  }
  let dcsConfig: Dict = {};
  if (useKubernetesApi) {
    warnings.push('DCS_ENABLE_KUBERNETES_API is set: Spilo would use the Kubernetes DCS, which the test bed cannot run');
  } else {
    for (const dcs of PATRONI_DCS) {
      if (dcs !== 'kubernetes' && dcsVars[dcs]) {
        dcsConfig = { [dcs]: dcsVars[dcs] };
        break;
      }
    }
  }
  Object.assign(g, dcsConfig);

  const raw = p.SPILO_CONFIGURATION ?? p.PATRONI_CONFIGURATION ?? '';
  const userConfig: Dict = (raw ? parseYaml(raw) : {}) ?? {};
  if (!isDict(userConfig)) throw new Error(`SPILO_CONFIGURATION should contain a dict, yet it is a ${typeof userConfig}`);
  const config = deepUpdate(structuredClone(userConfig), g) as Dict;

  if (!PATRONI_DCS.some((k) => k in config)) {
    warnings.push('SPLIT-BRAIN TRAP: no DCS configured; Spilo (provider local) would start an embedded etcd on 127.0.0.1 in each pod');
  }

  // bin_dir from PGVERSION when not configured
  if (!config.postgresql.bin_dir) {
    const v = p.PGVERSION && /^\d+(\.\d+)?$/.test(p.PGVERSION) ? p.PGVERSION : opts.pgVersionOnImage;
    config.postgresql.bin_dir = `/usr/lib/postgresql/${v}/bin`;
  }
  // Ensure replication is available (same rule as Spilo)
  if (Array.isArray(config.bootstrap?.pg_hba) && !config.bootstrap.pg_hba.some((l: string) => l.includes('replication'))) {
    config.bootstrap.pg_hba.unshift(`hostssl replication ${config.postgresql.authentication.replication.username} all md5`);
  }
  return { spiloConfig: config, placeholders: p, userConfig, dcsVars, warnings };
}

export function hostMemBytes(): number {
  const m = /MemTotal:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
