/**
 * NetworkPolicies: the reachability matrix is computed from the synthesized policies (see
 * test/support/network-reachability.ts) and compared with the paths the cluster needs. A needed
 * path that is closed breaks the cluster; any other open path is an attack surface.
 */
import { PgHaSettings } from '../../lib';
import { Manifest, Manifests } from '../support/manifests';
import { compareMatrix, connectionKey, Endpoint, Namespace, reachability } from '../support/network-reachability';
import { synth } from '../support/synth';

const COMPONENT_NAMES: Record<string, string> = {
  dcs: 'etcd', database: 'postgres', router: 'router', init: 'init', secrets: 'secrets', converge: 'converge', 'etcd-access': 'etcd-access', pooler: 'pooler', 'pooler-ro': 'pooler-ro', rollout: 'rollout',
};

/** The cluster's pods, one endpoint per workload, with the ports their containers declare. */
function clusterEndpoints(manifests: Manifests): Endpoint[] {
  return manifests.workloads().map((pod) => ({
    name: COMPONENT_NAMES[pod.component],
    namespace: pod.namespace,
    labels: pod.podLabels,
    ports: pod.podSpec.containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => ({ port: p.containerPort, protocol: p.protocol ?? 'TCP', name: p.name }))),
  }));
}

const ns = (name: string): Namespace => ({ name, labels: { 'kubernetes.io/metadata.name': name } });
const NAMESPACES = [ns('pg-ha'), ns('apps'), ns('monitoring'), ns('kube-system'), ns('traefik')];

