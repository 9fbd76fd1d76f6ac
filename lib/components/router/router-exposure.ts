/**
 * Access to the router from outside the cluster: the type of the write and read Services, the
 * address blocks allowed to connect, cloud load balancer annotations and node ports. The compose
 * deployment published the router's ports on the host; here a LoadBalancer or NodePort Service does.
 */
import { k8s } from 'cdk8s-plus-28';
import {
  EXTERNAL_TRAFFIC_POLICIES, ExternalAccessSettings, ExternalTrafficPolicy, NODE_PORT_RANGE, ROUTER_SERVICE_TYPES, RouterServiceType,
} from '../../settings/external-access-settings';
import { DEFAULTS } from '../../settings/defaults';
import { checkAnnotationKey, checkCidr, checkDistinct, checkOneOf, ConfigError } from '../../validation';

/** The blocks "any address" means for the NetworkPolicy (IPv4 and IPv6). */
export const ANY_ADDRESS = ['0.0.0.0/0', '::/0'] as const;

/** What the router's write and read Services get, resolved from ExternalAccessSettings. */
export interface RouterExposure {
  readonly serviceType: RouterServiceType;
  /**
   * Address blocks the router's NetworkPolicy admits on the write and read ports from outside
   * (`ANY_ADDRESS` when any address may connect); empty for ClusterIP.
   */
  readonly allowedBlocks: readonly string[];
  readonly annotations: Record<string, string>;
  /** Spec fields the write and read Services add to their ports and selector (none for ClusterIP). */
  readonly serviceSpec: Partial<k8s.ServiceSpec>;
  /** The node port of a Service port, when one is fixed. */
  nodePort(kind: 'write' | 'read'): number | undefined;
}

/**
 * Validates `settings` and resolves them. `networkPoliciesOn` decides whether source ranges of a
 * NodePort Service are enforced at all (a NodePort Service has no loadBalancerSourceRanges).
 */
export function resolveRouterExposure(settings: ExternalAccessSettings = {}, networkPoliciesOn: boolean): RouterExposure {
  const defaults = DEFAULTS.router.external;
  const serviceType = checkOneOf('router.external.serviceType', settings.serviceType ?? defaults.serviceType, ROUTER_SERVICE_TYPES);
  if (serviceType === 'ClusterIP') {
    // Other settings of the group are refused while ClusterIP by the optional-features rule.
    return { serviceType, allowedBlocks: [], annotations: {}, serviceSpec: {}, nodePort: () => undefined };
  }
  const sourceRanges = (settings.sourceRanges ?? []).map((cidr, i) => checkCidr(`router.external.sourceRanges[${i}]`, cidr));
  const allowAnySource = settings.allowAnySource ?? defaults.allowAnySource;
  if (sourceRanges.length === 0 && !allowAnySource) {
    throw new ConfigError('router.external.sourceRanges', [], `the client address blocks allowed to connect to the ${serviceType} Services (CIDR list, e.g. "203.0.113.0/24"), `
      + 'or set router.external.allowAnySource to true to state that any address may connect');
  }
  if (sourceRanges.length > 0 && allowAnySource) {
    throw new ConfigError('router.external.allowAnySource', true, 'unset or false while router.external.sourceRanges limits the clients (the two contradict each other)');
  }
  if (serviceType === 'NodePort' && sourceRanges.length > 0 && !networkPoliciesOn) {
    throw new ConfigError('router.external.sourceRanges', sourceRanges.join(','), 'unset while networkPolicies.enabled is false with a NodePort Service: '
      + 'only the NetworkPolicy enforces them there (a NodePort Service has no loadBalancerSourceRanges); turn the NetworkPolicies on or use a LoadBalancer');
  }
  const trafficPolicy: ExternalTrafficPolicy = checkOneOf('router.external.trafficPolicy', settings.trafficPolicy ?? defaults.trafficPolicy, EXTERNAL_TRAFFIC_POLICIES);
  const annotations = Object.fromEntries(Object.entries(settings.annotations ?? {}).map(([key, value]) => [checkAnnotationKey('router.external.annotations', key), value]));

  const nodePorts = { write: settings.writeNodePort, read: settings.readNodePort };
  for (const [kind, port] of Object.entries(nodePorts)) {
    const setting = `router.external.${kind}NodePort`;
    if (port === undefined) continue;
    if (serviceType !== 'NodePort') {
      throw new ConfigError(setting, port, 'unset with a LoadBalancer: the load balancer listens on the router\'s own port (router.writePort / router.readPort); '
        + 'set those to the ports clients should use, or use serviceType NodePort');
    }
    if (!Number.isInteger(port) || port < NODE_PORT_RANGE.min || port > NODE_PORT_RANGE.max) {
      throw new ConfigError(setting, port, `a node port from ${NODE_PORT_RANGE.min} to ${NODE_PORT_RANGE.max} (Kubernetes' node-port range; `
        + 'for a lower port such as 5432 outside the cluster use serviceType LoadBalancer, which listens on router.writePort / router.readPort)');
    }
  }
  if (nodePorts.write !== undefined && nodePorts.read !== undefined) {
    checkDistinct({ 'router.external.writeNodePort': nodePorts.write, 'router.external.readNodePort': nodePorts.read }, 'each node port serves one Service');
  }

  return {
    serviceType,
    allowedBlocks: sourceRanges.length > 0 ? sourceRanges : [...ANY_ADDRESS],
    annotations,
    nodePort: (kind) => nodePorts[kind],
    serviceSpec: {
      type: serviceType,
      externalTrafficPolicy: trafficPolicy,
      ...(serviceType === 'LoadBalancer' && sourceRanges.length > 0 ? { loadBalancerSourceRanges: sourceRanges } : {}),
    },
  };
}
