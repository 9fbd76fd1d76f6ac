/*
 * What the API stand-in needs from the test bed. The bed owns the processes (one per container,
 * on its own loopback address); the stand-in owns the API semantics (RBAC, PodDisruptionBudgets,
 * Status bodies). Pods are read live through this interface; changes the API makes to a pod
 * (labels, deletion, eviction) are handed back to the bed through its callbacks.
 */
import { Labels } from './label-selector';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export interface PodOwner {
  kind: 'StatefulSet' | 'ReplicaSet' | 'Job';
  name: string;
}

/** One pod as the bed runs it. */
export interface PodView {
  namespace: string;
  name: string;
  /** New for every start of a pod: a StatefulSet pod recreated under the same name is a new pod. */
  uid: string;
  labels: Labels;
  annotations?: Record<string, string>;
  phase: PodPhase;
  /** The pod's Ready condition (its readiness probes pass). */
  ready: boolean;
  podIP?: string;
  owner?: PodOwner;
  serviceAccountName?: string;
  /** The pod spec it was started from (the template's), served as the pod's `spec`. */
  spec?: Record<string, any>;
  /** ISO time the pod was started. */
  startedAt: string;
}

export interface ClusterState {
  /** Every pod that exists now, in every namespace. */
  pods(): PodView[];
  /** A PATCH/PUT changed the pod's labels or annotations (already validated); the bed records them. */
  setPodMetadata(namespace: string, name: string, labels: Labels, annotations: Record<string, string>): void;
  /** DELETE on the pod was allowed: stop its processes (its controller recreates it, as in a cluster). */
  onDeletePod(namespace: string, name: string): void | Promise<void>;
  /** The Eviction API allowed the eviction (the PodDisruptionBudget had room): same as a delete. */
  onEvictPod(namespace: string, name: string): void | Promise<void>;
}
