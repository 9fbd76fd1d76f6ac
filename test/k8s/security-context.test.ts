/**
 * Pod Security Standards: which level each pod meets, computed by test/support/pod-security.ts
 * from the synthesized pod specs (the README's table states the same), and the security context
 * each image needs. What every container must have is in test/cross-cutting/workloads.test.ts.
 */
import { container } from '../support/manifests';
import { podSecurityLevel } from '../support/pod-security';
import { synth } from '../support/synth';

const LEVELS = {
  dcs: 'restricted', // etcd: distroless, uid 65532, writes only its volume
  database: 'restricted', // Spilo as its image's postgres user 101:103; cron through Spilo's cron_unprivileged.so
  router: 'restricted', // HAProxy as uid 99 on ports >= 1024
  init: 'restricted', // postgres:17-alpine as uid 70
  secrets: 'restricted', // the Spilo image's python3 as nobody
  converge: 'restricted', // the Spilo image's python3 and postgres as its postgres user (101)
  rollout: 'restricted', // the Spilo image's python3 as nobody
  'etcd-access': 'restricted', // the Spilo image's python3 as its postgres user (101)
} as const;

describe('Pod Security Standards level of each pod', () => {
  const s = synth();

  test.each(Object.entries(LEVELS))('%s pod meets %s', (component, level) => {
    const pod = s.workload(component);
    expect(podSecurityLevel(pod.podSpec, pod.template.metadata.annotations)).toBe(level);
  });

  test('every pod of the chart is listed (a new pod needs a stated level)', () => {
    expect(s.workloads().map((w) => w.component).sort()).toEqual(Object.keys(LEVELS).sort());
  });

  test('the checker downgrades a pod that regresses', () => {
    const etcd = s.workload('dcs').podSpec;
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

  test('the Namespace enforces restricted (and warns on apply)', () => {
    const ns = s.get('Namespace', 'pg-ha');
    expect(ns.metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
    });
  });
});

describe('the security context each image needs', () => {
  const s = synth();

  test('Spilo runs as its image\'s postgres user (101:103); fsGroup OnRootMismatch keeps volumes a root-run Spilo made', () => {
    const spec = s.workload('database').podSpec;
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true, runAsUser: 101, runAsGroup: 103, fsGroup: 103, fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' },
    });
    const postgres = spec.containers.find((c: any) => c.name === 'postgres');
    // launch.sh writes /run and /etc/passwd (group-writable in the image): the root filesystem stays writable
    expect(postgres.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: false, capabilities: { drop: ['ALL'] } });
  });

  test('etcd runs as a numeric non-root user with fsGroup, so its volume is writable', () => {
    const spec = s.workload('dcs').podSpec;
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 });
  });

  test('HAProxy runs as uid 99 (the image names its user, so runAsNonRoot needs the number) and binds unprivileged ports only', () => {
    const router = s.workload('router');
    expect(router.podSpec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 99 });
    const haproxy = container(router, 'haproxy');
    expect(haproxy.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 99 });
    for (const port of haproxy.ports) expect(port.containerPort).toBeGreaterThanOrEqual(1024);
  });
});
