/**
 * Access to the router from outside the cluster: the write and read Services' type, source ranges,
 * annotations and traffic policy; the NetworkPolicy admits exactly the allowed blocks; a load balancer
 * open to any address needs an explicit statement; compose's host ports become node ports.
 */
import { PgHaSettings, settingsFromVariables } from '../../lib';
import { synth } from '../support/synth';

const external = (settings: NonNullable<NonNullable<PgHaSettings['router']>['external']>, more: PgHaSettings = {}) => synth({ ...more, router: { external: settings } });
const routerPolicyIngress = (s: ReturnType<typeof synth>) => s.get('NetworkPolicy', 'pg-ha-router').spec.ingress;
const ipBlocks = (s: ReturnType<typeof synth>) => routerPolicyIngress(s).flatMap((rule: any) => (rule.from ?? []).filter((peer: any) => peer.ipBlock)
  .map((peer: any) => `${peer.ipBlock.cidr} -> ${rule.ports.map((p: any) => p.port).join(',')}`));

describe('by default', () => {
  const s = synth();
  test('the write and read Services are ClusterIP (no type written) and nothing outside the cluster is admitted', () => {
    for (const name of ['pg-ha-rw', 'pg-ha-ro']) {
      expect(s.get('Service', name).spec.type).toBeUndefined();
      expect(s.get('Service', name).spec.externalTrafficPolicy).toBeUndefined();
    }
    expect(ipBlocks(s)).toEqual([]);
  });
});

