/**
 * An in-memory PodRuntime for the unit tests of the API stand-in and apply engine: pods are
 * records, not processes. It proves the API semantics and the controllers' decisions (what is
 * started and stopped, in which order); that the real programs survive them is proven by the
 * e2e test bed, which implements PodRuntime with processes.
 */
import * as crypto from 'crypto';
import { PodView } from '../../e2e/lib/kube/cluster-state';
import { Labels } from '../../e2e/lib/kube/label-selector';
import { ApiObject } from '../../e2e/lib/kube/object-store';
import { JobOutcome, PodRuntime, PodToStart } from '../../e2e/lib/kube/pod-runtime';

export class InMemoryPods implements PodRuntime {
  readonly running = new Map<string, PodView>();
  /** Every start and stop, in order: `start pg-ha-2 (pg-ha-abc)`, `stop pg-ha-2`. */
  readonly events: string[] = [];
  readonly jobsRun: string[] = [];
  /** Pods started after this is set to false stay not Ready until markReady. */
  readyOnStart = true;
  jobOutcome: (job: ApiObject) => JobOutcome = () => ({ succeeded: true, message: 'done' });
  /** Largest number of pods that existed at once, per owner name. */
  readonly peak = new Map<string, number>();

  pods(): PodView[] {
    return [...this.running.values()].map((p) => ({ ...p, labels: { ...p.labels } }));
  }

  async startPod(pod: PodToStart): Promise<void> {
    const key = `${pod.namespace}/${pod.name}`;
    if (this.running.has(key)) throw new Error(`pod ${key} already exists`);
    this.running.set(key, {
      namespace: pod.namespace, name: pod.name, uid: crypto.randomUUID(), labels: { ...pod.labels }, annotations: pod.annotations,
      phase: 'Running', ready: this.readyOnStart, owner: pod.owner, serviceAccountName: pod.serviceAccountName, spec: pod.spec,
      startedAt: new Date().toISOString(), podIP: '127.0.0.1',
    });
    const rev = pod.labels['controller-revision-hash'] ?? pod.labels['pod-template-hash'] ?? '';
    this.events.push(`start ${pod.name} (${rev})`);
    const owned = this.pods().filter((p) => p.owner?.name === pod.owner.name).length;
    this.peak.set(pod.owner.name, Math.max(this.peak.get(pod.owner.name) ?? 0, owned));
  }

  async stopPod(namespace: string, name: string): Promise<void> {
    if (!this.running.delete(`${namespace}/${name}`)) throw new Error(`pod ${namespace}/${name} does not exist`);
    this.events.push(`stop ${name}`);
  }

  setPodMetadata(namespace: string, name: string, labels: Labels, annotations: Record<string, string>): void {
    const p = this.running.get(`${namespace}/${name}`);
    if (!p) throw new Error(`pod ${namespace}/${name} does not exist`);
    p.labels = { ...labels };
    p.annotations = { ...annotations };
  }

  async runJob(job: ApiObject): Promise<JobOutcome> {
    this.jobsRun.push(job.metadata.name);
    return this.jobOutcome(job);
  }

  setReady(name: string, ready: boolean): void {
    const p = [...this.running.values()].find((x) => x.name === name);
    if (!p) throw new Error(`no pod ${name}`);
    p.ready = ready;
  }
}
