/**
 * The Pod Security Standards as Kubernetes 1.28 defines them
 * (https://kubernetes.io/docs/concepts/security/pod-security-standards/, the profile the chart's
 * Namespace enforces with `enforce-version: v1.28`): one rule per control, each a check of a Linux
 * pod spec (plus its annotations, for AppArmor). A rule of the baseline profile is also a rule of
 * restricted. test/support/pod-security.test.ts proves each rule with a pod that breaks it.
 */

export type PssLevel = 'restricted' | 'baseline' | 'privileged';

/** A pod as the rules see it: the spec and the template's annotations. */
export interface PodUnderCheck {
  readonly spec: any;
  readonly annotations?: Record<string, string>;
}

export interface PodSecurityRule {
  /** The control's name in the Pod Security Standards. */
  readonly control: string;
  /** The lowest profile that has the control. */
  readonly level: 'baseline' | 'restricted';
  /** What breaks the rule, one line per offending field (empty: the pod passes). */
  readonly check: (pod: PodUnderCheck) => string[];
}

/** Capabilities baseline allows a container to add. */
const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);
/** The sysctls baseline allows in 1.28 (the four tcp_* keepalive ones arrived in 1.29). */
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports',
]);
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t']);
const RESTRICTED_VOLUME_TYPES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

/** Every container of the pod, init and ephemeral ones included (the standards cover all three). */
export function allContainers(spec: any): any[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
}

/** One line per container for which `problem` returns a text. */
const perContainer = (spec: any, problem: (c: any, sc: any) => string | undefined): string[] => allContainers(spec)
  .map((c) => [c.name, problem(c, c.securityContext ?? {})])
  .filter(([, p]) => p !== undefined)
  .map(([name, p]) => `${name}: ${p}`);

const podContext = (spec: any) => spec.securityContext ?? {};

