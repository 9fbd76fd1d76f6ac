/*
 * Where the manifests' Jobs run. A Job whose image is a PostgreSQL client
 * (the init Job) runs to completion in a pod of its own, on the root's
 * /bin/sh and PostgreSQL client tools, with the Job's command, env, mounted
 * files and user. Jobs that talk to the Kubernetes API (the secrets Job) are
 * not run: there is no API here yet, so the test bed generates the Secret
 * values they would create (manifests.ts, SecretStore).
 */
import * as fs from 'fs';
import * as path from 'path';
import { HOST_IP } from './address-plan';
import { log } from './log';
import { Container, K8sObject, PodIdentity, resolveEnv } from './manifests';
import { programOfImage } from './pod';
import type { Testbed } from './testbed';
import { securityContext } from './translation';

export interface JobRun {
  code: number | null;
  output: string;
  ms: number;
}

export class JobRunner {
  private runs = 0;

  constructor(private readonly bed: Testbed) {}

  /** Jobs this test bed can run: those whose image is a PostgreSQL client. */
  runnable(): K8sObject[] {
    return this.bed.manifests.all('Job').filter((j) => programOfImage(j.spec.template.spec.containers[0].image) === 'psql');
  }

  /** Print, at plan time, which Jobs run here and which do not, and why. */
  describe(): void {
    for (const j of this.bed.manifests.all('Job')) {
      const img = j.spec.template.spec.containers[0].image as string;
      if (programOfImage(img) === 'psql') log(`Job ${j.metadata.name} (${img}): run by the scenarios, in the Debian 13 root`);
      else log(`Job ${j.metadata.name} (${img}): not run (talks to the Kubernetes API); the test bed generates the Secret values itself`);
    }
  }

  /** A Job container's environment as the kubelet builds it (untranslated; holds generated secrets). */
  env(name: string): Record<string, string> {
    const job = this.bed.manifests.get('Job', name);
    const container = job.spec.template.spec.containers[0] as Container;
    const identity: PodIdentity = {
      name: `${name}-run`,
      namespace: this.bed.manifests.ns(job),
      ip: this.bed.addresses.jobPodAddress(1),
      labels: job.spec.template.metadata?.labels ?? {},
      annotations: {},
      serviceAccountName: job.spec.template.spec.serviceAccountName ?? 'default',
      nodeName: 'e2e-node',
      hostIP: HOST_IP,
    };
    return resolveEnv(container, identity, this.bed.manifests, this.bed.secrets);
  }

  /** Run a Job's pod once to completion; returns the exit code and (masked) output. */
  async run(name: string, timeoutMs = 120000): Promise<JobRun> {
    const bed = this.bed;
    const translator = bed.translator;
    const job = bed.manifests.get('Job', name);
    const n = ++this.runs;
    const workload: K8sObject = { ...job, kind: 'Job', spec: { ...job.spec, replicas: 1 } };
    const pod = bed.createPod(workload, `${name}-run${n}`, 0, bed.addresses.jobPodAddress(n));
    const container = pod.containers[0];
    if (container.program !== 'psql') throw new Error(`Job ${name}: image ${container.spec.image} is not a PostgreSQL client; the test bed cannot run it`);
    const paths = pod.pathsFor(container.name);
    const env = translator.env(pod, container, translator.containerEnv(pod, container.spec), paths);
    // files mounted into the container refer to their mount paths: point them at the pod's copies
    for (const mt of paths.mounts) {
      for (const f of listFiles(mt.hostPath)) {
        const r = paths.rewriteText(fs.readFileSync(f, 'utf8'));
        if (r.count) {
          fs.writeFileSync(f, r.text);
          translator.print(`${container.scope} file ${path.relative(mt.hostPath, f)}`, `${r.count} reference(s) to mount paths`, 'the pod directory');
        }
      }
    }
    const argv = translator.args(pod, container, [...(container.spec.command ?? []), ...(container.spec.args ?? [])], env, paths);
    if (!argv.length) throw new Error(`Job ${name}: no command`);
    const sc = securityContext(pod, container);
    const pgBin = `/usr/lib/postgresql/${bed.root.pgVersion()}/bin`;
    translator.print(`${container.scope} image ${container.spec.image}`, 'sh + psql/pg_isready (alpine)', `the Debian 13 root's /bin/sh and ${pgBin}`);
    container.launch = {
      cmd: argv[0],
      args: argv.slice(1),
      env: { PATH: `${pgBin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: paths.host('/root'), ...env },
      uid: sc.runAsUser ?? 0,
      gid: sc.runAsGroup ?? 0,
      cwd: pod.dir,
      prepare: () => fs.mkdirSync(paths.host('/root'), { recursive: true }),
    };
    const t0 = Date.now();
    container.start();
    const proc = container.proc!;
    const timer = setTimeout(() => void bed.supervisor.killPod(container.scope), timeoutMs);
    const code = await proc.exited;
    clearTimeout(timer);
    pod.deleted = true;
    const output = translator.mask(fs.readFileSync(path.join(pod.dir, 'logs', `${container.name}.log`), 'utf8'));
    log(`Job ${name} run ${n}: exit ${code} in ${Date.now() - t0} ms`);
    return { code, output, ms: Date.now() - t0 };
  }
}

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  if (fs.statSync(dir).isFile()) return [dir];
  return fs.readdirSync(dir).flatMap((e) => listFiles(path.join(dir, e)));
}
