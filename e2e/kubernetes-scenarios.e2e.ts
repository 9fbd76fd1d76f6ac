/*
 * The scenarios (routing, one replica down, etcd member down, etcd quorum loss, etcd security,
 * monitoring) on the real Kubernetes bed, with the committed dist/
 * (e2e/lib/kubernetes/scenario-suite.ts has the tests; e2e/kubernetes-other-configuration.e2e.ts
 * runs them on the other configuration).
 * Its own bed: block offset 1 (e2e/kubernetes.e2e.ts uses 0), so the two files can run side by side.
 */
import { bedBlock, distUnderTest } from './lib/kubernetes/bed-options';
import { KubernetesCluster } from './lib/kubernetes/cluster';
import { KUBERNETES_VERSION } from './lib/kubernetes/components';
import { kubernetesScenarios, scenarioBed } from './lib/kubernetes/scenario-suite';

const bed = scenarioBed(new KubernetesCluster({ block: bedBlock(1), nodes: 3 }), distUnderTest());

describe(`the scenarios on Kubernetes ${KUBERNETES_VERSION} (3 nodes, dist/ synced like Argo CD)`, () => {
  kubernetesScenarios(bed);
});
