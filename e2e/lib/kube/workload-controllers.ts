/*
 * The controllers of one cluster and the ClusterState the API stand-in reads, both on one
 * PodRuntime. A pod deleted or evicted through the API is stopped and then recreated by its
 * controller in the background, as in a cluster (the API answers before the pod is gone);
 * `settled()` waits for that background work (tests, the bed's teardown).
 */
import { ClusterState } from './cluster-state';
import { DeploymentController } from './deployment-controller';
import { Labels } from './label-selector';
import { ObjectStore } from './object-store';
import { PodRuntime } from './pod-runtime';
import { StatefulSetController } from './statefulset-controller';
import { ControllerOptions } from './wait';

export class WorkloadControllers {
  readonly statefulSets: StatefulSetController;
  readonly deployments: DeploymentController;
  private readonly background = new Set<Promise<void>>();
  /** Errors of background recreations (a pod that could not be restarted), for the bed to report. */
  readonly errors: Error[] = [];

  constructor(readonly store: ObjectStore, readonly runtime: PodRuntime, private readonly opts: ControllerOptions = {}) {
    this.statefulSets = new StatefulSetController(store, runtime, opts);
    this.deployments = new DeploymentController(store, runtime, opts);
  }

  /** Stops the pod, then lets its owner recreate it. */
  private replace(namespace: string, name: string, why: string): void {
    const pod = this.runtime.pods().find((p) => p.namespace === namespace && p.name === name);
    if (!pod) return;
    this.opts.log?.(`pod ${namespace}/${name}: ${why}`);
    const work = (async (): Promise<void> => {
      await this.runtime.stopPod(namespace, name);
      if (pod.owner?.kind === 'StatefulSet') await this.statefulSets.recreate(namespace, name, pod.owner.name);
      else if (pod.owner?.kind === 'ReplicaSet') await this.deployments.recreate(namespace, name, pod.owner.name);
    })().catch((e: Error) => {
      this.errors.push(e);
      this.opts.log?.(`pod ${namespace}/${name}: recreation failed: ${e.message}`);
    });
    this.background.add(work);
    void work.finally(() => this.background.delete(work));
  }

  /** Resolves when every background stop/recreate has finished. */
  async settled(): Promise<void> {
    while (this.background.size) await Promise.all([...this.background]);
  }

  /** The view of this cluster the API stand-in serves. */
  clusterState(): ClusterState {
    return {
      pods: () => this.runtime.pods(),
      setPodMetadata: (ns: string, name: string, labels: Labels, annotations: Record<string, string>) => this.runtime.setPodMetadata(ns, name, labels, annotations),
      onDeletePod: (ns: string, name: string) => this.replace(ns, name, 'deleted through the API'),
      onEvictPod: (ns: string, name: string) => this.replace(ns, name, 'evicted through the API'),
    };
  }
}
