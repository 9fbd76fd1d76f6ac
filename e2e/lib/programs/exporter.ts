/*
 * postgres-exporter: the image's /bin/postgres_exporter -> the root's
 * prometheus-postgres-exporter (0.17) with the container's env and args
 * (addresses translated; the default listen address :9187 -> the pod's).
 * The same for any Prometheus exporter image (the pooler's pgbouncer-exporter).
 */
import type { Launch, LocalContainer, LocalPod } from '../pod';
import { securityContext } from '../translation';
import { ProgramContext } from './context';

export function exporterLaunch(ctx: ProgramContext, pod: LocalPod, c: LocalContainer): Launch {
  return prometheusExporterLaunch(ctx, pod, c, { imageBinary: '/bin/postgres_exporter', local: '/usr/bin/prometheus-postgres-exporter', port: 9187 });
}

/** A Prometheus exporter image (busybox, USER nobody, ENTRYPOINT its binary) -> the root's Debian package of it. */
export function prometheusExporterLaunch(ctx: ProgramContext, pod: LocalPod, c: LocalContainer, program: { imageBinary: string; local: string; port: number }): Launch {
  const translator = ctx.translator;
  const paths = pod.pathsFor(c.name);
  const env = translator.env(pod, c, translator.containerEnv(pod, c.spec), paths);
  const cmd = c.spec.command ?? [program.imageBinary];
  const args = translator.args(pod, c, [...cmd.slice(1), ...(c.spec.args ?? [])], env, paths);
  if (!args.some((a) => a.startsWith('--web.listen-address'))) {
    args.push(`--web.listen-address=${pod.ip}:${program.port}`);
    translator.print(`${c.scope} listen address`, `:${program.port} (default, all pod addresses)`, `${pod.ip}:${program.port}`);
  }
  const sc = securityContext(pod, c);
  return {
    cmd: translator.program(c, cmd[0], program.local),
    args,
    env: { PATH: '/usr/bin:/bin', ...env },
    uid: sc.runAsUser ?? 65534,
    gid: sc.runAsGroup ?? 65534,
  };
}

/** The address the exporter serves /metrics on. */
export function exporterAddress(container: LocalContainer): { host: string; port: number } {
  const listen = container.launch!.args.find((a) => a.startsWith('--web.listen-address='))!.split('=')[1];
  const [host, port] = listen.split(':');
  return { host, port: Number(port) };
}