describe('a LoadBalancer', () => {
  const s = external({
    serviceType: 'LoadBalancer', sourceRanges: ['203.0.113.0/24', '2001:db8::/32'],
    annotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' },
  });

  test('publishes the write and read Services with the source ranges, annotations and the client-address-keeping policy', () => {
    for (const name of ['pg-ha-rw', 'pg-ha-ro']) {
      const service = s.get('Service', name);
      expect(service.spec).toMatchObject({ type: 'LoadBalancer', loadBalancerSourceRanges: ['203.0.113.0/24', '2001:db8::/32'], externalTrafficPolicy: 'Local' });
      expect(service.metadata.annotations).toMatchObject({ 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' });
      expect(service.spec.ports[0].nodePort).toBeUndefined();
    }
    // The stats/metrics Service stays inside the cluster.
    expect(s.get('Service', 'pg-ha-router').spec.type).toBeUndefined();
  });

  test('the router NetworkPolicy admits the source ranges on the write and read ports only', () => {
    expect(ipBlocks(s)).toEqual(['203.0.113.0/24 -> 5432,5433', '2001:db8::/32 -> 5432,5433']);
  });

  test('without source ranges it is refused unless any address is explicitly allowed', () => {
    expect(() => external({ serviceType: 'LoadBalancer' })).toThrow(
      /^router.external.sourceRanges must be the client address blocks allowed to connect to the LoadBalancer Services .* or set router.external.allowAnySource to true/,
    );
    const open = external({ serviceType: 'LoadBalancer', allowAnySource: true });
    expect(open.get('Service', 'pg-ha-rw').spec.loadBalancerSourceRanges).toBeUndefined();
    expect(ipBlocks(open)).toEqual(['0.0.0.0/0 -> 5432,5433', '::/0 -> 5432,5433']);
  });

  test('source ranges and "any address" together contradict each other', () => {
    expect(() => external({ serviceType: 'LoadBalancer', sourceRanges: ['10.0.0.0/8'], allowAnySource: true })).toThrow(/^router.external.allowAnySource must be unset or false while router.external.sourceRanges/);
  });

  test('node ports are refused: the load balancer listens on the router\'s own ports', () => {
    expect(() => external({ serviceType: 'LoadBalancer', allowAnySource: true, writeNodePort: 30432 })).toThrow(/^router.external.writeNodePort must be unset with a LoadBalancer: the load balancer listens on the router's own port/);
  });

  test('externalTrafficPolicy Cluster is written as asked', () => {
    expect(external({ serviceType: 'LoadBalancer', allowAnySource: true, trafficPolicy: 'Cluster' }).get('Service', 'pg-ha-ro').spec.externalTrafficPolicy).toBe('Cluster');
  });
});

describe('a NodePort (compose\'s host ports)', () => {
  test('the host ports become the Services\' node ports', () => {
    const s = synth(settingsFromVariables({ ROUTER_SERVICE_TYPE: 'NodePort', ROUTER_SOURCE_RANGES: '192.168.0.0/16', POSTGRES_WRITE_HOST_PORT: '30432', POSTGRES_READ_HOST_PORT: '30433' }));
    expect(s.get('Service', 'pg-ha-rw').spec).toMatchObject({ type: 'NodePort', ports: [{ name: 'write', port: 5432, nodePort: 30432 }] });
    expect(s.get('Service', 'pg-ha-ro').spec).toMatchObject({ type: 'NodePort', ports: [{ name: 'read', port: 5433, nodePort: 30433 }] });
    // loadBalancerSourceRanges means nothing to a NodePort Service: the NetworkPolicy enforces the ranges.
    expect(s.get('Service', 'pg-ha-rw').spec.loadBalancerSourceRanges).toBeUndefined();
    expect(ipBlocks(s)).toEqual(['192.168.0.0/16 -> 5432,5433']);
  });

  test.each([[5432], [29999], [32768]])('host port %i is outside the node-port range: refused, with the way to a low port', (port) => {
    expect(() => external({ serviceType: 'NodePort', allowAnySource: true, writeNodePort: port })).toThrow(
      `router.external.writeNodePort must be a node port from 30000 to 32767 (Kubernetes' node-port range; for a lower port such as 5432 outside the cluster use serviceType LoadBalancer`,
    );
  });

  test('the two node ports must differ', () => {
    expect(() => external({ serviceType: 'NodePort', allowAnySource: true, writeNodePort: 30432, readNodePort: 30432 })).toThrow(/^router.external.readNodePort must be different from router.external.writeNodePort/);
  });

  test('source ranges without NetworkPolicies would be enforced nowhere: refused', () => {
    expect(() => external({ serviceType: 'NodePort', sourceRanges: ['10.0.0.0/8'] }, { networkPolicies: { enabled: false } })).toThrow(/^router.external.sourceRanges must be unset while networkPolicies.enabled is false with a NodePort Service/);
  });
});

describe('settings checks', () => {
  test.each([
    [{ ROUTER_SERVICE_TYPE: 'External' }, /^router.external.serviceType must be one of "ClusterIP", "LoadBalancer", "NodePort" \(got "External"\)/],
    [{ ROUTER_SERVICE_TYPE: 'LoadBalancer', ROUTER_SOURCE_RANGES: '10.0.0.0/33' }, /^router.external.sourceRanges\[0\] must be an address block in CIDR notation, e.g. "203.0.113.0\/24" or "2001:db8::\/32" \(got "10.0.0.0\/33"\)/],
    [{ ROUTER_SERVICE_TYPE: 'LoadBalancer', ROUTER_SOURCE_RANGES: '203.0.113.7' }, /^router.external.sourceRanges\[0\] must be an address block in CIDR notation/],
    [{ ROUTER_SERVICE_TYPE: 'LoadBalancer', ROUTER_ALLOW_ANY_SOURCE: 'true', ROUTER_EXTERNAL_TRAFFIC_POLICY: 'Nearest' }, /^router.external.trafficPolicy must be one of "Cluster", "Local" \(got "Nearest"\)/],
    [{ ROUTER_SERVICE_TYPE: 'LoadBalancer', ROUTER_ALLOW_ANY_SOURCE: 'true', ROUTER_SERVICE_ANNOTATIONS: 'nlb' }, /^ROUTER_SERVICE_ANNOTATIONS must be key=value pairs separated by commas/],
    [{ ROUTER_SERVICE_TYPE: 'LoadBalancer', ROUTER_ALLOW_ANY_SOURCE: 'true', ROUTER_SERVICE_ANNOTATIONS: 'bad key=x' }, /^ROUTER_SERVICE_ANNOTATIONS must be an annotation key/],
    [{ ROUTER_SOURCE_RANGES: '10.0.0.0/8' }, /^router.external.sourceRanges must be unset while router.external.serviceType is "ClusterIP" \(ROUTER_SERVICE_TYPE=ClusterIP\)/],
  ])('%j is refused, naming the setting, the value and what is valid', (vars, message) => {
    expect(() => synth(settingsFromVariables(vars as Record<string, string>))).toThrow(message);
  });

  test('annotation values may hold what label values may not (ARNs, slashes, colons)', () => {
    const arn = 'arn:aws:acm:eu-west-1:123456789012:certificate/abc';
    const s = synth(settingsFromVariables({ ROUTER_SERVICE_TYPE: 'LoadBalancer', ROUTER_ALLOW_ANY_SOURCE: 'true', ROUTER_SERVICE_ANNOTATIONS: `service.beta.kubernetes.io/aws-load-balancer-ssl-cert=${arn}` }));
    expect(s.get('Service', 'pg-ha-rw').metadata.annotations).toMatchObject({ 'service.beta.kubernetes.io/aws-load-balancer-ssl-cert': arn });
  });
});

describe('the certificate for clients outside the cluster', () => {
  const certificate = (s: ReturnType<typeof synth>) => s.all('Certificate')[0].spec.dnsNames as string[];

  test('POSTGRES_TLS_EXTERNAL_NAMES adds the external names to the cert-manager Certificate, after the in-cluster ones', () => {
    const names = certificate(synth(settingsFromVariables({ POSTGRES_TLS_ISSUER: 'ca', POSTGRES_TLS_EXTERNAL_NAMES: 'pg.example.com, *.db.example.com' })));
    expect(names.slice(-2)).toEqual(['pg.example.com', '*.db.example.com']);
    expect(names[0]).toBe('pg-ha-rw');
  });

  test.each(['pg', 'PG.example.com', '*.', 'pg.example.com.'])('%s is refused: not a DNS name a certificate can hold', (name) => {
    expect(() => synth({ postgres: { tls: { issuerName: 'ca', externalDnsNames: [name] } } })).toThrow(/^postgres.tls.externalDnsNames\[0\] must be a DNS name with at least one dot/);
  });

  test('without a cert-manager issuer the names would go nowhere: refused', () => {
    expect(() => synth(settingsFromVariables({ POSTGRES_TLS_EXTERNAL_NAMES: 'pg.example.com' }))).toThrow(/^postgres.tls.externalDnsNames must be unset while postgres.tls.issuerName is unset \(POSTGRES_TLS_ISSUER\)/);
  });
});
