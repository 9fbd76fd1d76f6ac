/*
 * Where the bed's programs are: the Kubernetes components (one binary built from Kubernetes' Go
 * modules by scripts/e2e-install.sh, e2e/kubernetes/), containerd, runc and the CNI plugins from
 * Debian's packages, the control plane's etcd from the Debian 13 root.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const E2E_CACHE = process.env.PG_HA_E2E_CACHE ?? '/var/cache/pg-ha-e2e';

/** the multi-call binary: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl */
export const KUBERNETES_BINARY = path.join(E2E_CACHE, 'bin', 'kubernetes');

/** the Kubernetes version the install builds (e2e/kubernetes/go.mod); the bed refuses another */
export const KUBERNETES_VERSION = 'v1.34.4';

export const CNI_BIN_DIR = '/usr/lib/cni';

export type Component = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubelet' | 'kube-proxy' | 'kubectl';

/** Throws unless the install built the components and Debian's node packages are present. */
export function checkComponents(): void {
  if (!fs.existsSync(KUBERNETES_BINARY)) throw new Error(`no Kubernetes components at ${KUBERNETES_BINARY}: run \`bash scripts/e2e-install.sh\` as root`);
  const v = spawnSync(KUBERNETES_BINARY, ['kubelet', '--version'], { encoding: 'utf8' }).stdout.trim();
  if (v !== `Kubernetes ${KUBERNETES_VERSION}`) throw new Error(`${KUBERNETES_BINARY} is "${v}", the bed needs ${KUBERNETES_VERSION}: run \`bash scripts/e2e-install.sh\``);
  for (const p of ['/usr/bin/containerd', '/usr/sbin/runc', path.join(CNI_BIN_DIR, 'bridge'), '/usr/sbin/iptables']) {
    if (!fs.existsSync(p)) throw new Error(`${p} is missing: run \`bash scripts/e2e-install.sh\` as root (it installs Debian's containerd, runc, containernetworking-plugins, iptables)`);
  }
}
