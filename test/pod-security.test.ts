/**
 * Pod Security Standards: which level each pod meets, computed by test/support/pod-security.ts
 * from the synthesized pod specs (the README's table states the same).
 */
import { containersOf, named, podOf, synth, workloadPods } from './support/manifests';
import { podSecurityLevel, violations } from './support/pod-security';

const LEVELS = {
  dcs: 'restricted', // etcd: distroless, uid 65532, writes only its volume
  database: 'baseline', // Spilo: root at start, writable root filesystem, setuid cron (see README)
  router: 'restricted', // HAProxy as uid 99 on ports >= 1024
  init: 'restricted', // postgres:17-alpine as uid 70
  secrets: 'restricted', // the Spilo image's python3 as nobody
  rollout: 'restricted', // the Spilo image's python3 as nobody
} as const;

describe('Pod Security Standards level of each pod', () => {
  const manifests = synth();

  test.each(Object.entries(LEVELS))('%s pod meets %s', (component, level) => {
    const pod = podOf(manifests, component);
    expect(podSecurityLevel(pod.template.spec, pod.template.metadata.annotations)).toBe(level);
  });

  test('every pod of the chart is listed (a new pod needs a stated level)', () => {
    const components = workloadPods(manifests).map((p) => p.template.metadata.labels['app.kubernetes.io/component']).sort();
    expect(components).toEqual(Object.keys(LEVELS).sort());
  });

  test('Spilo misses "restricted" only for what its start-up needs', () => {
    const spilo = podOf(manifests, 'database').template.spec;
    // root at start (launch.sh), setuid for cron backups, default capabilities (chown, setuid...)
    expect(violations(spilo, 'restricted').sort()).toEqual([
      'postgres: allowPrivilegeEscalation is not false',
      'postgres: capabilities not dropped (ALL)',
      'postgres: runAsNonRoot is not true',
    ]);
  });

  test('the checker downgrades a pod that regresses', () => {
    const etcd = podOf(synth(), 'dcs').template.spec;
    // GIVEN etcd without its seccomp profiles (pod and container) THEN it is only baseline
    const noSeccomp = {
      ...etcd,
      securityContext: { ...etcd.securityContext, seccompProfile: undefined },
      containers: etcd.containers.map((c: any) => ({ ...c, securityContext: { ...c.securityContext, seccompProfile: undefined } })),
    };
    expect(podSecurityLevel(noSeccomp)).toBe('baseline');
    // GIVEN a container that may escalate THEN it is only baseline
    const escalating = { ...etcd, containers: etcd.containers.map((c: any) => ({ ...c, securityContext: { ...c.securityContext, allowPrivilegeEscalation: true } })) };
    expect(podSecurityLevel(escalating)).toBe('baseline');
    // GIVEN host networking or an added SYS_ADMIN THEN it is privileged
    expect(podSecurityLevel({ ...etcd, hostNetwork: true })).toBe('privileged');
    const sysAdmin = { ...etcd, containers: etcd.containers.map((c: any) => ({ ...c, securityContext: { ...c.securityContext, capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] } } })) };
    expect(podSecurityLevel(sysAdmin)).toBe('privileged');
  });

  test('the Namespace enforces baseline and audits restricted', () => {
    const ns = named(manifests, 'Namespace', 'pg-ha');
    expect(ns.metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'baseline',
      'pod-security.kubernetes.io/audit': 'restricted',
    });
  });
});

describe('security contexts', () => {
  const manifests = synth();

  test('every container but Spilo has a read-only root filesystem, drops ALL and cannot escalate', () => {
    for (const pod of workloadPods(manifests)) {
      for (const c of containersOf(pod.template.spec)) {
        if (pod.template.metadata.labels['app.kubernetes.io/component'] === 'database' && c.name === 'postgres') continue;
        expect({ pod: pod.workload, container: c.name, sc: c.securityContext }).toMatchObject({
          sc: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        });
      }
    }
  });

  test('Spilo: explicit root-compatible context, never privileged, NET_RAW dropped, seccomp on the pod', () => {
    const spec = podOf(manifests, 'database').template.spec;
    const postgres = spec.containers.find((c: any) => c.name === 'postgres');
    // launch.sh writes /etc/passwd and /run, and cron backups need setuid: say so instead of inheriting defaults
    expect(postgres.securityContext).toEqual({
      privileged: false, allowPrivilegeEscalation: true, readOnlyRootFilesystem: false, capabilities: { drop: ['NET_RAW'] },
    });
    expect(spec.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
  });

  test('etcd runs as a numeric non-root user with fsGroup, so its volume is writable', () => {
    const spec = podOf(manifests, 'dcs').template.spec;
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 });
  });

  test('HAProxy runs as uid 99 (the image names its user, so runAsNonRoot needs the number)', () => {
    expect(podOf(manifests, 'router').template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 99 });
  });
});

describe('ServiceAccounts and API tokens', () => {
  const manifests = synth();

  test('each component runs under its own ServiceAccount, none of which mounts a token by default', () => {
    const accounts = workloadPods(manifests).map((p) => p.template.spec.serviceAccountName);
    expect(accounts.every((a) => typeof a === 'string' && a !== 'default')).toBe(true);
    expect(new Set(accounts).size).toBe(accounts.length);
    for (const name of accounts) {
      expect(named(manifests, 'ServiceAccount', name).automountServiceAccountToken).toBe(false);
    }
  });

  test('only the secrets and rollout Jobs (one container each) automount a token; Spilo gets one in the postgres container only', () => {
    for (const pod of workloadPods(manifests)) {
      const component = pod.template.metadata.labels['app.kubernetes.io/component'];
      expect({ component, automount: pod.template.spec.automountServiceAccountToken }).toEqual({ component, automount: ['secrets', 'rollout'].includes(component) });
    }
    // The role callback (python3 /scripts/callback_role.py) PATCHes the pod's label; the exporter never calls the API.
    const spilo = podOf(manifests, 'database').template.spec;
    const mounts = (name: string) => spilo.containers.find((c: any) => c.name === name).volumeMounts ?? [];
    expect(mounts('postgres')).toContainEqual({ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });
    expect(mounts('exporter').some((m: any) => m.name === 'kube-api-access')).toBe(false);
    const volume = spilo.volumes.find((v: any) => v.name === 'kube-api-access');
    expect(volume.projected.sources.map((s: any) => Object.keys(s)[0])).toEqual(['serviceAccountToken', 'configMap', 'downwardAPI']);
  });
});
