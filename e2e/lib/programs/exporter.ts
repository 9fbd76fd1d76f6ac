/*
 * postgres-exporter: the image's /bin/postgres_exporter -> the root's
 * prometheus-postgres-exporter (0.17) with the container's env and args
 * (addresses translated; the default listen address :9187 -> the pod's).
 */
import type { Launch, LocalContainer, LocalPod } from '../pod';
import { securityContext } from '../translation';
import { ProgramContext } from './context';

export function exporterLaunch(ctx: ProgramContext, pod: LocalPod, c: LocalContainer): Launch {
  const t = ctx.translator;
  const paths = pod.pathsFor(c.name);
  const env = t.env(pod, c, t.containerEnv(pod, c.spec), paths);
  const cmd = c.spec.command ?? ['/bin/postgres_exporter'];
  const args = t.args(pod, c, [...cmd.slice(1), ...(c.spec.args ?? [])], env, paths);
  if (!args.some((a) => a.startsWith('--web.listen-address'))) {
    args.push(`--web.listen-address=${pod.ip}:9187`);
    t.print(`${c.scope} listen address`, ':9187 (default, all pod addresses)', `${pod.ip}:9187`);
  }
  const sc = securityContext(pod, c);
  return {
    cmd: t.program(c, cmd[0], '/usr/bin/prometheus-postgres-exporter'),
    args,
    env: { PATH: '/usr/bin:/bin', ...env },
    uid: sc.runAsUser ?? 65534,
    gid: sc.runAsGroup ?? 65534,
  };
}

/** The address the exporter serves /metrics on. */
export function exporterAddress(c: LocalContainer): { host: string; port: number } {
  const listen = c.launch!.args.find((a) => a.startsWith('--web.listen-address='))!.split('=')[1];
  const [host, port] = listen.split(':');
  return { host, port: Number(port) };
}
