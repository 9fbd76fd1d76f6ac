/*
 * The control plane, on the host's LAN address: its own etcd (Debian 13's, from the e2e root),
 * kube-apiserver (Node and RBAC authorization, the default admission plugins: PodSecurity,
 * ServiceAccount, NamespaceLifecycle, DefaultStorageClass, PersistentVolumeClaimResize, ... plus
 * NodeRestriction), kube-controller-manager (every controller, each with its own ServiceAccount)
 * and kube-scheduler. All processes of the Supervisor "pod" `control-plane`.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { DebianRoot } from '../debian-root';
import { log } from '../log';
import { Supervisor } from '../process-supervisor';
import type { BedAddresses } from './bed-network';
import { KUBERNETES_BINARY } from './components';
import type { BedPki } from './pki';

export const API_PORT = 6443;
const ETCD_CLIENT_PORT = 2379;
const ETCD_PEER_PORT = 2380;
const GROUP = 'control-plane';

export class ControlPlane {
  readonly server: string;

  constructor(
    private readonly addresses: BedAddresses,
    private readonly pki: BedPki,
    private readonly supervisor: Supervisor,
    private readonly root: DebianRoot,
    private readonly clusterDomain: string,
    private readonly stateDir: string,
  ) {
    this.server = `https://${addresses.host}:${API_PORT}`;
  }

  get logDir(): string {
    return path.join(this.stateDir, 'control-plane', 'log');
  }

  /**
   * The API server's audit log (JSON lines): who did what to Secrets (metadata only: user, verb,
   * object, response code; never a Secret's data), as a cluster's audit trail would show it.
   */
  get auditLog(): string {
    return path.join(this.logDir, 'audit.log');
  }

  private writeAuditPolicy(): string {
    const file = path.join(this.stateDir, 'control-plane', 'audit-policy.yaml');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, [
      'apiVersion: audit.k8s.io/v1',
      'kind: Policy',
      'omitStages: [RequestReceived]',
      'rules:',
      '- {level: Metadata, resources: [{group: "", resources: [secrets]}]}',
      '- {level: None}',
      '',
    ].join('\n'));
    return file;
  }

  private start(name: string, cmd: string, args: string[], root?: string): void {
    this.supervisor.start(name, GROUP, cmd, args, {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' },
      logFile: path.join(this.logDir, `${name}.log`),
      root,
    });
  }

  startEtcd(): void {
    // inside the root, the same path names the same directory (DebianRoot.ensureSamePaths)
    const data = path.join(this.root.path, 'tmp', `pgha-bed-${this.addresses.block}-etcd`);
    fs.rmSync(data, { recursive: true, force: true });
    fs.mkdirSync(data, { recursive: true, mode: 0o700 });
    const a = this.addresses.host;
    this.start('etcd', '/usr/bin/etcd', [
      '--name=control-plane',
      `--data-dir=${data}`,
      `--listen-client-urls=http://${a}:${ETCD_CLIENT_PORT}`,
      `--advertise-client-urls=http://${a}:${ETCD_CLIENT_PORT}`,
      `--listen-peer-urls=http://${a}:${ETCD_PEER_PORT}`,
      `--initial-advertise-peer-urls=http://${a}:${ETCD_PEER_PORT}`,
      `--initial-cluster=control-plane=http://${a}:${ETCD_PEER_PORT}`,
      '--unsafe-no-fsync',
    ], this.root.path);
  }

  startApiServer(): void {
    const api = this.pki.cert('kube-apiserver');
    const kubeletClient = this.pki.cert('kube-apiserver-kubelet-client');
    this.start('kube-apiserver', KUBERNETES_BINARY, [
      'kube-apiserver',
      `--etcd-servers=http://${this.addresses.host}:${ETCD_CLIENT_PORT}`,
      `--bind-address=${this.addresses.host}`,
      `--advertise-address=${this.addresses.host}`,
      `--secure-port=${API_PORT}`,
      `--tls-cert-file=${api.cert}`,
      `--tls-private-key-file=${api.key}`,
      `--client-ca-file=${this.pki.caCert}`,
      `--kubelet-client-certificate=${kubeletClient.cert}`,
      `--kubelet-client-key=${kubeletClient.key}`,
      `--kubelet-certificate-authority=${this.pki.caCert}`,
      // nodes have no DNS names: logs, exec and port-forward reach a kubelet at its InternalIP
      '--kubelet-preferred-address-types=InternalIP',
      `--service-account-issuer=https://kubernetes.default.svc.${this.clusterDomain}`,
      `--service-account-key-file=${this.pki.file('service-accounts.pub')}`,
      `--service-account-signing-key-file=${this.pki.file('service-accounts.key')}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      `--service-cluster-ip-range=${this.addresses.serviceCidr}`,
      '--allow-privileged=false',
      `--audit-policy-file=${this.writeAuditPolicy()}`,
      `--audit-log-path=${this.auditLog}`,
      '--profiling=false',
      '--v=1',
    ]);
  }

  startControllers(): void {
    const kubeconfig = this.pki.file('kube-controller-manager.kubeconfig');
    this.start('kube-controller-manager', KUBERNETES_BINARY, [
      'kube-controller-manager',
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      `--bind-address=${this.addresses.host}`,
      `--service-account-private-key-file=${this.pki.file('service-accounts.key')}`,
      `--root-ca-file=${this.pki.caCert}`,
      `--cluster-signing-cert-file=${this.pki.caCert}`,
      `--cluster-signing-key-file=${this.pki.file('ca.key')}`,
      `--service-cluster-ip-range=${this.addresses.serviceCidr}`,
      '--use-service-account-credentials',
      "--controllers=*",
      '--leader-elect=false',
      // a lost node's pods are marked for deletion after their tolerations (300 s by default); the
      // node is declared unreachable after 20 s without a status (Kubernetes' default is 40 s)
      '--node-monitor-grace-period=20s',
      '--v=1',
    ]);
    const schedulerConfig = this.pki.file('kube-scheduler.kubeconfig');
    this.start('kube-scheduler', KUBERNETES_BINARY, [
      'kube-scheduler',
      `--kubeconfig=${schedulerConfig}`,
      `--authentication-kubeconfig=${schedulerConfig}`,
      `--authorization-kubeconfig=${schedulerConfig}`,
      `--bind-address=${this.addresses.host}`,
      '--leader-elect=false',
      '--v=1',
    ]);
    log(`control plane: API server ${this.server}, etcd and the controllers on ${this.addresses.host}`);
  }
}
