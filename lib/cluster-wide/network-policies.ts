/**
 * NetworkPolicies: every pod of the cluster denies all traffic in and out, then each component is
 * allowed exactly the connections it makes or serves (the matrix in the README, checked by
 * test/cluster-wide/network-policies.test.ts).
 *
 * Port rules name the pods' (target) ports, not Service ports: policies apply after a Service has
 * translated its address. Kubelet probes come from the node and are not subject to policies on
 * the usual CNIs (Calico, Cilium, kube-router, k3s' embedded controller).
 */
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { ETCD_PORTS } from '../components/etcd/etcd-cluster';
import { POSTGRES_PORTS } from '../components/postgres/postgres-cluster';
import { checkDnsLabel, checkInt, checkLabel, checkOneOf } from '../validation';
import { ClusterContext } from '../settings/cluster-names';
import { DEFAULTS } from '../settings/defaults';
import { DNS_EGRESS_MODES, NetworkPolicySettings } from '../settings/feature-settings';

/** A component the policies connect: its pod labels (and, for servers, ports). */
interface Pods {
  readonly selector: Record<string, string>;
}

export interface NetworkPoliciesProps extends NetworkPolicySettings {
  readonly cluster: ClusterContext;
  /** Labels every pod of the cluster carries (the default-deny policy selects them). */
  readonly clusterPodLabels: Record<string, string>;
  readonly etcd: Pods & { readonly clientPort: number; readonly migration?: boolean };
  readonly postgres: Pods & { readonly port: number; readonly exporterPort: number };
  readonly router: Pods & {
    readonly writePort: number; readonly readPort: number; readonly statsPort: number; readonly metricsPort: number;
    /** Address blocks allowed to reach the write and read ports from outside the cluster (none: inside only). */
    readonly exposure: { readonly allowedBlocks: readonly string[] };
  };
  readonly init: Pods;
  /** The PgBouncer poolers, if any: clients reach them like the router; they reach the router. */
  readonly poolers?: ReadonlyArray<Pods & { readonly role: 'write' | 'read'; readonly podPort: number; readonly metricsPort: number; readonly routerPort: number }>;
  /** The rollout Job (Kubernetes API, Patroni's REST API). */
  readonly rollout: Pods;
  /** The converge Job: the Kubernetes API (the day-2 Lease), Patroni's REST API and PostgreSQL on every member. */
  readonly converge: Pods;
  /** The etcd access Job (etcd's client port), when etcd auth is on. */
  readonly etcdAccess?: Pods;
  /** The secrets generator Job, if the chart generates the Secret. */
  readonly secretsGenerator?: Pods;
  /** Whether an Ingress exposes the stats page (else the ingress controller gets no access). */
  readonly statsExposed: boolean;
  /** Labels every policy carries. */
  readonly labels?: Record<string, string>;
}

type Port = number | { readonly port: number; readonly protocol: 'TCP' | 'UDP' };

const portsOf = (...ports: Port[]): k8s.NetworkPolicyPort[] => ports.map((port) => (typeof port === 'number'
  ? { protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) }
  : { protocol: port.protocol, port: k8s.IntOrString.fromNumber(port.port) }));

/** The NetworkPolicies of one cluster: a default deny, then one allow policy per component. */
export class NetworkPolicies extends Construct {
  public readonly policies: k8s.KubeNetworkPolicy[] = [];

