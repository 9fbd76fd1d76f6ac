/**
 * PostgreSQL's serving certificate: from a user Secret, optionally issued by cert-manager.
 *
 * Without it Spilo generates a self-signed certificate (CN=spilo.example.org): traffic is encrypted
 * but a client cannot tell the server from an impostor. With it, clients connect with
 * `sslmode=verify-full` to the router's Service names, which the certificate lists.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { standardLabels } from '../../k8s/labels';
import { IssuerKind, ISSUER_KINDS, PostgresTlsSettings } from '../../settings/component-settings';
import { DEFAULTS } from '../../settings/defaults';
import { checkDnsLabel, checkDnsSubdomain, checkOneOf, ConfigError } from '../../validation';
import { ClusterContext, serviceFqdn } from '../../settings/cluster-names';

/** The Secret name PostgreSQL's certificate comes from, or undefined for Spilo's self-signed one. */
export function resolvePostgresTls(cluster: ClusterContext, tls: PostgresTlsSettings): string | undefined {
  if (tls.issuerName !== undefined) checkDnsSubdomain('postgres.tls.issuerName', tls.issuerName);
  if (tls.issuerKind !== undefined) checkOneOf('postgres.tls.issuerKind', tls.issuerKind, ISSUER_KINDS);
  if (tls.secretName !== undefined) return checkDnsSubdomain('postgres.tls.secretName', tls.secretName);
  return tls.issuerName !== undefined ? `${cluster.name}-tls` : undefined;
}

/**
 * Every name a client may use to reach PostgreSQL: the router's Services (short, namespaced and
 * fully qualified) and each member behind the headless Service (for direct, e.g. replication, access).
 */
export function postgresTlsDnsNames(cluster: ClusterContext, routerServices: string[], headlessService: string): string[] {
  const names: string[] = [];
  for (const service of routerServices) {
    names.push(service, `${service}.${cluster.namespace}`, `${service}.${cluster.namespace}.svc`, serviceFqdn(cluster, service));
  }
  names.push(`*.${serviceFqdn(cluster, headlessService)}`);
  return names;
}

/** The names clients outside the cluster use (`postgres.tls.externalDnsNames`), checked; a leading `*.` is allowed. */
export function externalDnsNames(names: readonly string[] = []): string[] {
  return names.map((name, i) => {
    const setting = `postgres.tls.externalDnsNames[${i}]`;
    const host = name.startsWith('*.') ? name.slice(2) : name;
    if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/.test(host) || host.length > 253) {
      throw new ConfigError(setting, name, 'a DNS name with at least one dot, e.g. "pg.example.com" or "*.db.example.com" (lowercase)');
    }
    return name;
  });
}

/** The fields of a cert-manager `Certificate` the chart sets (cert-manager.io/v1). */
export interface CertificateSpec {
  readonly secretName: string;
  readonly issuerRef: { readonly name: string; readonly kind: IssuerKind; readonly group: 'cert-manager.io' };
  readonly commonName?: string;
  readonly dnsNames?: string[];
  readonly ipAddresses?: string[];
  readonly uris?: string[];
  readonly subject?: { readonly organizations?: string[] };
  readonly usages: string[];
  readonly privateKey?: { readonly algorithm?: 'RSA' | 'ECDSA' | 'Ed25519'; readonly size?: number; readonly rotationPolicy?: 'Always' | 'Never' };
  readonly secretTemplate?: { readonly labels?: Record<string, string> };
}

/**
 * A cert-manager Certificate. The repo vendors no cert-manager CRD (it is optional and off by
 * default), so this is a small typed wrapper over ApiObject instead of a generated import.
 */
export class Certificate extends ApiObject {
  constructor(scope: Construct, id: string, props: { readonly metadata: { readonly name: string; readonly labels?: Record<string, string> }; readonly spec: CertificateSpec }) {
    super(scope, id, { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: props.metadata, spec: props.spec });
  }
}

export interface PostgresCertificateProps {
  readonly cluster: ClusterContext;
  /** Secret cert-manager writes. */
  readonly secretName: string;
  readonly issuerName: string;
  /** @default DEFAULTS.postgres.tls.issuerKind */
  readonly issuerKind?: IssuerKind;
  /** Names the certificate covers (see `postgresTlsDnsNames`). */
  readonly dnsNames: string[];
}

/** The Certificate that issues PostgreSQL's serving certificate into `secretName`. */
export class PostgresCertificate extends Construct {
  public readonly certificate: Certificate;

  constructor(scope: Construct, id: string, props: PostgresCertificateProps) {
    super(scope, id);
    const { cluster } = props;
    const issuerName = checkDnsSubdomain('postgres.tls.issuerName', props.issuerName);
    const kind = checkOneOf('postgres.tls.issuerKind', props.issuerKind ?? DEFAULTS.postgres.tls.issuerKind, ISSUER_KINDS);
    const labels = standardLabels({ instance: cluster.name, name: 'postgresql', component: 'database' });
    this.certificate = new Certificate(this, 'Certificate', {
      metadata: { name: checkDnsLabel('postgres.tls.secretName', props.secretName, 253), labels },
      spec: {
        secretName: props.secretName,
        issuerRef: { name: issuerName, kind, group: 'cert-manager.io' },
        // libpq's verify-full checks the subjectAltNames; the first name is also the common name.
        commonName: props.dnsNames[0],
        dnsNames: props.dnsNames,
        usages: ['server auth', 'digital signature'],
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        secretTemplate: { labels },
      },
    });
  }
}
