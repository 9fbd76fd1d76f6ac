/**
 * The Pod Security Standards (Kubernetes 1.28, https://kubernetes.io/docs/concepts/security/pod-security-standards/)
 * as small checks on a pod spec, so a test can state which level each pod meets and fail when a
 * manifest regresses. Only the controls that can appear in a Linux pod spec are checked.
 */
import { containersOf } from './manifests';

export type PssLevel = 'restricted' | 'baseline' | 'privileged';

/** Capabilities baseline allows a container to add. */
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
]);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t']);
const RESTRICTED_VOLUMES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];

/** The controls of `level` this pod spec violates (empty: the pod meets the level). */
export function violations(spec: any, level: 'baseline' | 'restricted', annotations: Record<string, string> = {}): string[] {
  const found: string[] = [];
  const pod = spec.securityContext ?? {};
  const containers = containersOf(spec);
  const each = (check: (c: any, sc: any) => string | undefined) => {
    for (const c of containers) {
      const problem = check(c, c.securityContext ?? {});
      if (problem) found.push(`${c.name}: ${problem}`);
    }
  };

  // Baseline.
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) found.push('host namespaces');
  if (pod.windowsOptions?.hostProcess) found.push('hostProcess');
  for (const v of spec.volumes ?? []) if (v.hostPath) found.push(`hostPath volume ${v.name}`);
  each((_c, sc) => (sc.privileged ? 'privileged' : undefined));
  each((_c, sc) => {
    const extra = (sc.capabilities?.add ?? []).filter((cap: string) => !BASELINE_CAPABILITIES.has(cap));
    return extra.length ? `adds capabilities ${extra.join(', ')}` : undefined;
  });
  each((c) => ((c.ports ?? []).some((p: any) => p.hostPort) ? 'hostPort' : undefined));
  for (const [key, value] of Object.entries(annotations)) {
    if (key.startsWith('container.apparmor.security.beta.kubernetes.io/') && value !== 'runtime/default' && !value.startsWith('localhost/')) {
      found.push(`AppArmor ${value}`);
    }
  }
  const seLinuxBad = (o: any) => o && (!SELINUX_TYPES.has(o.type ?? '') || o.user || o.role);
  if (seLinuxBad(pod.seLinuxOptions)) found.push('pod SELinux options');
  each((_c, sc) => (seLinuxBad(sc.seLinuxOptions) ? 'SELinux options' : undefined));
  each((_c, sc) => (sc.procMount && sc.procMount !== 'Default' ? `procMount ${sc.procMount}` : undefined));
  if (pod.seccompProfile?.type === 'Unconfined') found.push('pod seccomp Unconfined');
  each((_c, sc) => (sc.seccompProfile?.type === 'Unconfined' ? 'seccomp Unconfined' : undefined));
  for (const s of pod.sysctls ?? []) if (!SAFE_SYSCTLS.has(s.name)) found.push(`unsafe sysctl ${s.name}`);
  if (level === 'baseline') return found;

  // Restricted.
  for (const v of spec.volumes ?? []) {
    if (!RESTRICTED_VOLUMES.some((type) => v[type] !== undefined)) found.push(`volume ${v.name} of a type restricted forbids`);
  }
  each((_c, sc) => (sc.allowPrivilegeEscalation === false ? undefined : 'allowPrivilegeEscalation is not false'));
  each((_c, sc) => {
    const nonRoot = sc.runAsNonRoot ?? pod.runAsNonRoot;
    return nonRoot === true ? undefined : 'runAsNonRoot is not true';
  });
  if (pod.runAsUser === 0) found.push('pod runAsUser 0');
  each((_c, sc) => (sc.runAsUser === 0 ? 'runAsUser 0' : undefined));
  each((_c, sc) => {
    const type = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
    return type === 'RuntimeDefault' || type === 'Localhost' ? undefined : 'seccomp profile not RuntimeDefault or Localhost';
  });
  each((_c, sc) => ((sc.capabilities?.drop ?? []).includes('ALL') ? undefined : 'capabilities not dropped (ALL)'));
  each((_c, sc) => {
    const extra = (sc.capabilities?.add ?? []).filter((cap: string) => cap !== 'NET_BIND_SERVICE');
    return extra.length ? `adds capabilities ${extra.join(', ')}` : undefined;
  });
  return found;
}

/** The strictest level this pod spec meets. */
export function podSecurityLevel(spec: any, annotations: Record<string, string> = {}): PssLevel {
  if (violations(spec, 'restricted', annotations).length === 0) return 'restricted';
  if (violations(spec, 'baseline', annotations).length === 0) return 'baseline';
  return 'privileged';
}
