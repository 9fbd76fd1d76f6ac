/*
 * The bed's pods as the workload controllers and the API stand-in see them (PodRuntime of
 * e2e/lib/kube): a pod the StatefulSet or Deployment controller starts becomes a LocalPod with
 * real processes on its own loopback address; stopping it is the kubelet's SIGTERM, grace period,
 * SIGKILL; label changes through the API (Spilo's role label) land on the pod, so Service
 * selectors see them; a Job runs to completion in the Debian 13 root (jobs.ts).
 */
import type { PodView } from './kube/cluster-state';
import type { Labels } from './kube/label-selector';
import type { ApiObject } from './kube/object-store';
import type { JobOutcome, PodRuntime, PodToStart } from './kube/pod-runtime';
import { log } from './log';
import type { K8sObject } from './manifests';
import { LocalPod, programOfImage } from './pod';
import type { Testbed } from './testbed';

export class BedPods implements PodRuntime {
  constructor(private readonly bed: Testbed) {}

  private live(): LocalPod[] {
    return this.bed.cluster.pods.filter((p) => !p.deleted && p.workload.kind !== 'Job');
  }

  private find(namespace: string, name: string): LocalPod {
    const p = this.live().find((x) => x.identity.namespace === namespace && x.name === name);
    if (!p) throw new Error(`pod ${namespace}/${name} does not exist`);
    return p;
  }

  pods(): PodView[] {
    return this.live().map((p) => ({
      namespace: p.identity.namespace,
      name: p.name,
      uid: p.uid,
      labels: { ...p.labels },
      annotations: { ...p.annotations },
      phase: 'Running',
      ready: p.ready,
      podIP: p.ip,
      owner: p.owner,
      serviceAccountName: p.identity.serviceAccountName,
      spec: p.spec,
      startedAt: p.createdAt,
    }));
  }

  /** The workload a controller's pod belongs to (the StatefulSet, or the Deployment of the ReplicaSet). */
  private workloadOf(pod: PodToStart): K8sObject {
    const store = this.bed.store;
    const w = pod.owner.kind === 'StatefulSet'
      ? store.get('StatefulSet', pod.namespace, pod.owner.name)
      : store.list('Deployment', pod.namespace).find((d) => pod.owner.name.startsWith(`${d.metadata.name}-`));
    if (!w) throw new Error(`pod ${pod.namespace}/${pod.name}: its ${pod.owner.kind} ${pod.owner.name} is not in the store`);
    return w as K8sObject;
  }

  async startPod(toStart: PodToStart): Promise<void> {
    const bed = this.bed;
    if (bed.cluster.stopping) throw new Error(`pod ${toStart.name} not started: the test bed is stopping`);
    const owner = this.workloadOf(toStart);
    const program = programOfImage(toStart.spec.containers[0].image);
    // a StatefulSet pod keeps its ordinal's address; a Deployment pod takes the lowest free one of its Deployment
    let ordinal = Number(toStart.name.slice(owner.metadata.name.length + 1));
    if (owner.kind !== 'StatefulSet') {
      const used = new Set(this.live().filter((p) => p.workload.metadata.name === owner.metadata.name && p.workload.kind === owner.kind).map((p) => p.ordinal));
      ordinal = 0;
      while (used.has(ordinal)) ordinal++;
    }
    const ip = bed.addresses.podAddress(owner, program, ordinal);
    // the pod as the controller made it: the workload with this pod's template (labels, revision)
    const workload: K8sObject = { ...owner, spec: { ...owner.spec, template: { metadata: { labels: toStart.labels, annotations: toStart.annotations }, spec: toStart.spec } } };
    bed.cluster.pods = bed.cluster.pods.filter((p) => !(p.name === toStart.name && p.identity.namespace === toStart.namespace));
    const pod = bed.createPod(workload, toStart.name, ordinal, ip);
    pod.owner = toStart.owner;
    if (owner.kind === 'StatefulSet') bed.registerPodNames(pod);
    bed.assignLaunches(pod);
    log(`pod ${pod.name} (${owner.kind} ${owner.metadata.name}, ${toStart.labels['controller-revision-hash'] ?? toStart.labels['pod-template-hash'] ?? ''}) starts on ${ip}`);
    pod.start();
  }

  async stopPod(namespace: string, name: string): Promise<void> {
    const pod = this.find(namespace, name);
    log(`pod ${name}: stopping (grace ${pod.graceMs / 1000} s)`);
    await pod.stop();
  }

  setPodMetadata(namespace: string, name: string, labels: Labels, annotations: Record<string, string>): void {
    const pod = this.find(namespace, name);
    pod.labels = { ...labels };
    pod.annotations = { ...annotations };
    this.bed.cluster.onChange();
  }

  async runJob(job: ApiObject): Promise<JobOutcome> {
    // restartPolicy OnFailure/Never with backoffLimit: a few attempts are enough to tell a failing Job
    const attempts = 1 + Math.min(job.spec?.backoffLimit ?? 6, 2);
    let last = { code: null as number | null, output: '' };
    for (let i = 1; i <= attempts; i++) {
      // The kubelet would stop it at activeDeadlineSeconds (a rollout Job replaces pods for minutes).
      last = await this.bed.jobs.runObject(job as K8sObject, (job.spec?.activeDeadlineSeconds ?? 120) * 1000);
      if (last.code === 0) return { succeeded: true, message: lastLines(last.output), output: last.output };
      log(`Job ${job.metadata.name} attempt ${i}/${attempts} failed (exit ${last.code}):\n${last.output}`);
    }
    return { succeeded: false, message: `exit ${last.code} after ${attempts} attempts: ${lastLines(last.output)}`, output: last.output };
  }
}

function lastLines(s: string, n = 3): string {
  return s.trim().split('\n').slice(-n).join(' | ');
}
