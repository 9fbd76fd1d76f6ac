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
  /** Every start, stop, readiness and Job run, in order: `start pg-ha-2 (pg-ha-abc)`, `stop pg-ha-2`, `job pg-ha-init-1234`. */
  readonly events: string[] = [];
  readonly jobsRun: string[] = [];
  /** Pods started after this is set to false stay not Ready until markReady. */
  readyOnStart = true;
  /** When set, a started pod becomes Ready after this many ms (event `ready <name>`), whatever readyOnStart says. */
  readyDelayMs?: number;
  /** Fewest Ready pods left right after a stop, per app.kubernetes.io/name label. */
  readonly fewestReadyAfterStop = new Map<string, number>();
  /** How long a pod takes to stop (a real one finishes its shutdown first). */
  stopDelayMs = 0;
  jobOutcome: (job: ApiObject) => JobOutcome = () => ({ succeeded: true, message: 'done' });
  /** Largest number of pods that existed at once, per app.kubernetes.io/name label. */
  readonly peak = new Map<string, number>();

  pods(): PodView[] {
    return [...this.running.values()].map((p) => ({ ...p, labels: { ...p.labels } }));
  }

  async startPod(pod: PodToStart): Promise<void> {
    const key = `${pod.namespace}/${pod.name}`;
    if (this.running.has(key)) throw new Error(`pod ${key} already exists`);
    this.running.set(key, {
      namespace: pod.namespace, name: pod.name, uid: crypto.randomUUID(), labels: { ...pod.labels }, annotations: pod.annotations,
      phase: 'Running', ready: this.readyOnStart && this.readyDelayMs === undefined, owner: pod.owner, serviceAccountName: pod.serviceAccountName, spec: pod.spec,
      startedAt: new Date().toISOString(), podIP: '127.0.0.1',
    });
    const rev = pod.labels['controller-revision-hash'] ?? pod.labels['pod-template-hash'] ?? '';
    this.events.push(`start ${pod.name} (${rev})`);
    if (this.readyDelayMs !== undefined) {
      const uid = this.running.get(key)!.uid;
      setTimeout(() => {
        const p = this.running.get(key);
        if (p && p.uid === uid) {
          p.ready = true;
          this.events.push(`ready ${pod.name}`);
        }
      }, this.readyDelayMs);
    }
    const app = pod.labels['app.kubernetes.io/name'] ?? '';
    const same = this.pods().filter((p) => p.labels['app.kubernetes.io/name'] === app).length;
    this.peak.set(app, Math.max(this.peak.get(app) ?? 0, same));
  }

  async stopPod(namespace: string, name: string): Promise<void> {
    if (this.stopDelayMs) await new Promise((r) => setTimeout(r, this.stopDelayMs));
    const pod = this.running.get(`${namespace}/${name}`);
    if (!pod) throw new Error(`pod ${namespace}/${name} does not exist`);
    this.running.delete(`${namespace}/${name}`);
    this.events.push(`stop ${name}`);
    const app = pod.labels['app.kubernetes.io/name'] ?? '';
    const readyLeft = this.pods().filter((p) => p.labels['app.kubernetes.io/name'] === app && p.ready).length;
    this.fewestReadyAfterStop.set(app, Math.min(this.fewestReadyAfterStop.get(app) ?? Infinity, readyLeft));
  }

  setPodMetadata(namespace: string, name: string, labels: Labels, annotations: Record<string, string>): void {
    const p = this.running.get(`${namespace}/${name}`);
    if (!p) throw new Error(`pod ${namespace}/${name} does not exist`);
    p.labels = { ...labels };
    p.annotations = { ...annotations };
  }

  async runJob(job: ApiObject): Promise<JobOutcome> {
    this.jobsRun.push(job.metadata.name);
    this.events.push(`job ${job.metadata.name}`);
    return this.jobOutcome(job);
  }

  setReady(name: string, ready: boolean): void {
    const p = [...this.running.values()].find((x) => x.name === name);
    if (!p) throw new Error(`no pod ${name}`);
    p.ready = ready;
  }
}
