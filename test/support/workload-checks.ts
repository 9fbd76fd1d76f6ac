/**
 * What no workload of the chart may lack, each check written once: it lists the problems it finds
 * (empty: the output passes) and carries a mistake it is there to catch, so a test can prove it fails.
 * test/cross-cutting/workloads.test.ts runs them on every configuration.
 */
import { checkImage } from '../../lib';
import { declaresPort, describeObject, LONG_RUNNING_KINDS, Manifest, Manifests, probePort, probes, Workload } from './manifests';

export interface WorkloadCheck {
  /** What the check requires, and why. */
  readonly name: string;
  /** The problems in `manifests` (a chart deployed into `namespace`), as readable lines. */
  problems(manifests: Manifests, namespace: string): string[];
  /** A mistake the check catches, made in a copy of the default output. */
  readonly mistake: { readonly what: string; make(objects: Manifest[]): void };
}

const STANDARD_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component', 'app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by'];

/** Each container's problem (undefined: none), prefixed with its workload. */
const perContainer = (m: Manifests, problem: (c: any, w: Workload) => string | undefined) => m.workloads().flatMap((w) => w.containers
  .map((c) => problem(c, w)).filter((p): p is string => p !== undefined).map((p) => `${w.kind}/${w.name} ${p}`));

const find = (objects: Manifest[], kind: string, component: string) =>
  objects.find((o) => o.kind === kind && o.metadata.labels?.['app.kubernetes.io/component'] === component)!;
const firstContainer = (objects: Manifest[], component: string) => find(objects, objects.some((o) => o.kind === 'StatefulSet'
  && o.metadata.labels?.['app.kubernetes.io/component'] === component) ? 'StatefulSet' : 'Deployment', component).spec.template.spec.containers[0];

