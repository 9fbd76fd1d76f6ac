/*
 * Spilo -> Patroni: the image's launch.sh (runit -> patroni /run/postgres.yml)
 * becomes the root's /usr/bin/patroni (4.0) with the configuration Spilo's
 * configure_spilo.py would write for the container's environment
 * (spilo-config.ts), translated where this host differs: listen addresses,
 * container paths -> the pod's directories, a private unix socket directory,
 * and what only exists in the Spilo image (its scripts and extra libraries).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { PathMap } from '../container-paths';
import { log } from '../log';
import { memoryLimitBytes } from '../manifests';
import type { Launch, LocalContainer, LocalPod } from '../pod';
import { chownTree, ProgramContext } from './context';
import { hostMemBytes, spiloConfig } from './spilo-config';

/* eslint-disable @typescript-eslint/no-explicit-any */

/** The bed's equivalent of Spilo's callback_role.py (same directory). */
const ROLE_LABEL_CALLBACK = 'role-label-callback.py';

export function patroniLaunch(ctx: ProgramContext, pod: LocalPod, container: LocalContainer): Launch {
  const translator = ctx.translator;
  const root = ctx.root;
  const paths = pod.pathsFor(container.name);
  const raw = translator.containerEnv(pod, container.spec);
  // addresses only: container paths are mapped on the Patroni config below
  const env = translator.env(pod, container, raw, new PathMap([], '/'));
  const override = ctx.overrides.spiloOverride;
  if (override) {
    const before = raw.SPILO_CONFIGURATION ?? '';
    const after = toYaml(override.apply(parseYaml(before || '{}') ?? {}));
    env.SPILO_CONFIGURATION = after;
    translator.print(`${container.scope} SPILO_CONFIGURATION (${override.describe})`, JSON.stringify(parseYaml(before || '{}')), JSON.stringify(parseYaml(after)));
  }
  const sp = spiloConfig(env, { memoryLimitBytes: memoryLimitBytes(container.spec), hostMemBytes: hostMemBytes(), pgVersionOnImage: '17' });
  for (const w of sp.warnings) log(`WARNING ${container.scope}: ${w}`);
  const conf = structuredClone(sp.spiloConfig);
  const pg = conf.postgresql;
  const scope = `${container.scope} patroni`;
  const pgUser = root.userIds('postgres');
  if (!pgUser) throw new Error(`no postgres user in ${root.path}: run scripts/e2e-install.sh`);
  translator.print(`${scope} user`, 'postgres (Spilo image, uid 101)', `postgres of the Debian 13 root (uid ${pgUser.uid})`);

  // addresses: the wildcard listen addresses -> the pod's address
  const listenHost = (l: string): string => l.replace(/^(\*|0\.0\.0\.0|::|\[::\])?:/, `${pod.ip}:`);
  for (const [obj, key, what] of [[conf.restapi, 'listen', 'restapi.listen'], [pg, 'listen', 'postgresql.listen']] as const) {
    const v = listenHost(String(obj[key]));
    if (v !== obj[key]) translator.print(`${scope} ${what}`, obj[key], v);
    obj[key] = v;
  }
  // binaries: the image's PostgreSQL version must be in the root
  const pgBin = String(pg.bin_dir);
  if (!fs.existsSync(root.file(path.join(pgBin, 'postgres')))) {
    const local = `/usr/lib/postgresql/${root.pgVersion()}/bin`;
    translator.print(`${scope} postgresql.bin_dir (not in the Debian 13 root)`, pgBin, local);
    pg.bin_dir = local;
  }
  // paths: the container filesystem of this pod
  const hostPath = (p: string, what: string): string => {
    const h = paths.host(p);
    translator.print(`${scope} ${what}`, p, h);
    return h;
  };
  pg.data_dir = hostPath(pg.data_dir, 'postgresql.data_dir');
  pg.pgpass = hostPath(pg.pgpass, 'postgresql.pgpass');
  const params = pg.parameters;
  // a unix socket path has at most 107 bytes: a short private directory per pod
  const sockDir = path.join(ctx.runDir, 'sockets', pod.ip);
  params.unix_socket_directories = sockDir;
  translator.print(`${scope} postgresql.parameters.unix_socket_directories`, '(build default /var/run/postgresql, shared by every pod here)', sockDir);
  params.ssl_cert_file = hostPath(params.ssl_cert_file, 'ssl_cert_file');
  params.ssl_key_file = hostPath(params.ssl_key_file, 'ssl_key_file');
  // etcd's CA (ETCD3_CACERT -> etcd3.cacert), mounted from its Secret
  for (const key of ['cacert', 'cert', 'key'] as const) {
    if (conf.etcd3?.[key]) conf.etcd3[key] = hostPath(conf.etcd3[key], `etcd3.${key}`);
  }
  dropSpiloOnly(ctx, scope, conf);
  const callbackScript = path.join(pod.dir, ROLE_LABEL_CALLBACK);
  if (pg.callbacks) {
    // Spilo's callback_role.py is not in Debian: the bed's equivalent makes the same API call
    const saDir = paths.host('/var/run/secrets/kubernetes.io/serviceaccount');
    const cmd = `/usr/bin/python3 ${callbackScript} ${env.KUBERNETES_SERVICE_HOST}:${env.KUBERNETES_SERVICE_PORT} ${saDir}`;
    translator.print(`${scope} postgresql.callbacks`, JSON.stringify(pg.callbacks), `on_start/on_stop/on_role_change: ${cmd} (e2e/lib/programs/${ROLE_LABEL_CALLBACK}: PATCH of the pod's spilo-role label with its ServiceAccount token, as Spilo's callback_role.py)`);
    pg.callbacks = { on_start: cmd, on_stop: cmd, on_role_change: cmd };
  }
  ctx.patroniConfigs.set(pod.name, conf);
  log(`${scope}: bootstrap.dcs = ${translator.mask(JSON.stringify(conf.bootstrap?.dcs ?? {}))}`);

  const cfgFile = path.join(pod.dir, 'patroni.yml');
  const certFile = params.ssl_cert_file;
  const keyFile = params.ssl_key_file;
  const home = paths.host('/home/postgres');
  return {
    cmd: translator.program(container, '/launch.sh (runit -> patroni /run/postgres.yml)', '/usr/bin/patroni'),
    args: [cfgFile],
    env: {
      PATH: '/usr/bin:/bin',
      LC_ALL: root.localeAvailable('en_US.utf8') ? 'en_US.UTF-8' : 'C.UTF-8',
      HOME: home,
      HOSTNAME: pod.name,
      POD_IP: env.POD_IP ?? pod.ip,
      ...(env.POD_NAMESPACE ? { POD_NAMESPACE: env.POD_NAMESPACE } : {}),
    },
    uid: pgUser.uid,
    gid: pgUser.gid,
    cwd: home,
    prepare: () => {
      fs.copyFileSync(path.join(__dirname, ROLE_LABEL_CALLBACK), callbackScript);
      for (const d of [path.dirname(pg.data_dir), sockDir, path.dirname(pg.pgpass), path.dirname(certFile), home]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
      if (!fs.existsSync(keyFile)) {
        // like Spilo's write_certificates: a self-signed certificate
        execFileSync('/usr/bin/openssl', ['req', '-nodes', '-new', '-x509', '-subj', '/CN=spilo.dummy.org', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
        fs.chmodSync(keyFile, 0o600);
      }
      chownTree(pod.dir, pgUser.uid, pgUser.gid, [path.join(pod.dir, 'logs')]);
      // the kubelet gives a pod's volumes to its fsGroup (103: a Secret's 0440 files, the etcd clients' key
      // among them, are readable by Spilo's group); a volume written anew under a pod directory
      // already owned (a replaced pod of the same name) is not reached by the walk above
      for (const mt of paths.mounts) chownTree(mt.hostPath, pgUser.uid, pgUser.gid);
      chownTree(sockDir, pgUser.uid, pgUser.gid);
      fs.writeFileSync(cfgFile, toYaml(conf), { mode: 0o600 });
      fs.chownSync(cfgFile, pgUser.uid, pgUser.gid);
    },
  };
}

/** What only exists in the Spilo image: its scripts and the libraries Debian does not package. */
function dropSpiloOnly(ctx: ProgramContext, scope: string, conf: Record<string, any>): void {
  const translator = ctx.translator;
  const pg = conf.postgresql;
  const params = pg.parameters;
  const version = /\/(\d+)\/bin/.exec(pg.bin_dir)?.[1] ?? ctx.root.pgVersion();
  const libs = String(params.shared_preload_libraries ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const keep = libs.filter((l) => ctx.root.pgLibExists(version, l));
  const dropped = libs.filter((l) => !keep.includes(l));
  if (dropped.length) {
    translator.print(`${scope} shared_preload_libraries`, libs.join(','), `${keep.join(',')} (not packaged in Debian: ${dropped.join(',')})`);
    params.shared_preload_libraries = keep.join(',');
    const prefixes = dropped.map((l) => (l === 'pgextwlist' ? 'extwlist' : l) + '.');
    for (const k of Object.keys(params)) {
      if (prefixes.some((px) => k.startsWith(px))) {
        translator.print(`${scope} parameter ${k}`, String(params[k]), 'dropped with its library');
        delete params[k];
      }
    }
  }
  if (conf.bootstrap?.post_init) {
    translator.print(`${scope} bootstrap.post_init`, conf.bootstrap.post_init, 'dropped: Spilo script (roles admin/cron_admin/robot_zmon, pg_cron, metric helpers) not in the root');
    delete conf.bootstrap.post_init;
  }
  if (Array.isArray(pg.create_replica_method) && pg.create_replica_method.includes('basebackup_fast_xlog')) {
    const methods = pg.create_replica_method.map((x: string) => (x === 'basebackup_fast_xlog' ? 'basebackup' : x));
    translator.print(`${scope} postgresql.create_replica_method`, JSON.stringify(pg.create_replica_method), `${JSON.stringify(methods)} (Spilo's /scripts/basebackup.sh -> Patroni's built-in pg_basebackup)`);
    pg.create_replica_method = methods;
    delete pg.basebackup_fast_xlog;
  }
  for (const item of (conf.bootstrap?.initdb ?? []) as any[]) {
    if (item && typeof item === 'object' && 'locale' in item && !ctx.root.localeAvailable(item.locale)) {
      translator.print(`${scope} bootstrap.initdb locale`, item.locale, 'C.UTF-8 (locale not generated in the root)');
      item.locale = 'C.UTF-8';
    }
  }
}