export const POD_SECURITY_RULES: PodSecurityRule[] = [
  // Baseline.
  {
    control: 'HostProcess',
    level: 'baseline',
    check: ({ spec }) => [
      ...(podContext(spec).windowsOptions?.hostProcess ? ['pod: windowsOptions.hostProcess'] : []),
      ...perContainer(spec, (_c, sc) => (sc.windowsOptions?.hostProcess ? 'windowsOptions.hostProcess' : undefined)),
    ],
  },
  {
    control: 'Host Namespaces',
    level: 'baseline',
    check: ({ spec }) => (['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((f) => spec[f]).map((f) => `pod: ${f}`),
  },
  {
    control: 'Privileged Containers',
    level: 'baseline',
    check: ({ spec }) => perContainer(spec, (_c, sc) => (sc.privileged ? 'privileged' : undefined)),
  },
  {
    control: 'Capabilities (baseline)',
    level: 'baseline',
    check: ({ spec }) => perContainer(spec, (_c, sc) => {
      const extra = (sc.capabilities?.add ?? []).filter((cap: string) => !BASELINE_CAPABILITIES.has(cap));
      return extra.length ? `adds capabilities ${extra.join(', ')}` : undefined;
    }),
  },
  {
    control: 'HostPath Volumes',
    level: 'baseline',
    check: ({ spec }) => (spec.volumes ?? []).filter((v: any) => v.hostPath).map((v: any) => `volume ${v.name}: hostPath`),
  },
  {
    control: 'Host Ports',
    level: 'baseline',
    check: ({ spec }) => perContainer(spec, (c) => ((c.ports ?? []).some((p: any) => p.hostPort) ? 'hostPort' : undefined)),
  },
  {
    control: 'AppArmor',
    level: 'baseline',
    check: ({ annotations }) => Object.entries(annotations ?? {})
      .filter(([key, value]) => key.startsWith(APPARMOR_ANNOTATION) && value !== 'runtime/default' && !value.startsWith('localhost/'))
      .map(([key, value]) => `${key.slice(APPARMOR_ANNOTATION.length)}: AppArmor ${value}`),
  },
  {
    control: 'SELinux',
    level: 'baseline',
    check: ({ spec }) => {
      const bad = (o: any) => {
        if (!o) return undefined;
        if (!SELINUX_TYPES.has(o.type ?? '')) return `SELinux type ${o.type}`;
        if (o.user || o.role) return 'SELinux user or role';
        return undefined;
      };
      const pod = bad(podContext(spec).seLinuxOptions);
      return [...(pod ? [`pod: ${pod}`] : []), ...perContainer(spec, (_c, sc) => bad(sc.seLinuxOptions))];
    },
  },
  {
    control: '/proc Mount Type',
    level: 'baseline',
    check: ({ spec }) => perContainer(spec, (_c, sc) => (sc.procMount !== undefined && sc.procMount !== 'Default' ? `procMount ${sc.procMount}` : undefined)),
  },
  {
    control: 'Seccomp (baseline)',
    level: 'baseline',
    check: ({ spec }) => [
      ...(podContext(spec).seccompProfile?.type === 'Unconfined' ? ['pod: seccomp Unconfined'] : []),
      ...perContainer(spec, (_c, sc) => (sc.seccompProfile?.type === 'Unconfined' ? 'seccomp Unconfined' : undefined)),
    ],
  },
  {
    control: 'Sysctls',
    level: 'baseline',
    check: ({ spec }) => (podContext(spec).sysctls ?? []).filter((s: any) => !SAFE_SYSCTLS.has(s.name)).map((s: any) => `pod: sysctl ${s.name}`),
  },
  // Restricted.
  {
    control: 'Volume Types',
    level: 'restricted',
    check: ({ spec }) => (spec.volumes ?? [])
      .filter((v: any) => !RESTRICTED_VOLUME_TYPES.some((type) => v[type] !== undefined))
      .map((v: any) => `volume ${v.name}: type ${Object.keys(v).filter((k) => k !== 'name').join(', ') || '(none)'}`),
  },
  {
    control: 'Privilege Escalation',
    level: 'restricted',
    check: ({ spec }) => perContainer(spec, (_c, sc) => (sc.allowPrivilegeEscalation === false ? undefined : 'allowPrivilegeEscalation is not false')),
  },
  {
    control: 'Running as Non-root',
    level: 'restricted',
    // The pod's true covers containers that do not say; a container's false always breaks it.
    check: ({ spec }) => perContainer(spec, (_c, sc) => ((sc.runAsNonRoot ?? podContext(spec).runAsNonRoot) === true ? undefined : 'runAsNonRoot is not true')),
  },
  {
    control: 'Running as Non-root user',
    level: 'restricted',
    check: ({ spec }) => [
      ...(podContext(spec).runAsUser === 0 ? ['pod: runAsUser 0'] : []),
      ...perContainer(spec, (_c, sc) => (sc.runAsUser === 0 ? 'runAsUser 0' : undefined)),
    ],
  },
  {
    control: 'Seccomp (restricted)',
    level: 'restricted',
    check: ({ spec }) => perContainer(spec, (_c, sc) => {
      const type = sc.seccompProfile?.type ?? podContext(spec).seccompProfile?.type;
      return type === 'RuntimeDefault' || type === 'Localhost' ? undefined : `seccomp profile ${type ?? '(none)'}, not RuntimeDefault or Localhost`;
    }),
  },
  {
    control: 'Capabilities (restricted)',
    level: 'restricted',
    check: ({ spec }) => perContainer(spec, (_c, sc) => {
      if (!(sc.capabilities?.drop ?? []).includes('ALL')) return 'capabilities: ALL not dropped';
      const extra = (sc.capabilities?.add ?? []).filter((cap: string) => cap !== 'NET_BIND_SERVICE');
      return extra.length ? `adds capabilities ${extra.join(', ')}` : undefined;
    }),
  },
];

/** What in this pod breaks the rules of `level` (empty: the pod meets it). */
export function violations(spec: any, level: 'baseline' | 'restricted', annotations: Record<string, string> = {}): string[] {
  return POD_SECURITY_RULES
    .filter((rule) => level === 'restricted' || rule.level === 'baseline')
    .flatMap((rule) => rule.check({ spec, annotations }).map((problem) => `${rule.control}: ${problem}`));
}

/** The strictest level this pod spec meets. */
export function podSecurityLevel(spec: any, annotations: Record<string, string> = {}): PssLevel {
  if (violations(spec, 'restricted', annotations).length === 0) return 'restricted';
  if (violations(spec, 'baseline', annotations).length === 0) return 'baseline';
  return 'privileged';
}
