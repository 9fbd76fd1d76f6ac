/*
 * Where the manifests' Jobs run: to completion in a pod of their own, with the
 * Job's command, env, mounted files (the ServiceAccount token too), user and
 * the API stand-in as KUBERNETES_SERVICE_HOST. A PostgreSQL client image (the
 * init Job's init container) runs on the root's /bin/sh and PostgreSQL client
 * tools; a Spilo image running python3 (the secrets Job, which creates the
 * credentials Secret through the API; the init Job's container) on the root's
 * python3. Init containers run first, one after the other, as the kubelet runs
 * them; a failing one ends the run with its exit code.
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

  /** How a Job container's image runs here, or why it cannot. */
  private runsAs(c: Container): 'psql' | 'python3' | undefined {
    const program = programOfImage(c.image);
    if (program === 'psql') return 'psql';
    if (program === 'spilo' && (c.command ?? c.args ?? [])[0] === 'python3') return 'python3';
    return undefined;
  }

  /** Print, at plan time, how each Job runs here (the apply runs them in their sync wave). */
  describe(): void {
    for (const j of this.bed.manifests.all('Job')) {
      const steps = jobSteps(j).map(({ container: c, init }) => {
        const as = this.runsAs(c);
        return `${init ? 'init container' : 'container'} ${c.name} (${c.image}): ${as ? `on the Debian 13 root's ${as === 'psql' ? '/bin/sh and PostgreSQL client' : 'python3'}` : 'cannot run here (no program for its image): the apply fails at it'}`;
      });
      log(`Job ${j.metadata.name}, run by the apply in its sync wave: ${steps.join('; then ')}`);
    }
  }

  /**
   * A Job container's environment as the kubelet builds it (untranslated; holds generated secrets):
   * the container named `containerName`, else the Job's first (init containers first).
   */
  env(name: string, containerName?: string): Record<string, string> {
    const job = this.bed.manifests.get('Job', name);
    const steps = jobSteps(job).map((s) => s.container);
    const container = containerName ? steps.find((c) => c.name === containerName) : steps[0];
    if (!container) throw new Error(`Job ${name} has no container ${containerName}`);
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

  /** Run a manifest's Job (by name) once to completion. */
  run(name: string, timeoutMs = 120000): Promise<JobRun> {
    return this.runObject(this.bed.manifests.get('Job', name), timeoutMs);
  }

  /**
   * Run a Job's pod once to completion: its init containers one after the other, then its
   * container; returns the exit code (the first failing step's) and the steps' (masked) output.
   */
  async runObject(job: K8sObject, timeoutMs = 120000): Promise<JobRun> {
    const t0 = Date.now();
    const steps = jobSteps(job);
    for (const { container } of steps) {
      if (!this.runsAs(container)) throw new Error(`Job ${job.metadata.name}: container ${container.name}'s image ${container.image} has no program in the test bed`);
    }
    if (steps.filter((s) => !s.init).length !== 1) throw new Error(`Job ${job.metadata.name}: the test bed runs one container after the init containers`);
    let output = '';
    let code: number | null = 0;
    for (const step of steps) {
      const r = await this.runStep(job, step.container, Math.max(1000, timeoutMs - (Date.now() - t0)));
      output += steps.length > 1 ? `[${step.container.name}]\n${r.output}` : r.output;
      code = r.code;
      if (code !== 0) break;
    }
    return { code, output, ms: Date.now() - t0 };
  }

  /** One container of a Job's pod, to completion, in a pod of its own (the test bed's pods have one process tree each). */
  private async runStep(job: K8sObject, step: Container, timeoutMs: number): Promise<JobRun> {
    const bed = this.bed;
    const translator = bed.translator;
    const name = job.metadata.name;
    const as = this.runsAs(step)!;
    const n = ++this.runs;
    const template = job.spec.template;
    const workload: K8sObject = {
      ...job, kind: 'Job',
      spec: { ...job.spec, replicas: 1, template: { ...template, spec: { ...template.spec, initContainers: undefined, containers: [step] } } },
    };
    const pod = bed.createPod(workload, `${name}-run${n}`, 0, bed.addresses.jobPodAddress(n));
    pod.owner = { kind: 'Job', name };
    const container = pod.containers[0];
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
    if (as === 'psql') translator.print(`${container.scope} image ${container.spec.image}`, 'sh + psql/pg_isready (alpine)', `the Debian 13 root's /bin/sh and ${pgBin}`);
    else translator.print(`${container.scope} image ${container.spec.image}`, "the image's python3", "the Debian 13 root's python3 (standard library only, as the script needs)");
    container.launch = {
      cmd: argv[0],
      args: argv.slice(1),
      env: { PATH: `${pgBin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: paths.host('/root'), ...env },
      uid: sc.runAsUser ?? 0,
      gid: sc.runAsGroup ?? 0,
      cwd: pod.dir,
      prepare: () => {
        fs.mkdirSync(paths.host('/root'), { recursive: true });
        // the kubelet gives a pod's volumes to its fsGroup (a Secret's 0440 files are readable by that group): the same here
        if (sc.fsGroup !== undefined) for (const mt of paths.mounts) for (const f of [mt.hostPath, ...listFiles(mt.hostPath)]) fs.lchownSync(f, 0, sc.fsGroup);
      },
    };
    const t0 = Date.now();
    container.start();
    const proc = container.proc!;
    const timer = setTimeout(() => void bed.supervisor.killPod(container.scope), timeoutMs);
    const code = await proc.exited;
    clearTimeout(timer);
    pod.deleted = true;
    const output = translator.mask(fs.readFileSync(path.join(pod.dir, 'logs', `${container.name}.log`), 'utf8'));
    log(`Job ${name} run ${n}${(job.spec.template.spec.initContainers ?? []).length ? ` (${step.name})` : ''}: exit ${code} in ${Date.now() - t0} ms`);
    return { code, output, ms: Date.now() - t0 };
  }
}

/** A Job's containers in the order the kubelet runs them: init containers first. */
function jobSteps(job: K8sObject): Array<{ container: Container; init: boolean }> {
  const spec = job.spec.template.spec;
  return [...((spec.initContainers ?? []) as Container[]).map((c) => ({ container: c, init: true })), ...(spec.containers as Container[]).map((c) => ({ container: c, init: false }))];
}

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  if (fs.statSync(dir).isFile()) return [dir];
  return fs.readdirSync(dir).flatMap((e) => listFiles(path.join(dir, e)));
}
