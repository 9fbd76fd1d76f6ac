/*
 * PgBouncer: the pooler image (ghcr.io/cloudnative-pg/pgbouncer: Debian, pgbouncer, openssl, sh)
 * running the chart's start.sh -> the same start.sh with the Debian 13 root's sh, openssl and
 * PgBouncer (1.24) on a translated copy of the ConfigMap's pgbouncer.ini: `listen_addr = *` -> the
 * pod's address, `host=<Service FQDN>` -> its cluster IP (PgBouncer resolves names through the
 * root's resolv.conf, not the test bed's DNS), mount paths -> the pod's directories.
 * Also the pgbouncer-exporter sidecar -> the root's prometheus-pgbouncer-exporter (0.10).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Launch, LocalContainer, LocalPod } from '../pod';
import { securityContext } from '../translation';
import { chownTree, ProgramContext } from './context';
import { prometheusExporterLaunch } from './exporter';

export function pgbouncerLaunch(ctx: ProgramContext, pod: LocalPod, c: LocalContainer): Launch {
  const translator = ctx.translator;
  const paths = pod.pathsFor(c.name);
  const env = translator.env(pod, c, translator.containerEnv(pod, c.spec), paths);
  const argv = [...(c.spec.command ?? []), ...(c.spec.args ?? [])];
  if (argv[0] !== '/bin/sh' || !argv[1]) throw new Error(`${c.scope}: expected the chart's start.sh as the command (got ${JSON.stringify(argv)})`);
  const script = paths.host(argv[1]);
  const iniHost = env.PGBOUNCER_CONFIG;
  if (!iniHost || !fs.existsSync(iniHost)) throw new Error(`${c.scope}: PGBOUNCER_CONFIG ${iniHost} is not provided by any volume`);
  const ini = fs.readFileSync(iniHost, 'utf8').split('\n').map((line) => {
    if (/^listen_addr\s*=/.test(line)) {
      const nl = `listen_addr = ${pod.ip}`;
      translator.print(`${c.scope} pgbouncer.ini`, line, nl);
      return nl;
    }
    if (line.startsWith(';') || !line.includes('=')) return line;
    return translator.args(pod, c, [line], {}, paths)[0];
  }).join('\n');
  const outIni = path.join(pod.dir, 'pgbouncer.ini');
  const sc = securityContext(pod, c);
  const uid = sc.runAsUser ?? 998;
  const gid = sc.runAsGroup ?? 996;
  translator.print(`${c.scope} config file`, '/etc/pgbouncer/pgbouncer.ini', `${outIni} (translated copy)`);
  return {
    cmd: translator.program(c, '/bin/sh', '/bin/sh'),
    args: [script],
    env: { PATH: '/usr/sbin:/usr/bin:/bin', HOME: env.RUN_DIR, ...env, PGBOUNCER_CONFIG: outIni },
    uid,
    gid,
    cwd: pod.dir,
    prepare: () => {
      fs.writeFileSync(outIni, ini);
      // The memory-backed emptyDir of the pod: writable by PgBouncer's user only.
      chownTree(env.RUN_DIR, uid, gid);
      fs.chmodSync(env.RUN_DIR, 0o700);
    },
  };
}

export function pgbouncerExporterLaunch(ctx: ProgramContext, pod: LocalPod, c: LocalContainer): Launch {
  return prometheusExporterLaunch(ctx, pod, c, { imageBinary: '/bin/pgbouncer_exporter', local: '/usr/bin/prometheus-pgbouncer-exporter', port: 9127 });
}
