/*
 * postgres-exporter: the image's /bin/postgres_exporter -> the root's
 * prometheus-postgres-exporter (0.17) with the container's env and args
 * (addresses translated; the default listen address :9187 -> the pod's).
 */
import type { Launch, LocalContainer, LocalPod } from '../pod';
import { securityContext } from '../translation';
import { ProgramContext } from './context';

export function exporterLaunch(ctx: ProgramContext, pod: LocalPod, container: LocalContainer): Launch {
  const translator = ctx.translator;
  const paths = pod.pathsFor(container.name);
  const env = translator.env(pod, container, translator.containerEnv(pod, container.spec), paths);
  const cmd = container.spec.command ?? ['/bin/postgres_exporter'];
  const args = translator.args(pod, container, [...cmd.slice(1), ...(container.spec.args ?? [])], env, paths);
  if (!args.some((a) => a.startsWith('--web.listen-address'))) {
    args.push(`--web.listen-address=${pod.ip}:9187`);
    translator.print(`${container.scope} listen address`, ':9187 (default, all pod addresses)', `${pod.ip}:9187`);
  }
  const security = securityContext(pod, container);
  return {
    cmd: translator.program(container, cmd[0], '/usr/bin/prometheus-postgres-exporter'),
    args,
    env: { PATH: '/usr/bin:/bin', ...env },
    uid: security.runAsUser ?? 65534,
    gid: security.runAsGroup ?? 65534,
  };
}

/** The address the exporter serves /metrics on. */
export function exporterAddress(container: LocalContainer): { host: string; port: number } {
  const listen = container.launch!.args.find((a) => a.startsWith('--web.listen-address='))!.split('=')[1];
  const [host, port] = listen.split(':');
  return { host, port: Number(port) };
}