/** Pods and addresses around the cluster. */
const OUTSIDE: Endpoint[] = [
  { name: 'client', namespace: 'pg-ha', labels: { app: 'client' }, ports: [{ port: 8080, protocol: 'TCP' }] },
  { name: 'other-ns-client', namespace: 'apps', labels: { app: 'client' }, ports: [{ port: 8080, protocol: 'TCP' }] },
  { name: 'web', namespace: 'apps', labels: { app: 'web' }, ports: [{ port: 443, protocol: 'TCP' }] },
  { name: 'prometheus', namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus' }, ports: [{ port: 9090, protocol: 'TCP' }] },
  { name: 'traefik', namespace: 'kube-system', labels: { 'app.kubernetes.io/name': 'traefik' }, ports: [{ port: 8000, protocol: 'TCP' }] },
  { name: 'coredns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] },
  { name: 'kube-apiserver', labels: {}, ports: [{ port: 443, protocol: 'TCP' }, { port: 6443, protocol: 'TCP' }] },
];

type Need = [from: string, to: string, ports: number[], protocol?: 'TCP' | 'UDP'];

/** The paths the issue lists, in its words; everything else must be closed. */
function neededPaths(clusterPods: string[], extra: Need[] = [], without: string[] = []): Set<string> {
  const needs: Need[] = [
    ['router', 'postgres', [5432, 8008]], // HAProxy proxies to PostgreSQL, health-checks Patroni
    ['postgres', 'postgres', [5432, 8008]], // streaming replication, Patroni REST (failsafe)
    ['postgres', 'etcd', [2379]], // Patroni's DCS
    ['etcd', 'etcd', [2379, 2380]], // etcd peers
    ['etcd-access', 'etcd', [2379]], // the etcd access Job: users, roles, auth on
    ['init', 'router', [5432]], // the init Job through the write Service
    ['converge', 'postgres', [5432, 8008]], // the converge Job: Patroni's REST API, pg_settings on every member
    ['client', 'router', [5432, 5433]], // clients of the same namespace
    ['traefik', 'router', [7000]], // the stats page through the ingress controller
    ['prometheus', 'etcd', [8080]],
    ['prometheus', 'postgres', [8008, 9187]],
    ['prometheus', 'router', [8404]],
    ['postgres', 'kube-apiserver', [443, 6443]], // Spilo's role callback
    ['secrets', 'kube-apiserver', [443, 6443]], // creates the credentials Secret and the application's connection Secret
    ['init', 'kube-apiserver', [443, 6443]], // keeps the application's connection Secret current
    ['rollout', 'kube-apiserver', [443, 6443]], // reads pods and revisions, evicts pods, grows claims
    ['rollout', 'postgres', [8008]], // Patroni's view of the cluster, the switchover
    ['converge', 'kube-apiserver', [443, 6443]], // holds the day-2 Lease
    // The API server's address is not selectable, so its ports are open towards any address:
    // a pod elsewhere serving 443 is reachable from these (documented in the README).
    ['postgres', 'web', [443]],
    ['secrets', 'web', [443]],
    ['init', 'web', [443]],
    ['rollout', 'web', [443]],
    ['converge', 'web', [443]],
    ...clusterPods.flatMap((pod): Need[] => [[pod, 'coredns', [53], 'UDP'], [pod, 'coredns', [53], 'TCP']]),
    ...extra,
  ];
  return new Set(needs
    .flatMap(([from, to, ports, protocol]) => ports.map((port) => connectionKey({ from, to, port, protocol: protocol ?? 'TCP' })))
    .filter((key) => !without.some((w) => key.startsWith(w))));
}

function matrix(settings: PgHaSettings = {}, edit: (policies: Manifest[]) => Manifest[] = (p) => p) {
  const manifests = synth(settings);
  const pods = clusterEndpoints(manifests);
  const policies = edit(manifests.all('NetworkPolicy'));
  return { open: reachability(policies, NAMESPACES, [...pods, ...OUTSIDE], pods.map((p) => p.name)), pods: pods.map((p) => p.name) };
}

describe('NetworkPolicy reachability matrix', () => {
  test('every needed path is open and every other path to or from the cluster is closed', () => {
    const { open, pods } = matrix();
    expect(pods.sort()).toEqual(['converge', 'etcd', 'etcd-access', 'init', 'postgres', 'rollout', 'router', 'secrets']);
    expect(compareMatrix(open, neededPaths(pods))).toEqual({ missing: [], unexpected: [] });
  });

  test('the check fails when a policy is removed (a needed path closes)', () => {
    // GIVEN the default output WHEN the Postgres allow-policy is dropped
    const { open, pods } = matrix({}, (policies) => policies.filter((p) => p.metadata.name !== 'pg-ha-postgres'));
    // THEN the router, replicas and Prometheus can no longer reach Postgres, and Postgres reaches nothing
    const { missing } = compareMatrix(open, neededPaths(pods));
    expect(missing).toEqual(expect.arrayContaining([
      'router -> postgres:5432/TCP', 'postgres -> postgres:5432/TCP', 'postgres -> etcd:2379/TCP', 'prometheus -> postgres:9187/TCP',
    ]));
  });

  test('the check fails when a policy opens more than needed', () => {
    // GIVEN an extra policy that allows every ingress to the etcd pods
    const { open, pods } = matrix({}, (policies) => [...policies, {
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'too-wide', namespace: 'pg-ha' },
      spec: { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'etcd' } }, policyTypes: ['Ingress'], ingress: [{}] },
    }]);
    // THEN pods of the namespace (and any namespace) reach etcd's client port: unexpected paths
    const { unexpected } = compareMatrix(open, neededPaths(pods));
    expect(unexpected).toEqual(expect.arrayContaining(['client -> etcd:2379/TCP', 'other-ns-client -> etcd:2379/TCP']));
  });

  test('the default deny closes a pod of the cluster that has no allow-policy of its own', () => {
    // GIVEN a future pod of the cluster (say a backup sidecar Deployment) with no policy written for it
    const newcomer: Endpoint = {
      name: 'backup', namespace: 'pg-ha', labels: { 'app.kubernetes.io/instance': 'pg-ha', 'app.kubernetes.io/part-of': 'pg-ha', 'app.kubernetes.io/name': 'backup' },
      ports: [{ port: 9000, protocol: 'TCP' }],
    };
    const manifests = synth();
    const pods = clusterEndpoints(manifests);
    const everything = [...pods, ...OUTSIDE, newcomer];
    const names = [...pods.map((p) => p.name), 'backup'];
    const policies = manifests.all('NetworkPolicy');
    // THEN with the default deny it can reach nothing and nothing reaches it
    const withDeny = reachability(policies, NAMESPACES, everything, names);
    expect([...withDeny].filter((k) => k.includes('backup'))).toEqual([]);
    // AND without it, it is wide open both ways
    const withoutDeny = reachability(policies.filter((p) => p.metadata.name !== 'pg-ha-default-deny'), NAMESPACES, everything, names);
    expect(withoutDeny).toContain('client -> backup:9000/TCP');
    expect(withoutDeny).toContain('backup -> web:443/TCP');
  });

  test('client namespaces and pod labels select who reaches the router', () => {
    const { open, pods } = matrix({ networkPolicies: { clientNamespaces: ['apps'], clientPodLabels: { app: 'client' } } });
    const expected = neededPaths(pods, [['other-ns-client', 'router', [5432, 5433]]], ['client -> router']);
    expect(compareMatrix(open, expected)).toEqual({ missing: [], unexpected: [] });
  });

  test('object storage on another port (MinIO): only the Postgres pods may reach it', () => {
    // GIVEN a MinIO endpoint for WAL-G backups, a pod of another namespace on port 9000
    const minio: Endpoint = { name: 'minio', namespace: 'apps', labels: { app: 'minio' }, ports: [{ port: 9000, protocol: 'TCP' }] };
    const manifests = synth({ networkPolicies: { objectStoragePorts: [443, 9000] } });
    const pods = clusterEndpoints(manifests);
    const open = reachability(manifests.all('NetworkPolicy'), NAMESPACES, [...pods, ...OUTSIDE, minio], pods.map((p) => p.name));
    // THEN Postgres reaches it and nothing else of the cluster does
    expect(compareMatrix(open, neededPaths(pods.map((p) => p.name), [['postgres', 'minio', [9000]]]))).toEqual({ missing: [], unexpected: [] });
  });

  test('the poolers: clients and Prometheus reach them, and they reach only their router port', () => {
    const { open, pods } = matrix({ pooler: { enabled: true, read: true } });
    expect(pods.sort()).toEqual(['converge', 'etcd', 'etcd-access', 'init', 'pooler', 'pooler-ro', 'postgres', 'rollout', 'router', 'secrets']);
    const expected = neededPaths(pods, [
      ['client', 'pooler', [6432]], ['client', 'pooler-ro', [6432]],
      ['prometheus', 'pooler', [9127]], ['prometheus', 'pooler-ro', [9127]],
      ['pooler', 'router', [5432]], ['pooler-ro', 'router', [5433]],
    ]);
    expect(compareMatrix(open, expected)).toEqual({ missing: [], unexpected: [] });
  });

  test('no stats Ingress: the ingress controller gets no path to the router', () => {
    const { open, pods } = matrix({ statsIngress: { kind: 'none' } });
    expect(compareMatrix(open, neededPaths(pods, [], ['traefik -> router']))).toEqual({ missing: [], unexpected: [] });
  });

  test('with an existing Secret the secrets Job (which checks its keys) keeps its path to the API server', () => {
    const manifests = synth({ existingSecret: 'my-credentials' });
    expect(manifests.all('NetworkPolicy').map((p) => p.metadata.name)).toContain('pg-ha-secrets');
    const { open, pods } = matrix({ existingSecret: 'my-credentials' });
    expect(pods).toContain('secrets');
    expect(compareMatrix(open, neededPaths(pods))).toEqual({ missing: [], unexpected: [] });
  });
});

