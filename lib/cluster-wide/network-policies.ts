/**
 * NetworkPolicies: every pod of the cluster denies all traffic in and out, then each component is
 * allowed exactly the connections it makes or serves (the matrix in the README, checked by
 * test/network-policies.test.ts).
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
import { ClusterContext } from '../k8s/dns-names';

/** Where DNS queries may go. */
export const DNS_EGRESS_MODES = ['kube-dns', 'any'] as const;
export type DnsEgressMode = (typeof DNS_EGRESS_MODES)[number];

/** User settings of the NetworkPolicies (the chart's `networkPolicies`). */
export interface NetworkPolicySettings {
  /**
   * Write the NetworkPolicies (they need a CNI that enforces them: Calico, Cilium, k3s' default...).
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Namespaces (by name) whose pods may connect to the router's write and read ports.
   * @default - the cluster's own namespace only
   */
  readonly clientNamespaces?: string[];
  /**
   * Labels a client pod must carry to connect to the router.
   * @default - any pod of `clientNamespaces`
   */
  readonly clientPodLabels?: Record<string, string>;
  /**
   * Namespaces (by name) of Prometheus, allowed to scrape etcd (8080), Patroni (8008), the exporter
   * (9187) and HAProxy (8404).
   * @default ['monitoring']
   */
  readonly prometheusNamespaces?: string[];
  /**
   * Labels of the Prometheus pods in `prometheusNamespaces`.
   * @default - any pod of `prometheusNamespaces`
   */
  readonly prometheusPodLabels?: Record<string, string>;
  /**
   * Namespaces (by name) of the ingress controller that serves the stats page (port 7000).
   * @default ['kube-system', 'traefik'] (k3s' bundled Traefik, Traefik's Helm chart)
   */
  readonly ingressNamespaces?: string[];
  /**
   * Labels of the ingress controller's pods.
   * @default { 'app.kubernetes.io/name': 'traefik' }
   */
  readonly ingressPodLabels?: Record<string, string>;
  /**
   * DNS egress (UDP and TCP 53): `kube-dns` allows only pods labelled `k8s-app: kube-dns` in
   * kube-system (CoreDNS on kubeadm, k3s, kind, EKS, GKE, AKS); `any` allows port 53 to every
   * address (needed with NodeLocal DNSCache, whose address is not a pod).
   * @default 'kube-dns'
   */
  readonly dns?: DnsEgressMode;
  /**
   * Ports of the Kubernetes API server. Its address is not a pod and not selectable, so pods that
   * call the API (Spilo's role callback, the secrets Job) may reach these ports on any address.
   * @default [443, 6443]
   */
  readonly apiServerPorts?: number[];
  /**
   * Ports on which the Postgres pods may reach any address for backups (WAL-G/WAL-E to S3, GCS,
   * Azure or MinIO; object storage is outside the cluster or not selectable). 443 is open anyway
   * for the API server; add e.g. 9000 for a MinIO endpoint.
   * @default [443]
   */
  readonly objectStoragePorts?: number[];
}

/** A component the policies connect: its pod labels (and, for servers, ports). */
interface Pods {
  readonly selector: Record<string, string>;
}

export interface NetworkPoliciesProps extends NetworkPolicySettings {
  readonly cluster: ClusterContext;
  /** Labels every pod of the cluster carries (the default-deny policy selects them). */
  readonly clusterPodLabels: Record<string, string>;
  readonly etcd: Pods;
  readonly postgres: Pods & { readonly exporterPort: number };
  readonly router: Pods & { readonly writePort: number; readonly readPort: number; readonly statsPort: number; readonly metricsPort: number };
  readonly init: Pods;
  /** The secrets generator Job, if the chart generates the Secret. */
  readonly secretsGenerator?: Pods;
  /** Whether an Ingress exposes the stats page (else the ingress controller gets no access). */
  readonly statsExposed: boolean;
  /** Labels every policy carries. */
  readonly labels?: Record<string, string>;
}

type Port = number | { readonly port: number; readonly protocol: 'TCP' | 'UDP' };

const portsOf = (...ports: Port[]): k8s.NetworkPolicyPort[] => ports.map((p) => (typeof p === 'number'
  ? { protocol: 'TCP', port: k8s.IntOrString.fromNumber(p) }
  : { protocol: p.protocol, port: k8s.IntOrString.fromNumber(p.port) }));

/** The NetworkPolicies of one cluster: a default deny, then one allow policy per component. */
export class NetworkPolicies extends Construct {
  public readonly policies: k8s.KubeNetworkPolicy[] = [];

