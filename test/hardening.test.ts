/**
 * Scheduling and resources: every pod avoids sharing a node with its siblings, every container has
 * requests and a memory limit, and the settings that change them are validated.
 */
import { k8s } from 'cdk8s-plus-28';
import { parseTolerations, quantityValue, settingsFromVariables } from '../lib';
import { containersOf, podOf, synth, workloadPods } from './support/manifests';

const SPREAD_COMPONENTS = ['dcs', 'database', 'router'];

describe('scheduling', () => {
  test('by default each component prefers one pod per node, so a small cluster still schedules', () => {
    const manifests = synth();
    for (const component of SPREAD_COMPONENTS) {
      const pod = podOf(manifests, component);
      const [term] = pod.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
      expect(term.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
      // The term must select the component's own pods, or it spreads nothing.
      for (const [k, v] of Object.entries(term.podAffinityTerm.labelSelector.matchLabels)) expect(pod.template.metadata.labels[k]).toBe(v);
      expect(pod.template.spec.topologySpreadConstraints).toBeUndefined(); // no zone label needed
    }
  });

  test('required anti-affinity and zone spread, node selector, tolerations and priority apply to every component', () => {
    const manifests = synth({
      scheduling: {
        antiAffinity: 'required',
        zoneSpread: 'preferred',
        nodeSelector: { 'node-role.kubernetes.io/db': 'true' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'postgres', effect: 'NoSchedule' }],
        priorityClassName: 'db-critical',
      },
    });
    for (const component of SPREAD_COMPONENTS) {
      const spec = podOf(manifests, component).template.spec;
      expect(spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).toBe('kubernetes.io/hostname');
      expect(spec.topologySpreadConstraints[0]).toMatchObject({ topologyKey: 'topology.kubernetes.io/zone', maxSkew: 1, whenUnsatisfiable: 'ScheduleAnyway' });
    }
    // Jobs land on the same dedicated nodes, without anti-affinity (one pod each).
    for (const pod of workloadPods(manifests)) {
      expect(pod.template.spec).toMatchObject({ nodeSelector: { 'node-role.kubernetes.io/db': 'true' }, priorityClassName: 'db-critical' });
      expect(pod.template.spec.tolerations).toEqual([{ key: 'dedicated', operator: 'Equal', value: 'postgres', effect: 'NoSchedule' }]);
    }
    expect(podOf(manifests, 'init').template.spec.affinity).toBeUndefined();
  });

  test('required anti-affinity: routers roll one at a time (a surge pod would find no free node)', () => {
    const strategy = (settings: object) => synth(settings).find((m) => m.kind === 'Deployment')!.spec.strategy.rollingUpdate;
    expect(strategy({})).toEqual({ maxUnavailable: 0, maxSurge: 1 });
    expect(strategy({ scheduling: { antiAffinity: 'required' } })).toEqual({ maxUnavailable: 1, maxSurge: 0 });
  });

  test('a component setting wins over the chart-wide one', () => {
    const manifests = synth({ scheduling: { antiAffinity: 'required' }, router: { scheduling: { antiAffinity: 'none' } } });
    expect(podOf(manifests, 'router').template.spec.affinity).toBeUndefined();
    expect(podOf(manifests, 'dcs').template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
  });

  test('invalid scheduling settings name the setting, the value and what is valid', () => {
    expect(() => synth({ scheduling: { antiAffinity: 'always' as any } })).toThrow(/^scheduling.antiAffinity must be one of "preferred", "required", "none" \(got "always"\)/);
    expect(() => synth({ postgres: { scheduling: { zoneSpread: 'zones' as any } } })).toThrow(/postgres.scheduling.zoneSpread must be one of "none", "preferred", "required"/);
    expect(() => synth({ scheduling: { priorityClassName: 'High_Priority' } })).toThrow(/scheduling.priorityClassName must be a DNS-1123 subdomain/);
    expect(() => synth({ scheduling: { nodeSelector: { 'bad key': 'x' } } })).toThrow(/scheduling.nodeSelector must be a label key/);
    expect(() => synth({ scheduling: { nodeSelector: { disk: 'fast ssd' } } })).toThrow(/scheduling.nodeSelector\["disk"\] must be a label value/);
    expect(() => synth({ scheduling: { tolerations: [{ key: 'dedicated', effect: 'Sometimes' }] } })).toThrow(/tolerations\[0\].effect must be one of "NoSchedule", "PreferNoSchedule", "NoExecute"/);
    expect(() => synth({ scheduling: { tolerations: [{ key: 'dedicated', operator: 'Exists', value: 'x' }] } })).toThrow(/tolerations\[0\].value must be empty when operator is "Exists"/);
    expect(() => synth({ scheduling: { tolerations: [{ key: 'a', operator: 'Like' }] } })).toThrow(/tolerations\[0\].operator must be one of "Equal", "Exists"/);
  });
});

describe('resources', () => {
  test('every container has CPU and memory requests and a memory limit', () => {
    for (const pod of workloadPods(synth())) {
      for (const c of containersOf(pod.template.spec)) {
        expect({ container: `${pod.workload}/${c.name}`, requests: Object.keys(c.resources?.requests ?? {}).sort(), memoryLimit: typeof c.resources?.limits?.memory })
          .toEqual({ container: `${pod.workload}/${c.name}`, requests: ['cpu', 'memory'], memoryLimit: 'string' });
      }
    }
  });

  test('no CPU limit by default: throttling would delay etcd heartbeats and Patroni checks', () => {
    for (const pod of workloadPods(synth())) {
      for (const c of containersOf(pod.template.spec)) expect(c.resources.limits.cpu).toBeUndefined();
    }
  });

  test('a setting changes one key and keeps the other defaults (Spilo sizes shared_buffers from the memory limit)', () => {
    const spilo = podOf(synth({ postgres: { resources: { limits: { memory: k8s.Quantity.fromString('4Gi'), cpu: k8s.Quantity.fromString('2') } } } }), 'database')
      .template.spec.containers.find((c: any) => c.name === 'postgres');
    expect(spilo.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '4Gi', cpu: '2' } });
  });

  test('invalid resources name the setting', () => {
    const q = k8s.Quantity.fromString;
    expect(() => synth({ etcd: { resources: { requests: { memory: q('1Gi') } } } })).toThrow(/etcd.resources.requests.memory must be at most etcd.resources.limits.memory \(512Mi\)/);
    expect(() => synth({ router: { resources: { requests: { cpu: q('2') }, limits: { cpu: q('500m') } } } })).toThrow(/router.resources.requests.cpu must be at most router.resources.limits.cpu/);
    expect(() => synth({ postgres: { exporterResources: { limits: { memory: q('lots') } } } })).toThrow(/postgres.exporterResources.limits.memory must be a Kubernetes quantity/);
    expect(() => synth({ init: { resources: { limits: { memory: undefined as any } } } })).toThrow(/init.resources.limits.memory must be set/);
    expect(() => synth({ postgres: { resources: { limits: { memory: undefined as any } } } }))
      .toThrow(/postgres.resources.limits.memory must be set: Spilo sizes shared_buffers and max_connections from the memory limit/);
  });

  test('quantities compare by value', () => {
    expect(quantityValue('512Mi')).toBe(512 * 2 ** 20);
    expect(quantityValue('1G')).toBe(1e9);
    expect(quantityValue('500m')).toBe(0.5);
    expect(quantityValue('1e3')).toBe(1000);
  });
});