  constructor(scope: Construct, id: string, props: NetworkPoliciesProps) {
    super(scope, id);
    const { cluster, etcd, postgres, router, init, rollout, converge } = props;
    const names = (setting: string, values: string[]) => values.map((v, i) => checkDnsLabel(`${setting}[${i}]`, v));
    const labelMap = (setting: string, map: Record<string, string>) => {
      for (const [k, v] of Object.entries(map)) checkLabel(setting, k, v);
      return map;
    };
    const clientNamespaces = names('networkPolicies.clientNamespaces', props.clientNamespaces ?? []);
    const clientPodLabels = labelMap('networkPolicies.clientPodLabels', props.clientPodLabels ?? {});
    const prometheusNamespaces = names('networkPolicies.prometheusNamespaces', props.prometheusNamespaces ?? DEFAULTS.networkPolicies.prometheusNamespaces);
    const prometheusPodLabels = labelMap('networkPolicies.prometheusPodLabels', props.prometheusPodLabels ?? {});
    const ingressNamespaces = names('networkPolicies.ingressNamespaces', props.ingressNamespaces ?? DEFAULTS.networkPolicies.ingressNamespaces);
    const ingressPodLabels = labelMap('networkPolicies.ingressPodLabels', props.ingressPodLabels ?? DEFAULTS.networkPolicies.ingressPodLabels);
    const dns = checkOneOf('networkPolicies.dns', props.dns ?? DEFAULTS.networkPolicies.dns, DNS_EGRESS_MODES);
    const apiServerPorts = (props.apiServerPorts ?? DEFAULTS.networkPolicies.apiServerPorts).map((p, i) => checkInt(`networkPolicies.apiServerPorts[${i}]`, p, 1, 65535));
    const objectStoragePorts = (props.objectStoragePorts ?? DEFAULTS.networkPolicies.objectStoragePorts).map((p, i) => checkInt(`networkPolicies.objectStoragePorts[${i}]`, p, 1, 65535));
    // Spilo calls the API and, with backups on, object storage: neither address is selectable.
    const postgresAnywherePorts = [...new Set([...apiServerPorts, ...objectStoragePorts])];

    // The API server stores an empty label map or rule list as absent: written so, a second apply
    // changes nothing (written as {} or [], every `kubectl apply` patches it again and Argo CD's
    // diff sees a field the cluster never keeps).
    const labelSelector = (labels: Record<string, string>): k8s.LabelSelector => (Object.keys(labels).length ? { matchLabels: labels } : {});
    const pods = (selector: Record<string, string>): k8s.NetworkPolicyPeer => ({ podSelector: labelSelector(selector) });
    const inNamespaces = (namespaces: string[], podLabels: Record<string, string>): k8s.NetworkPolicyPeer => ({
      namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: namespaces }] },
      podSelector: labelSelector(podLabels),
    });
    const clients: k8s.NetworkPolicyPeer = clientNamespaces.length
      ? inNamespaces(clientNamespaces, clientPodLabels)
      : pods(clientPodLabels);
    const prometheus = inNamespaces(prometheusNamespaces, prometheusPodLabels);
    const ingressController = inNamespaces(ingressNamespaces, ingressPodLabels);
    const dnsRule: k8s.NetworkPolicyEgressRule = {
      ...(dns === 'kube-dns' ? { to: [inNamespaces(['kube-system'], { 'k8s-app': 'kube-dns' })] } : {}),
      ports: portsOf({ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }),
    };
    // No `to`: the API server's address is not a pod, and its IP differs per cluster.
    const apiServerRule: k8s.NetworkPolicyEgressRule = { ports: portsOf(...apiServerPorts) };

    const policy = (name: string, selector: Record<string, string>, ingress: k8s.NetworkPolicyIngressRule[], egress: k8s.NetworkPolicyEgressRule[]) => {
      const networkPolicy = new k8s.KubeNetworkPolicy(this, name, {
        metadata: { name: `${cluster.name}-${name}`, labels: props.labels },
        // both policy types listed: a rule list left out denies all of that direction
        spec: { podSelector: labelSelector(selector), policyTypes: ['Ingress', 'Egress'], ...(ingress.length ? { ingress } : {}), ...(egress.length ? { egress } : {}) },
      });
      this.policies.push(networkPolicy);
      return networkPolicy;
    };

    // Everything the cluster's pods send or receive is denied unless a policy below allows it.
    policy('default-deny', props.clusterPodLabels, [], []);

    // Moving from plain etcd: the peers' https port too (the etcd access Job checks every member listens on it).
    const peerPorts = etcd.migration ? [ETCD_PORTS.peer, ETCD_PORTS.migrationPeer] : [ETCD_PORTS.peer];
    const accessPorts = etcd.migration ? [etcd.clientPort, ETCD_PORTS.migrationPeer] : [etcd.clientPort];
    policy('etcd', etcd.selector, [
      { from: [pods(postgres.selector)], ports: portsOf(etcd.clientPort) },
      { from: [pods(etcd.selector)], ports: portsOf(etcd.clientPort, ...peerPorts) },
      // The etcd access Job creates the users and turns authentication on.
      ...(props.etcdAccess ? [{ from: [pods(props.etcdAccess.selector)], ports: portsOf(...accessPorts) }] : []),
      // The plain listener (health, metrics: no keys): Prometheus. The kubelet's probes come from the
      // node, which NetworkPolicies do not restrict on the common CNIs.
      { from: [prometheus], ports: portsOf(ETCD_PORTS.metrics) },
    ], [
      { to: [pods(etcd.selector)], ports: portsOf(etcd.clientPort, ...peerPorts) },
      dnsRule,
    ]);

    policy('postgres', postgres.selector, [
      // HAProxy proxies to PostgreSQL and health-checks Patroni.
      { from: [pods(router.selector)], ports: portsOf(postgres.port, POSTGRES_PORTS.patroni) },
      // Replicas stream from the leader; members call each other's REST API (failsafe mode).
      { from: [pods(postgres.selector)], ports: portsOf(postgres.port, POSTGRES_PORTS.patroni) },
      { from: [prometheus], ports: portsOf(POSTGRES_PORTS.patroni, postgres.exporterPort) },
      // The rollout Job reads Patroni's view of the cluster and asks for the switchover.
      { from: [pods(rollout.selector)], ports: portsOf(POSTGRES_PORTS.patroni) },
      // The converge Job PATCHes Patroni's configuration, restarts members and reads pg_settings.
      { from: [pods(converge.selector)], ports: portsOf(postgres.port, POSTGRES_PORTS.patroni) },
    ], [
      { to: [pods(postgres.selector)], ports: portsOf(postgres.port, POSTGRES_PORTS.patroni) },
      // Patroni talks to every etcd member by its advertised client URL.
      { to: [pods(etcd.selector)], ports: portsOf(etcd.clientPort) },
      // Spilo's role callback PATCHes its own pod's label; WAL-G/WAL-E ship backups to object storage.
      { ports: portsOf(...postgresAnywherePorts) },
      dnsRule,
    ]);

    const poolers = props.poolers ?? [];
    policy('router', router.selector, [
      { from: [clients], ports: portsOf(router.writePort, router.readPort) },
      // Access from outside (LoadBalancer / NodePort): the allowed source ranges, seen as the client's
      // address when the Services keep it (externalTrafficPolicy Local).
      ...(router.exposure.allowedBlocks.length
        ? [{ from: router.exposure.allowedBlocks.map((cidr) => ({ ipBlock: { cidr } })), ports: portsOf(router.writePort, router.readPort) }]
        : []),
      ...poolers.map((pooler) => ({ from: [pods(pooler.selector)], ports: portsOf(pooler.routerPort) })),
      { from: [pods(init.selector)], ports: portsOf(router.writePort) },
      ...(props.statsExposed ? [{ from: [ingressController], ports: portsOf(router.statsPort) }] : []),
      { from: [prometheus], ports: portsOf(router.metricsPort) },
    ], [
      { to: [pods(postgres.selector)], ports: portsOf(postgres.port, POSTGRES_PORTS.patroni) },
      // HAProxy re-resolves the members' names through the cluster DNS.
      dnsRule,
    ]);

    for (const pooler of poolers) {
      policy(pooler.role === 'write' ? 'pooler' : 'pooler-ro', pooler.selector, [
        { from: [clients], ports: portsOf(pooler.podPort) },
        { from: [prometheus], ports: portsOf(pooler.metricsPort) },
      ], [
        // Every server connection goes through the router, which follows the Patroni leader.
        { to: [pods(router.selector)], ports: portsOf(pooler.routerPort) },
        dnsRule,
      ]);
    }

    // Creates roles and the database through the write Service; writes the application's connection Secret (API).
    policy('init', init.selector, [], [
      { to: [pods(router.selector)], ports: portsOf(router.writePort) },
      apiServerRule,
      dnsRule,
    ]);

    // Reads the StatefulSet and pods, evicts pods, grows claims (API); asks Patroni (REST).
    policy('rollout', rollout.selector, [], [
      apiServerRule,
      { to: [pods(postgres.selector)], ports: portsOf(POSTGRES_PORTS.patroni) },
      dnsRule,
    ]);

    // Holds the day-2 Lease (API); PATCHes Patroni's configuration, restarts, switches over (REST); reads pg_settings.
    policy('converge', converge.selector, [], [
      apiServerRule,
      { to: [pods(postgres.selector)], ports: portsOf(postgres.port, POSTGRES_PORTS.patroni) },
      dnsRule,
    ]);

    if (props.etcdAccess) {
      policy('etcd-access', props.etcdAccess.selector, [], [
        { to: [pods(etcd.selector)], ports: portsOf(...accessPorts) },
        dnsRule,
      ]);
    }

    if (props.secretsGenerator) {
      // Creates the credentials Secret and the application's connection Secret through the API.
      policy('secrets', props.secretsGenerator.selector, [], [apiServerRule, dnsRule]);
    }
  }
}