export const WORKLOAD_CHECKS: readonly WorkloadCheck[] = [
  {
    name: 'every image is pinned to a tag or digest other than latest (a moving tag changes the cluster without a commit)',
    problems: (m) => perContainer(m, (c) => { try { checkImage('image', c.image); return undefined; } catch { return `${c.name}: ${c.image}`; } }),
    mistake: { what: 'an image without a tag', make: (o) => { firstContainer(o, 'router').image = 'haproxy'; } },
  },
  {
    name: 'every container requests exactly CPU and memory and has a memory limit (scheduling, and no node-wide OOM)',
    problems: (m) => perContainer(m, (c) => {
      const requests = Object.keys(c.resources?.requests ?? {}).sort().join(',');
      return requests === 'cpu,memory' && typeof c.resources?.limits?.memory === 'string' ? undefined : `${c.name}: requests [${requests}], memory limit ${c.resources?.limits?.memory}`;
    }),
    mistake: { what: 'no CPU request', make: (o) => { delete firstContainer(o, 'dcs').resources.requests.cpu; } },
  },
  {
    name: 'every namespaced object lands in the configured namespace; the Namespace itself has none (kubectl rejects it)',
    problems: (m, namespace) => m.objects.filter((o) => (o.kind === 'Namespace' ? o.metadata.namespace !== undefined : o.metadata.namespace !== namespace))
      .map((o) => `${describeObject(o)} in ${o.metadata.namespace}`),
    mistake: { what: 'a Service in another namespace', make: (o) => { find(o, 'Service', 'router').metadata.namespace = 'default'; } },
  },
  {
    name: 'no Secret is in the manifests: passwords are created in the cluster, never in git',
    problems: (m) => m.all('Secret').map(describeObject),
    mistake: { what: 'a Secret object', make: (o) => { o.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'leak', namespace: 'pg-ha' } }); } },
  },
  {
    name: 'service links are off (Spilo would parse ETCD3_*-like service variables as DCS settings)',
    problems: (m) => m.workloads().filter((w) => w.podSpec.enableServiceLinks !== false).map((w) => w.name),
    mistake: { what: 'service links left on', make: (o) => { delete find(o, 'StatefulSet', 'database').spec.template.spec.enableServiceLinks; } },
  },
  {
    name: 'no password or private key is a literal env value: every *PASS* and *PRIVATE_KEY* variable comes from a Secret',
    problems: (m) => perContainer(m, (c) => {
      const literal = (c.env ?? []).filter((e: any) => /PASS|PRIVATE_KEY/.test(e.name) && (e.value !== undefined || !e.valueFrom?.secretKeyRef));
      return literal.length ? `${c.name}: ${literal.map((e: any) => e.name).join(', ')}` : undefined;
    }),
    mistake: {
      what: 'a password as a literal',
      make: (o) => { firstContainer(o, 'database').env.push({ name: 'PGPASSWORD_EXTRA', value: 'x' }); },
    },
  },
  {
    name: 'security contexts: every container decides allowPrivilegeEscalation explicitly and is never privileged',
    problems: (m) => perContainer(m, (c) => (typeof c.securityContext?.allowPrivilegeEscalation !== 'boolean' || c.securityContext?.privileged === true
      ? c.name : undefined)),
    mistake: { what: 'a privileged container', make: (o) => { firstContainer(o, 'database').securityContext.privileged = true; } },
  },
  {
    name: 'security contexts: every container but Spilo\'s has a read-only root filesystem, drops ALL capabilities and cannot escalate',
    problems: (m) => perContainer(m, (c, w) => {
      if (w.component === 'database' && c.name === 'postgres') return undefined;
      const sc = c.securityContext ?? {};
      return sc.readOnlyRootFilesystem === true && sc.allowPrivilegeEscalation === false && (sc.capabilities?.drop ?? []).includes('ALL')
        ? undefined : `${c.name}: ${JSON.stringify(sc)}`;
    }),
    mistake: { what: 'a writable root filesystem', make: (o) => { firstContainer(o, 'dcs').securityContext.readOnlyRootFilesystem = false; } },
  },
  {
    name: 'security contexts: every pod or container chooses a seccomp profile (Pod Security "restricted" requires one)',
    problems: (m) => perContainer(m, (c, w) => (c.securityContext?.seccompProfile || w.podSpec.securityContext?.seccompProfile ? undefined : c.name)),
    mistake: {
      what: 'no seccomp profile',
      make: (o) => {
        const spec = find(o, 'StatefulSet', 'dcs').spec.template.spec;
        delete spec.securityContext.seccompProfile;
        for (const c of spec.containers) delete c.securityContext.seccompProfile;
      },
    },
  },
  {
    name: 'every long-running container has readiness and liveness probes (traffic and restarts follow real health)',
    problems: (m) => m.workloads().filter((w) => LONG_RUNNING_KINDS.includes(w.kind))
      .flatMap((w) => w.podSpec.containers.filter((c: any) => !c.readinessProbe || !c.livenessProbe).map((c: any) => `${w.kind}/${w.name} ${c.name}`)),
    mistake: { what: 'no liveness probe', make: (o) => { delete firstContainer(o, 'router').livenessProbe; } },
  },
  {
    name: 'every probe targets a port its own container declares (a named port of another container fails the probe)',
    problems: (m) => perContainer(m, (c) => probes(c).map(([kind, probe]) => [kind, probePort(probe)] as const)
      .filter(([, port]) => port !== undefined && !declaresPort(c, port!))
      .map(([kind, port]) => `${c.name} ${kind} -> ${port}`).join('; ') || undefined),
    mistake: { what: 'a probe on an undeclared port', make: (o) => { firstContainer(o, 'database').readinessProbe.httpGet.port = 'metrics'; } },
  },
  {
    name: 'container port names and numbers are unique within a pod',
    problems: (m) => m.workloads().flatMap((w) => {
      const ports = w.podSpec.containers.flatMap((c: any) => c.ports ?? []);
      const duplicates = (xs: string[]) => xs.filter((x, i) => xs.indexOf(x) !== i);
      return [...duplicates(ports.map((p: any) => p.name).filter(Boolean)), ...duplicates(ports.map((p: any) => `${p.containerPort}/${p.protocol ?? 'TCP'}`))]
        .map((d) => `${w.kind}/${w.name}: ${d}`);
    }),
    mistake: { what: 'a port declared twice', make: (o) => { const c = firstContainer(o, 'router'); c.ports.push({ ...c.ports[0] }); } },
  },
  {
    name: 'every Service selects the pods of exactly one workload, and each of its ports targets a port they declare',
    problems: (m) => {
      const services = m.all('Service');
      if (services.length === 0) return ['no Service'];
      return services.flatMap((svc) => {
        const behind = m.behind(svc);
        // No workload: a Service with no endpoints (a selector typo). Two: traffic split across programs.
        if (behind.length !== 1) return [`Service ${svc.metadata.name} selects ${behind.length} workloads`];
        return (svc.spec.ports ?? []).map((p: any) => p.targetPort ?? p.port)
          .filter((target: string | number) => !behind[0].podSpec.containers.some((c: any) => declaresPort(c, target)))
          .map((target: string | number) => `Service ${svc.metadata.name} -> ${target}: not declared by ${behind[0].kind}/${behind[0].name}`);
      });
    },
    mistake: { what: 'a targetPort nobody declares', make: (o) => { find(o, 'Service', 'router').spec.ports[0].targetPort = 'wirte'; } },
  },
  {
    name: 'every Ingress, IngressRoute and PodMonitor points at a port that exists',
    problems: (m) => {
      const servicePort = (name: string, port: string | number) => m.all('Service').some((svc) => svc.metadata.name === name
        && svc.spec.ports.some((p: any) => p.name === port || p.port === port));
      return [
        ...m.all('Ingress').flatMap((i) => i.spec.rules.flatMap((r: any) => r.http.paths.map((p: any) => p.backend.service)
          .filter((b: any) => !servicePort(b.name, b.port.name ?? b.port.number))
          .map((b: any) => `Ingress ${i.metadata.name} -> ${b.name}:${b.port.name ?? b.port.number}`))),
        ...m.all('IngressRoute').flatMap((i) => i.spec.routes.flatMap((r: any) => r.services
          .filter((b: any) => !servicePort(b.name, b.port))
          .map((b: any) => `IngressRoute ${i.metadata.name} -> ${b.name}:${b.port}`))),
        ...m.all('PodMonitor').flatMap((pm) => {
          const pods = m.selectedBy(pm.spec.selector, pm.metadata.namespace);
          if (pods.length === 0) return [`PodMonitor ${pm.metadata.name} selects no pods`];
          return pm.spec.podMetricsEndpoints.flatMap((e: any) => pods
            .filter((w) => !w.podSpec.containers.some((c: any) => declaresPort(c, e.port)))
            .map((w) => `PodMonitor ${pm.metadata.name} port ${e.port} not on ${w.name}`));
        }),
      ];
    },
    mistake: { what: 'an Ingress backend on a port the Service lacks', make: (o) => { o.find((x) => x.kind === 'Ingress')!.spec.rules[0].http.paths[0].backend.service.port = { name: 'stat' }; } },
  },
  {
    name: 'labels: every workload, pod template and Service carries the standard app.kubernetes.io labels, and workloads their version (selection, ownership, dashboards)',
    problems: (m) => [
      ...m.workloads().map((w) => [`${w.kind}/${w.name}`, w.object.metadata.labels ?? {}, true] as const),
      ...m.workloads().map((w) => [`${w.kind}/${w.name} pod template`, w.podLabels, false] as const),
      ...m.all('Service').map((o) => [describeObject(o), o.metadata.labels ?? {}, false] as const),
    ].flatMap(([what, labels, versioned]) => [...STANDARD_LABELS, ...(versioned ? ['app.kubernetes.io/version'] : [])]
      .filter((l) => !labels[l]).map((l) => `${what}: ${l}`)),
    mistake: { what: 'a Service without its component label', make: (o) => { delete find(o, 'Service', 'router').metadata.labels['app.kubernetes.io/component']; } },
  },
  {
    name: 'labels: every other object says which instance it belongs to (`kubectl get ... -l app.kubernetes.io/instance=pg-ha` finds it)',
    // The Namespace is exempt: it may be shared with other applications.
    problems: (m) => m.objects.filter((o) => o.kind !== 'Namespace')
      .flatMap((o) => ['app.kubernetes.io/instance', 'app.kubernetes.io/part-of']
        .filter((l) => !o.metadata.labels?.[l]).map((l) => `${describeObject(o)}: ${l}`)),
    mistake: { what: 'a ConfigMap without the instance label', make: (o) => { delete o.find((x) => x.kind === 'ConfigMap')!.metadata.labels['app.kubernetes.io/instance']; } },
  },
];