describe('hardening settings (pg-ha.env names)', () => {
  test('scheduling, budgets, resources, policies and TLS variables map to settings', () => {
    const settings = settingsFromVariables({
      ANTI_AFFINITY: 'required',
      ZONE_SPREAD: 'preferred',
      NODE_SELECTOR: 'node-role.kubernetes.io/db=true, disk=ssd',
      TOLERATIONS: 'dedicated=postgres:NoSchedule,spot:NoExecute,maintenance',
      PRIORITY_CLASS_NAME: 'db-critical',
      DISRUPTION_BUDGETS: 'false',
      POSTGRES_MEMORY_LIMIT: '4Gi',
      ETCD_CPU_REQUEST: '200m',
      NETWORK_POLICIES: 'true',
      NETWORK_POLICY_CLIENT_NAMESPACES: 'apps,jobs',
      NETWORK_POLICY_PROMETHEUS_POD_LABELS: 'app.kubernetes.io/name=prometheus',
      NETWORK_POLICY_DNS: 'any',
      POSTGRES_TLS_SECRET: 'pg-tls',
      ROUTER_STATS_AUTH_SECRET: 'stats-auth',
    });
    expect(settings.scheduling).toEqual({
      antiAffinity: 'required',
      zoneSpread: 'preferred',
      nodeSelector: { 'node-role.kubernetes.io/db': 'true', 'disk': 'ssd' },
      tolerations: [
        { key: 'dedicated', operator: 'Equal', value: 'postgres', effect: 'NoSchedule' },
        { key: 'spot', operator: 'Exists', effect: 'NoExecute' },
        { key: 'maintenance', operator: 'Exists' },
      ],
      priorityClassName: 'db-critical',
    });
    expect(settings.disruptionBudgets).toBe(false);
    expect(settings.postgres?.resources?.limits?.memory?.value).toBe('4Gi');
    expect(settings.etcd?.resources?.requests?.cpu?.value).toBe('200m');
    expect(settings.networkPolicies).toEqual({
      enabled: true, clientNamespaces: ['apps', 'jobs'], prometheusPodLabels: { 'app.kubernetes.io/name': 'prometheus' }, dns: 'any',
    });
    expect(settings.postgres?.tls).toEqual({ secretName: 'pg-tls' });
    expect(settings.router?.statsAuthSecret).toBe('stats-auth');
    // And the chart accepts them.
    expect(() => synth(settings)).not.toThrow();
  });

  test('malformed variables are rejected with the variable name', () => {
    expect(() => settingsFromVariables({ POSTGRES_MEMORY_LIMIT: '4 GB' })).toThrow(/POSTGRES_MEMORY_LIMIT must be a Kubernetes quantity/);
    expect(() => settingsFromVariables({ NODE_SELECTOR: 'disk' })).toThrow(/NODE_SELECTOR must be key=value pairs/);
    expect(() => settingsFromVariables({ NETWORK_POLICY_CLIENT_POD_LABELS: 'app=my app' })).toThrow(/NETWORK_POLICY_CLIENT_POD_LABELS\["app"\] must be a label value/);
    expect(() => settingsFromVariables({ TOLERATIONS: 'dedicated=db:Never' })).toThrow(/TOLERATIONS.effect must be one of/);
    expect(() => settingsFromVariables({ NETWORK_POLICIES: 'yes' })).toThrow(/NETWORK_POLICIES must be "true" or "false"/);
    expect(() => settingsFromVariables({ NETWORK_POLICY_OBJECT_STORAGE_PORTS: '443,minio' })).toThrow(/NETWORK_POLICY_OBJECT_STORAGE_PORTS must be port numbers separated by commas/);
    expect(settingsFromVariables({ NETWORK_POLICY_OBJECT_STORAGE_PORTS: '443, 9000' }).networkPolicies).toEqual({ objectStoragePorts: [443, 9000] });
    expect(() => parseTolerations('TOLERATIONS', 'a:b:c')).toThrow(/TOLERATIONS must be a toleration "key=value:Effect"/);
  });
});