  constructor(scope: Construct, id: string, props: NetworkPoliciesProps) {
    super(scope, id);
    const { cluster, etcd, postgres, router, init } = props;
    const names = (setting: string, values: string[]) => values.map((v, i) => checkDnsLabel(`${setting}[${i}]`, v));
    const labelMap = (setting: string, map: Record<string, string>) => {
      for (const [k, v] of Object.entries(map)) checkLabel(setting, k, v);
      return map;
    };
    const clientNamespaces = names('networkPolicies.clientNamespaces', props.clientNamespaces ?? []);
    const clientPodLabels = labelMap('networkPolicies.clientPodLabels', props.clientPodLabels ?? {});
    const prometheusNamespaces = names('networkPolicies.prometheusNamespaces', props.prometheusNamespaces ?? ['monitoring']);
    const prometheusPodLabels = labelMap('networkPolicies.prometheusPodLabels', props.prometheusPodLabels ?? {});
    const ingressNamespaces = names('networkPolicies.ingressNamespaces', props.ingressNamespaces ?? ['kube-system', 'traefik']);
    const ingressPodLabels = labelMap('networkPolicies.ingressPodLabels', props.ingressPodLabels ?? { 'app.kubernetes.io/name': 'traefik' });
    const dns = checkOneOf('networkPolicies.dns', props.dns ?? 'kube-dns', DNS_EGRESS_MODES);
    const apiServerPorts = (props.apiServerPorts ?? [443, 6443]).map((p, i) => checkInt(`networkPolicies.apiServerPorts[${i}]`, p, 1, 65535));
    const objectStoragePorts = (props.objectStoragePorts ?? [443]).map((p, i) => checkInt(`networkPolicies.objectStoragePorts[${i}]`, p, 1, 65535));
    // Spilo calls the API and, with backups on, object storage: neither address is selectable.
    const postgresAnywherePorts = [...new Set([...apiServerPorts, ...objectStoragePorts])];

    const pods = (selector: Record<string, string>): k8s.NetworkPolicyPeer => ({ podSelector: { matchLabels: selector } });
    const inNamespaces = (namespaces: string[], podLabels: Record<string, string>): k8s.NetworkPolicyPeer => ({
      namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: namespaces }] },
      podSelector: { matchLabels: podLabels },
    });
    const clients: k8s.NetworkPolicyPeer = clientNamespaces.length
      ? inNamespaces(clientNamespaces, clientPodLabels)
      : { podSelector: { matchLabels: clientPodLabels } };
    const prometheus = inNamespaces(prometheusNamespaces, prometheusPodLabels);
    const ingressController = inNamespaces(ingressNamespaces, ingressPodLabels);
    const dnsRule: k8s.NetworkPolicyEgressRule = {
      ...(dns === 'kube-dns' ? { to: [inNamespaces(['kube-system'], { 'k8s-app': 'kube-dns' })] } : {}),
      ports: portsOf({ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }),
    };
    // No `to`: the API server's address is not a pod, and its IP differs per cluster.
    const apiServerRule: k8s.NetworkPolicyEgressRule = { ports: portsOf(...apiServerPorts) };

    const policy = (pid: string, selector: Record<string, string>, ingress: k8s.NetworkPolicyIngressRule[], egress: k8s.NetworkPolicyEgressRule[]) => {
      const p = new k8s.KubeNetworkPolicy(this, pid, {
        metadata: { name: `${cluster.name}-${pid}`, labels: props.labels },
        spec: { podSelector: { matchLabels: selector }, policyTypes: ['Ingress', 'Egress'], ingress, egress },
      });
      this.policies.push(p);
      return p;
    };

    // Everything the cluster's pods send or receive is denied unless a policy below allows it.
    policy('default-deny', props.clusterPodLabels, [], []);

    policy('etcd', etcd.selector, [
      { from: [pods(postgres.selector)], ports: portsOf(ETCD_PORTS.client) },
      { from: [pods(etcd.selector)], ports: portsOf(ETCD_PORTS.client, ETCD_PORTS.peer) },
      { from: [prometheus], ports: portsOf(ETCD_PORTS.metrics) },
    ], [
      { to: [pods(etcd.selector)], ports: portsOf(ETCD_PORTS.client, ETCD_PORTS.peer) },
      dnsRule,
    ]);

    policy('postgres', postgres.selector, [
      // HAProxy proxies to PostgreSQL and health-checks Patroni.
      { from: [pods(router.selector)], ports: portsOf(POSTGRES_PORTS.postgresql, POSTGRES_PORTS.patroni) },
      // Replicas stream from the leader; members call each other's REST API (failsafe mode).
      { from: [pods(postgres.selector)], ports: portsOf(POSTGRES_PORTS.postgresql, POSTGRES_PORTS.patroni) },
      { from: [prometheus], ports: portsOf(POSTGRES_PORTS.patroni, postgres.exporterPort) },
    ], [
      { to: [pods(postgres.selector)], ports: portsOf(POSTGRES_PORTS.postgresql, POSTGRES_PORTS.patroni) },
      // Patroni talks to every etcd member by its advertised client URL.
      { to: [pods(etcd.selector)], ports: portsOf(ETCD_PORTS.client) },
      // Spilo's role callback PATCHes its own pod's label; WAL-G/WAL-E ship backups to object storage.
      { ports: portsOf(...postgresAnywherePorts) },
      dnsRule,
    ]);

    policy('router', router.selector, [
      { from: [clients], ports: portsOf(router.writePort, router.readPort) },
      { from: [pods(init.selector)], ports: portsOf(router.writePort) },
      ...(props.statsExposed ? [{ from: [ingressController], ports: portsOf(router.statsPort) }] : []),
      { from: [prometheus], ports: portsOf(router.metricsPort) },
    ], [
      { to: [pods(postgres.selector)], ports: portsOf(POSTGRES_PORTS.postgresql, POSTGRES_PORTS.patroni) },
      // HAProxy re-resolves the members' names through the cluster DNS.
      dnsRule,
    ]);

    policy('init', init.selector, [], [
      { to: [pods(router.selector)], ports: portsOf(router.writePort) },
      dnsRule,
    ]);

    if (props.secretsGenerator) {
      // Creates the credentials Secret through the API.
      policy('secrets', props.secretsGenerator.selector, [], [apiServerRule, dnsRule]);
    }
  }
}
