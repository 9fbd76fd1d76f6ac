/*
 * What the workload controllers and apply need from the test bed: start a pod from a spec, stop
 * it, see every pod with its Ready state, change a pod's labels, run a Job to completion. The
 * bed implements it with real processes; unit tests with an in-memory runtime (which proves the
 * decisions, not the programs).
 */
import { Labels } from './label-selector';
import { ApiObject } from './object-store';
import { PodOwner, PodView } from './cluster-state';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface PodToStart {
  namespace: string;
  name: string;
  /** The template's labels plus what the controller adds (controller-revision-hash, pod-template-hash, ...). */
  labels: Labels;
  annotations: Record<string, string>;
  owner: PodOwner;
  serviceAccountName?: string;
  /** The pod template's spec as dist/ declares it. */
  spec: Record<string, any>;
}

export interface JobOutcome {
  succeeded: boolean;
  /** The Job's last log lines or the reason it failed. */
  message: string;
  /** The whole log of its last attempt. */
  output?: string;
}

export interface PodRuntime {
  /** Every pod that exists now (Ready as its readiness probes say). */
  pods(): PodView[];
  /** Starts the pod's processes; resolves once started (not necessarily Ready). */
  startPod(pod: PodToStart): Promise<void>;
  /** Stops the pod's processes; resolves once they are gone. */
  stopPod(namespace: string, name: string): Promise<void>;
  setPodMetadata(namespace: string, name: string, labels: Labels, annotations: Record<string, string>): void;
  /** Runs the Job's pod to completion (with the Job's backoffLimit) and says how it ended. */
  runJob(job: ApiObject): Promise<JobOutcome>;
}
