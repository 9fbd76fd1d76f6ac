/**
 * The Pod Security checker (test/support/pod-security.ts) against pods written for it: a pod that
 * meets "restricted", and for every control one or more pods that break exactly that control.
 * Why: the chart's pods are judged by this checker (test/k8s/pod-security-levels.test.ts); a rule
 * that cannot fail would let a regression through.
 */
import { podSecurityLevel, POD_SECURITY_RULES, violations } from './pod-security';

/** A pod that meets "restricted": non-root, seccomp RuntimeDefault, ALL dropped, no escalation. */
const compliant = () => ({
  spec: {
    securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    initContainers: [{ name: 'setup', image: 'x', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 8080 }], securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }, { name: 'tmp', emptyDir: {} }],
  } as any,
  annotations: {} as Record<string, string>,
});
type Pod = ReturnType<typeof compliant>;
const app = (pod: Pod) => pod.spec.containers[0];

/** For each control, pods that break it (and only it). */
const BREAKING: Record<string, Array<[string, (pod: Pod) => void]>> = {
  'HostProcess': [
    ['pod windowsOptions.hostProcess', (p) => { p.spec.securityContext.windowsOptions = { hostProcess: true }; }],
    ['container windowsOptions.hostProcess', (p) => { app(p).securityContext.windowsOptions = { hostProcess: true }; }],
  ],
  'Host Namespaces': [
    ['hostNetwork', (p) => { p.spec.hostNetwork = true; }],
    ['hostPID', (p) => { p.spec.hostPID = true; }],
    ['hostIPC', (p) => { p.spec.hostIPC = true; }],
  ],
  'Privileged Containers': [
    ['privileged app container', (p) => { app(p).securityContext.privileged = true; }],
    ['privileged init container', (p) => { p.spec.initContainers[0].securityContext.privileged = true; }],
    ['privileged ephemeral container', (p) => {
      p.spec.ephemeralContainers = [{ name: 'debug', image: 'x', securityContext: { privileged: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }];
    }],
  ],
  'Capabilities (baseline)': [
    // Beyond baseline's list, so also beyond restricted's NET_BIND_SERVICE.
    ['adds SYS_ADMIN', (p) => { app(p).securityContext.capabilities.add = ['SYS_ADMIN']; }],
  ],
  'HostPath Volumes': [
    ['a hostPath volume', (p) => { p.spec.volumes.push({ name: 'host', hostPath: { path: '/' } }); }],
  ],
  'Host Ports': [
    ['hostPort 80', (p) => { app(p).ports[0].hostPort = 80; }],
  ],
  'AppArmor': [
    ['unconfined profile', (p) => { p.annotations['container.apparmor.security.beta.kubernetes.io/app'] = 'unconfined'; }],
  ],
  'SELinux': [
    ['pod type spc_t', (p) => { p.spec.securityContext.seLinuxOptions = { type: 'spc_t' }; }],
    ['container user', (p) => { app(p).securityContext.seLinuxOptions = { user: 'system_u' }; }],
    ['container role', (p) => { app(p).securityContext.seLinuxOptions = { role: 'sysadm_r' }; }],
  ],
  '/proc Mount Type': [
    ['procMount Unmasked', (p) => { app(p).securityContext.procMount = 'Unmasked'; }],
  ],
  'Seccomp (baseline)': [
    // Unconfined is also not RuntimeDefault: restricted's seccomp rule fires too (checked below).
    ['container Unconfined', (p) => { app(p).securityContext.seccompProfile = { type: 'Unconfined' }; }],
  ],
  'Sysctls': [
    ['kernel.msgmax', (p) => { p.spec.securityContext.sysctls = [{ name: 'kernel.msgmax', value: '65536' }]; }],
    // Allowed only from 1.29 on; the Namespace pins 1.28.
    ['net.ipv4.tcp_keepalive_time', (p) => { p.spec.securityContext.sysctls = [{ name: 'net.ipv4.tcp_keepalive_time', value: '60' }]; }],
  ],
  'Volume Types': [
    ['an nfs volume', (p) => { p.spec.volumes.push({ name: 'share', nfs: { server: 'nfs', path: '/' } }); }],
    ['a gitRepo volume', (p) => { p.spec.volumes.push({ name: 'src', gitRepo: { repository: 'x' } }); }],
  ],
  'Privilege Escalation': [
    ['allowPrivilegeEscalation true', (p) => { app(p).securityContext.allowPrivilegeEscalation = true; }],
    ['allowPrivilegeEscalation unset on the init container', (p) => { delete p.spec.initContainers[0].securityContext.allowPrivilegeEscalation; }],
  ],
  'Running as Non-root': [
    ['runAsNonRoot unset on the pod', (p) => { delete p.spec.securityContext.runAsNonRoot; }],
    ['runAsNonRoot false on a container', (p) => { app(p).securityContext.runAsNonRoot = false; }],
  ],
  'Running as Non-root user': [
    ['pod runAsUser 0', (p) => { p.spec.securityContext.runAsUser = 0; }],
    ['container runAsUser 0', (p) => { app(p).securityContext.runAsUser = 0; }],
  ],
  'Seccomp (restricted)': [
    ['no profile anywhere', (p) => { delete p.spec.securityContext.seccompProfile; }],
  ],
  'Capabilities (restricted)': [
    ['ALL not dropped', (p) => { app(p).securityContext.capabilities = { drop: ['NET_RAW'] }; }],
    // Within baseline's list, beyond restricted's.
    ['adds CHOWN', (p) => { app(p).securityContext.capabilities.add = ['CHOWN']; }],
  ],
};

/** Rules a case also breaks, by the standards' own overlap. */
const ALSO: Record<string, string[]> = {
  'Capabilities (baseline)': ['Capabilities (restricted)'],
  'Seccomp (baseline)': ['Seccomp (restricted)'],
  'HostPath Volumes': ['Volume Types'],
};

const controlsBroken = (pod: Pod) => [...new Set(violations(pod.spec, 'restricted', pod.annotations).map((v) => v.split(':')[0]))].sort();

describe('Pod Security checker: the restricted and baseline rules of Kubernetes 1.28', () => {
  test('a pod written to the restricted profile meets it', () => {
    const pod = compliant();
    expect(violations(pod.spec, 'restricted', pod.annotations)).toEqual([]);
    expect(podSecurityLevel(pod.spec, pod.annotations)).toBe('restricted');
  });

  test('every rule has at least one pod that breaks it', () => {
    expect(Object.keys(BREAKING).sort()).toEqual(POD_SECURITY_RULES.map((r) => r.control).sort());
  });

  const cases = Object.entries(BREAKING).flatMap(([control, breakers]) => breakers.map(([what, breakIt]): [string, string, (p: Pod) => void] => [control, what, breakIt]));
  test.each(cases)('%s: %s breaks it, and only it', (control, _what, breakIt) => {
    const pod = compliant();
    breakIt(pod);
    expect(controlsBroken(pod)).toEqual([control, ...(ALSO[control] ?? [])].sort());
    const rule = POD_SECURITY_RULES.find((r) => r.control === control)!;
    // A baseline control makes the pod "privileged"; a restricted one leaves it at "baseline".
    expect(podSecurityLevel(pod.spec, pod.annotations)).toBe(rule.level === 'baseline' ? 'privileged' : 'baseline');
  });

  test('allowed values of the same fields pass', () => {
    const pod = compliant();
    app(pod).securityContext.capabilities.add = ['NET_BIND_SERVICE'];
    app(pod).securityContext.seccompProfile = { type: 'Localhost', localhostProfile: 'p.json' };
    app(pod).securityContext.seLinuxOptions = { type: 'container_t', level: 's0:c1,c2' };
    app(pod).securityContext.procMount = 'Default';
    pod.spec.securityContext.sysctls = [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }];
    pod.annotations['container.apparmor.security.beta.kubernetes.io/app'] = 'runtime/default';
    pod.spec.volumes.push({ name: 'conf', configMap: { name: 'c' } }, { name: 'token', projected: { sources: [] } });
    expect(violations(pod.spec, 'restricted', pod.annotations)).toEqual([]);
  });
});
