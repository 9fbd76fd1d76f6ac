/**
 * Policy checks across every workload, in every tested configuration and in the committed dist/.
 * Each check says why it matters; the PodDisruptionBudget and security-context checks live in their
 * own files (policy-pdb.test.ts, policy-security-context.test.ts).
 */
import { checkImage } from '../lib';
import { CONFIGURATIONS, synthObjects } from './support/configurations';
import { LONG_RUNNING_KINDS, matches, probePort, probes, workloads } from './support/workloads';

// The synthesized configurations, not the committed dist/: dist/ is the default configuration once
// regenerated, and a stale dist/ on a feature branch must not hide what the code produces.
const SETS: Array<[string, any[]]> = Object.entries(CONFIGURATIONS)
  .map(([name, settings]): [string, any[]] => [`${name} configuration`, synthObjects(settings)]);

const STANDARD_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component', 'app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by'];

describe.each(SETS)('policy: %s', (_, objects) => {
  const all = workloads(objects);

  test('every image is pinned to a tag or digest other than latest (a moving tag changes the cluster without a commit)', () => {
    const bad = all.flatMap((w) => w.containers
      .filter((c) => { try { checkImage('image', c.image); return false; } catch { return true; } })
      .map((c) => `${w.kind}/${w.name} ${c.name}: ${c.image}`));
    expect(bad).toEqual([]);
  });

  test('every long-running container has readiness and liveness probes (traffic and restarts follow real health)', () => {
    const missing = all.filter((w) => LONG_RUNNING_KINDS.includes(w.kind)).flatMap((w) => w.podSpec.containers
      .filter((c: any) => !c.readinessProbe || !c.livenessProbe)
      .map((c: any) => `${w.kind}/${w.name} ${c.name}`));
    expect(missing).toEqual([]);
  });

  test('every container requests CPU and memory and has a memory limit (scheduling, and no node-wide OOM)', () => {
    const missing = all.flatMap((w) => w.containers
      .filter((c) => !c.resources?.requests?.cpu || !c.resources?.requests?.memory || !c.resources?.limits?.memory)
      .map((c) => `${w.kind}/${w.name} ${c.name}`));
    expect(missing).toEqual([]);
  });

  test('every workload, pod template and Service carries the standard app.kubernetes.io labels (selection, ownership, dashboards)', () => {
    const missing = [
      ...all.map((w) => [`${w.kind}/${w.name}`, w.object.metadata.labels ?? {}] as const),
      ...all.map((w) => [`${w.kind}/${w.name} pod template`, w.podLabels] as const),
      ...objects.filter((o) => o.kind === 'Service').map((o) => [`Service/${o.metadata.name}`, o.metadata.labels ?? {}] as const),
    ].flatMap(([what, labels]) => STANDARD_LABELS.filter((l) => !labels[l]).map((l) => `${what}: ${l}`));
    expect(missing).toEqual([]);
    // Workloads say which version they run.
    expect(all.filter((w) => !w.object.metadata.labels['app.kubernetes.io/version']).map((w) => w.name)).toEqual([]);
  });

  test('every other object says which instance it belongs to (`kubectl get ... -l app.kubernetes.io/instance=pg-ha` finds it)', () => {
    // The Namespace is exempt: it may be shared with other applications.
    const missing = objects.filter((o) => o.kind !== 'Namespace')
      .flatMap((o) => ['app.kubernetes.io/instance', 'app.kubernetes.io/part-of']
        .filter((l) => !o.metadata.labels?.[l]).map((l) => `${o.kind}/${o.metadata.name}: ${l}`));
    expect(missing).toEqual([]);
  });

  test('every Service selects the pods of a workload that exists (a selector typo gives a Service with no endpoints)', () => {
    const services = objects.filter((o) => o.kind === 'Service');
    expect(services.length).toBeGreaterThan(0);
    const orphans = services
      .filter((s) => !s.spec.selector || !all.some((w) => w.namespace === s.metadata.namespace && matches(s.spec.selector, w.podLabels)))
      .map((s) => s.metadata.name);
    expect(orphans).toEqual([]);
  });

  test('every Service port targets a port the selected containers declare', () => {
    const problems = objects.filter((o) => o.kind === 'Service').flatMap((s) => {
      const pods = all.filter((w) => matches(s.spec.selector ?? {}, w.podLabels));
      return (s.spec.ports ?? []).flatMap((p: any) => {
        const target = p.targetPort ?? p.port;
        return pods.filter((w) => !w.podSpec.containers.some((c: any) => (c.ports ?? []).some((cp: any) => cp.name === target || cp.containerPort === target)))
          .map((w) => `Service ${s.metadata.name} port ${p.name ?? p.port} -> ${target}: not declared by ${w.kind}/${w.name}`);
      });
    });
    expect(problems).toEqual([]);
  });

  test('every probe targets a port its own container declares (a named port elsewhere fails the probe)', () => {
    const problems = all.flatMap((w) => w.containers.flatMap((c) => probes(c).flatMap(([kind, probe]) => {
      const port = probePort(probe);
      if (port === undefined) return [];
      const declared = (c.ports ?? []).some((cp: any) => cp.name === port || cp.containerPort === port);
      return declared ? [] : [`${w.kind}/${w.name} ${c.name} ${kind} -> ${port}`];
    })));
    expect(problems).toEqual([]);
  });

  test('container port names and numbers are unique within a pod', () => {
    const problems = all.flatMap((w) => {
      const ports = w.podSpec.containers.flatMap((c: any) => c.ports ?? []);
      const names = ports.map((p: any) => p.name).filter(Boolean);
      const numbers = ports.map((p: any) => `${p.containerPort}/${p.protocol ?? 'TCP'}`);
      const dup = (xs: string[]) => xs.filter((x, i) => xs.indexOf(x) !== i);
      return [...dup(names), ...dup(numbers)].map((d) => `${w.kind}/${w.name}: ${d}`);
    });
    expect(problems).toEqual([]);
  });

  test('every Ingress, IngressRoute and PodMonitor points at a port that exists', () => {
    const services = objects.filter((o) => o.kind === 'Service');
    const servicePort = (name: string, port: string | number) => services.some((s) => s.metadata.name === name
      && s.spec.ports.some((p: any) => p.name === port || p.port === port));
    const problems = [
      ...objects.filter((o) => o.kind === 'Ingress').flatMap((i) => i.spec.rules.flatMap((r: any) => r.http.paths
        .map((p: any) => p.backend.service)
        .filter((b: any) => !servicePort(b.name, b.port.name ?? b.port.number))
        .map((b: any) => `Ingress ${i.metadata.name} -> ${b.name}:${b.port.name ?? b.port.number}`))),
      ...objects.filter((o) => o.kind === 'IngressRoute').flatMap((i) => i.spec.routes.flatMap((r: any) => r.services
        .filter((b: any) => !servicePort(b.name, b.port))
        .map((b: any) => `IngressRoute ${i.metadata.name} -> ${b.name}:${b.port}`))),
      ...objects.filter((o) => o.kind === 'PodMonitor').flatMap((m) => {
        const pods = all.filter((w) => matches(m.spec.selector.matchLabels, w.podLabels));
        if (pods.length === 0) return [`PodMonitor ${m.metadata.name} selects no pods`];
        return m.spec.podMetricsEndpoints.flatMap((e: any) => pods
          .filter((w) => !w.podSpec.containers.some((c: any) => (c.ports ?? []).some((cp: any) => cp.name === e.port)))
          .map((w) => `PodMonitor ${m.metadata.name} port ${e.port} not on ${w.name}`));
      }),
    ];
    expect(problems).toEqual([]);
  });
});
