/**
 * Checks every workload of the chart must pass, each written once and run on every configuration of
 * test/support/synth.ts (the default one is what dist/ holds; see dist.test.ts). Component tests say
 * what each pod needs; these say what no pod may lack.
 */
import { checkImage } from '../../lib';
import { declaresPort, describeObject, LONG_RUNNING_KINDS, probePort, probes } from '../support/manifests';
import { synthesizedConfigurations } from '../support/synth';

const STANDARD_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component', 'app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by'];

describe.each(synthesizedConfigurations())('every workload: %s', (_, s) => {
  const all = s.workloads();
  const each = (problem: (c: any, w: (typeof all)[number]) => string | undefined) =>
    all.flatMap((w) => w.containers.map((c) => problem(c, w)).filter((p): p is string => p !== undefined).map((p) => `${w.kind}/${w.name} ${p}`));

  test('every image is pinned to a tag or digest other than latest (a moving tag changes the cluster without a commit)', () => {
    expect(each((c) => { try { checkImage('image', c.image); return undefined; } catch { return `${c.name}: ${c.image}`; } })).toEqual([]);
  });

  test('every container requests exactly CPU and memory and has a memory limit (scheduling, and no node-wide OOM)', () => {
    expect(each((c) => {
      const requests = Object.keys(c.resources?.requests ?? {}).sort().join(',');
      return requests === 'cpu,memory' && typeof c.resources?.limits?.memory === 'string' ? undefined : `${c.name}: requests [${requests}], memory limit ${c.resources?.limits?.memory}`;
    })).toEqual([]);
  });

  test('every namespaced object lands in the configured namespace; the Namespace itself has none (kubectl rejects it)', () => {
    const namespace = s.chart.cluster.namespace;
    expect(s.objects.filter((o) => (o.kind === 'Namespace' ? o.metadata.namespace !== undefined : o.metadata.namespace !== namespace))
      .map((o) => `${describeObject(o)} in ${o.metadata.namespace}`)).toEqual([]);
  });

  test('no Secret is in the manifests: passwords are created in the cluster, never in git', () => {
    expect(s.all('Secret')).toEqual([]);
  });

  test('service links are off (Spilo would parse ETCD3_*-like service variables as DCS settings)', () => {
    expect(all.filter((w) => w.podSpec.enableServiceLinks !== false).map((w) => w.name)).toEqual([]);
  });

  test('no password or private key is a literal env value: every *PASS* and *PRIVATE_KEY* variable comes from a Secret', () => {
    expect(each((c) => {
      const literal = (c.env ?? []).filter((e: any) => /PASS|PRIVATE_KEY/.test(e.name) && (e.value !== undefined || !e.valueFrom?.secretKeyRef));
      return literal.length ? `${c.name}: ${literal.map((e: any) => e.name).join(', ')}` : undefined;
    })).toEqual([]);
  });

  describe('security contexts (Pod Security admission checks exactly these fields; defaults would hide what each image needs)', () => {
    test('every container decides allowPrivilegeEscalation explicitly and is never privileged', () => {
      // true is allowed (Spilo's cron backups need it, see test/k8s); leaving it to defaults is not.
      expect(each((c) => (typeof c.securityContext?.allowPrivilegeEscalation !== 'boolean' || c.securityContext?.privileged === true
        ? c.name : undefined))).toEqual([]);
    });

    test('every container but Spilo\'s has a read-only root filesystem, drops ALL capabilities and cannot escalate', () => {
      expect(each((c, w) => {
        if (w.component === 'database' && c.name === 'postgres') return undefined;
        const sc = c.securityContext ?? {};
        return sc.readOnlyRootFilesystem === true && sc.allowPrivilegeEscalation === false && (sc.capabilities?.drop ?? []).includes('ALL')
          ? undefined : `${c.name}: ${JSON.stringify(sc)}`;
      })).toEqual([]);
    });

    test('every pod or container chooses a seccomp profile', () => {
      expect(each((c, w) => (c.securityContext?.seccompProfile || w.podSpec.securityContext?.seccompProfile ? undefined : c.name))).toEqual([]);
    });
  });

  describe('probes and ports (a probe or Service on a port nobody serves fails only once deployed)', () => {
    test('every long-running container has readiness and liveness probes (traffic and restarts follow real health)', () => {
      const missing = all.filter((w) => LONG_RUNNING_KINDS.includes(w.kind))
        .flatMap((w) => w.podSpec.containers.filter((c: any) => !c.readinessProbe || !c.livenessProbe).map((c: any) => `${w.kind}/${w.name} ${c.name}`));
      expect(missing).toEqual([]);
    });

    test('every probe targets a port its own container declares (a named port of another container fails the probe)', () => {
      expect(each((c) => probes(c).map(([kind, probe]) => [kind, probePort(probe)] as const)
        .filter(([, port]) => port !== undefined && !declaresPort(c, port!))
        .map(([kind, port]) => `${c.name} ${kind} -> ${port}`).join('; ') || undefined)).toEqual([]);
    });

    test('container port names and numbers are unique within a pod', () => {
      const problems = all.flatMap((w) => {
        const ports = w.podSpec.containers.flatMap((c: any) => c.ports ?? []);
        const duplicates = (xs: string[]) => xs.filter((x, i) => xs.indexOf(x) !== i);
        return [...duplicates(ports.map((p: any) => p.name).filter(Boolean)), ...duplicates(ports.map((p: any) => `${p.containerPort}/${p.protocol ?? 'TCP'}`))]
          .map((d) => `${w.kind}/${w.name}: ${d}`);
      });
      expect(problems).toEqual([]);
    });

    test('every Service selects the pods of exactly one workload, and each of its ports targets a port they declare', () => {
      const services = s.all('Service');
      expect(services.length).toBeGreaterThan(0);
      const problems = services.flatMap((svc) => {
        const behind = s.behind(svc);
        // No workload: a Service with no endpoints (a selector typo). Two: traffic split across programs.
        if (behind.length !== 1) return [`Service ${svc.metadata.name} selects ${behind.length} workloads`];
        return (svc.spec.ports ?? []).map((p: any) => p.targetPort ?? p.port)
          .filter((target: string | number) => !behind[0].podSpec.containers.some((c: any) => declaresPort(c, target)))
          .map((target: string | number) => `Service ${svc.metadata.name} -> ${target}: not declared by ${behind[0].kind}/${behind[0].name}`);
      });
      expect(problems).toEqual([]);
    });

    test('every Ingress, IngressRoute and PodMonitor points at a port that exists', () => {
      const servicePort = (name: string, port: string | number) => s.all('Service').some((svc) => svc.metadata.name === name
        && svc.spec.ports.some((p: any) => p.name === port || p.port === port));
      const problems = [
        ...s.all('Ingress').flatMap((i) => i.spec.rules.flatMap((r: any) => r.http.paths.map((p: any) => p.backend.service)
          .filter((b: any) => !servicePort(b.name, b.port.name ?? b.port.number))
          .map((b: any) => `Ingress ${i.metadata.name} -> ${b.name}:${b.port.name ?? b.port.number}`))),
        ...s.all('IngressRoute').flatMap((i) => i.spec.routes.flatMap((r: any) => r.services
          .filter((b: any) => !servicePort(b.name, b.port))
          .map((b: any) => `IngressRoute ${i.metadata.name} -> ${b.name}:${b.port}`))),
        ...s.all('PodMonitor').flatMap((m) => {
          const pods = s.selectedBy(m.spec.selector, m.metadata.namespace);
          if (pods.length === 0) return [`PodMonitor ${m.metadata.name} selects no pods`];
          return m.spec.podMetricsEndpoints.flatMap((e: any) => pods
            .filter((w) => !w.podSpec.containers.some((c: any) => declaresPort(c, e.port)))
            .map((w) => `PodMonitor ${m.metadata.name} port ${e.port} not on ${w.name}`));
        }),
      ];
      expect(problems).toEqual([]);
    });
  });

  describe('labels', () => {
    test('every workload, pod template and Service carries the standard app.kubernetes.io labels (selection, ownership, dashboards)', () => {
      const missing = [
        ...all.map((w) => [`${w.kind}/${w.name}`, w.object.metadata.labels ?? {}] as const),
        ...all.map((w) => [`${w.kind}/${w.name} pod template`, w.podLabels] as const),
        ...s.all('Service').map((o) => [describeObject(o), o.metadata.labels ?? {}] as const),
      ].flatMap(([what, labels]) => STANDARD_LABELS.filter((l) => !labels[l]).map((l) => `${what}: ${l}`));
      expect(missing).toEqual([]);
      // Workloads say which version they run.
      expect(all.filter((w) => !w.object.metadata.labels?.['app.kubernetes.io/version']).map((w) => w.name)).toEqual([]);
    });

    test('every other object says which instance it belongs to (`kubectl get ... -l app.kubernetes.io/instance=pg-ha` finds it)', () => {
      // The Namespace is exempt: it may be shared with other applications.
      const missing = s.objects.filter((o) => o.kind !== 'Namespace')
        .flatMap((o) => ['app.kubernetes.io/instance', 'app.kubernetes.io/part-of']
          .filter((l) => !o.metadata.labels?.[l]).map((l) => `${describeObject(o)}: ${l}`));
      expect(missing).toEqual([]);
    });
  });
});