describe('NetworkPolicy objects', () => {
  test('are on by default and can be turned off (NETWORK_POLICIES=false)', () => {
    expect(synth().all('NetworkPolicy').map((p) => p.metadata.name).sort()).toEqual(
      ['pg-ha-converge', 'pg-ha-default-deny', 'pg-ha-etcd', 'pg-ha-etcd-access', 'pg-ha-init', 'pg-ha-postgres', 'pg-ha-rollout', 'pg-ha-router', 'pg-ha-secrets'],
    );
    expect(synth({ networkPolicies: { enabled: false } }).all('NetworkPolicy')).toEqual([]);
  });

  test('the default deny selects every pod of the cluster, both directions', () => {
    const manifests = synth();
    const deny = manifests.get('NetworkPolicy', 'pg-ha-default-deny');
    expect(deny.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(manifests.selectedBy(deny.spec.podSelector, 'pg-ha').map((w) => w.name)).toEqual(manifests.workloads().map((w) => w.name));
  });

  test('hold no empty label map or rule list, which the API server drops: a second `kubectl apply` of dist/ changes nothing', () => {
    // Found on the real-Kubernetes bed: `matchLabels: {}`, `ingress: []` and `egress: []` are stored as
    // absent, so every apply patched them again (a new generation each time) and `kubectl diff` never came clean.
    const empties = (value: unknown, at: string): string[] => {
      if (Array.isArray(value)) return value.length ? value.flatMap((v, i) => empties(v, `${at}[${i}]`)) : [at];
      if (value && typeof value === 'object') {
        const entries = Object.entries(value);
        return at.endsWith('matchLabels') && !entries.length ? [at] : entries.flatMap(([k, v]) => empties(v, `${at}.${k}`));
      }
      return [];
    };
    for (const settings of [{}, { networkPolicies: { clientPodLabels: {} } }] as PgHaSettings[]) {
      for (const policy of synth(settings).all('NetworkPolicy')) expect(empties(policy.spec, `${policy.metadata.name}.spec`)).toEqual([]);
    }
  });

  test('dns "any" allows port 53 to any address (NodeLocal DNSCache is not a pod)', () => {
    const policy = synth({ networkPolicies: { dns: 'any' } }).all('NetworkPolicy').find((p) => p.metadata.name === 'pg-ha-etcd')!;
    const dnsRule = policy.spec.egress.find((r: any) => r.ports.some((p: any) => p.port === 53));
    expect(dnsRule.to).toBeUndefined();
  });

  test('invalid settings name the setting', () => {
    expect(() => synth({ networkPolicies: { dns: 'coredns' as any } })).toThrow(/networkPolicies.dns must be one of "kube-dns", "any"/);
    expect(() => synth({ networkPolicies: { clientNamespaces: ['Apps'] } })).toThrow(/networkPolicies.clientNamespaces\[0\] must be a DNS-1123 label/);
    expect(() => synth({ networkPolicies: { prometheusPodLabels: { 'bad key!': 'x' } } })).toThrow(/networkPolicies.prometheusPodLabels must be a label key/);
    expect(() => synth({ networkPolicies: { apiServerPorts: [0] } })).toThrow(/networkPolicies.apiServerPorts\[0\] must be an integer from 1 to 65535/);
    expect(() => synth({ networkPolicies: { objectStoragePorts: [70000] } })).toThrow(/networkPolicies.objectStoragePorts\[0\] must be an integer from 1 to 65535/);
  });
});
