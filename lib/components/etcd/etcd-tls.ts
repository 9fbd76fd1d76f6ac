/**
 * etcd's certificates: the members' (serving clients and peers; each member is the others' TLS
 * client) and the one etcd's clients present (Patroni, the etcd access Job: `--client-cert-auth`),
 * both signed by the cluster's etcd CA; generated once by the secrets Job, brought as Secrets, or
 * issued by cert-manager.
 */
import { Construct } from 'constructs';
import { standardLabels } from '../../k8s/labels';
import { EtcdTlsSettings, IssuerKind, ISSUER_KINDS } from '../../settings/component-settings';
import { DEFAULTS } from '../../settings/defaults';
import { checkDnsLabel, checkDnsSubdomain, checkOneOf, ConfigError } from '../../validation';
import { ClusterContext, serviceFqdn } from '../../settings/cluster-names';
import { Certificate } from '../postgres/postgres-tls';

/** Where etcd's certificate comes from. */
export type EtcdTlsSource = 'generated' | 'existing' | 'issued';

/** etcd's TLS as the settings decide it. */
export interface EtcdTls {
  /** The Secret with `tls.crt`, `tls.key` and `ca.crt`. */
  readonly secretName: string;
  readonly source: EtcdTlsSource;
  /** The Secret keeping the generated CA's certificate and key (for renewal), when generated. */
  readonly caSecretName?: string;
  readonly issuer?: { readonly name: string; readonly kind: IssuerKind };
  /** Step 1 of the move from plain etcd (`etcd.tls.migration`): http and https side by side, auth off. */
  readonly migration: boolean;
  /**
   * The Secret with the clients' certificate (`tls.crt`, `tls.key`, `ca.crt`): generated, issued
   * or brought like `secretName` (`etcd.tls.clientSecretName` with your own).
   */
  readonly clientSecretName: string;
  /**
   * etcd refuses, at the TLS handshake, a client without a certificate of the CA (`--client-cert-auth`):
   * whenever TLS is on, except in the migration step (plain http is still served then, and the old
   * Spilo pods have no certificate).
   */
  readonly clientCertAuth: boolean;
}

/**
 * The organization (subject `O=`) of the clients' certificate. It has no common name: etcd 3.5's JSON
 * gateway, which Patroni and the etcd access Job use, answers every request of a client whose
 * certificate has one with HTTP 400 "CommonName of client sending a request against gateway will be
 * ignored and not used as expected" (checked on the bed: e2e/etcd-client-cert-auth/run.sh). Without
 * one, the user is the password's (the token's), on the gateway and over gRPC.
 */
export function etcdClientOrganization(cluster: ClusterContext): string {
  return `${cluster.name}-etcd-client`;
}

/** etcd's TLS and authentication, checked together: auth needs TLS (passwords never cross in clear). */
export function resolveEtcdSecurity(cluster: ClusterContext, tls: EtcdTlsSettings = {}, auth?: boolean): { tls?: EtcdTls; auth: boolean } {
  const enabled = tls.enabled ?? DEFAULTS.etcd.tls.enabled;
  if (!enabled) {
    if (auth === true) {
      throw new ConfigError('etcd.auth', auth, 'false or unset while etcd.tls.enabled is false (ETCD_TLS=false): etcd\'s passwords must not cross the network in clear');
    }
    return { auth: false };
  }
  const issuer = tls.issuerName === undefined ? undefined : {
    name: checkDnsSubdomain('etcd.tls.issuerName', tls.issuerName),
    kind: checkOneOf('etcd.tls.issuerKind', tls.issuerKind ?? DEFAULTS.etcd.tls.issuerKind, ISSUER_KINDS),
  };
  const secretName = tls.secretName === undefined ? `${cluster.name}-etcd-tls` : checkDnsLabel('etcd.tls.secretName', tls.secretName, 253);
  const source: EtcdTlsSource = issuer ? 'issued' : tls.secretName !== undefined ? 'existing' : 'generated';
  // One rule: your own etcd certificate (ETCD_TLS_SECRET) comes with your own client certificate, and
  // only then (the generated or issued one is signed by the same CA as etcd's; yours cannot be made here).
  if (source === 'existing' && tls.clientSecretName === undefined) {
    throw new ConfigError('etcd.tls.clientSecretName', undefined, 'set (ETCD_CLIENT_TLS_SECRET=<Secret with tls.crt, tls.key, ca.crt>) while etcd.tls.secretName (ETCD_TLS_SECRET) is set: '
      + 'etcd asks its clients for a certificate of its CA (client auth, no common name), and the chart cannot sign one with your CA (docs/security.md)');
  }
  if (source !== 'existing' && tls.clientSecretName !== undefined) {
    throw new ConfigError('etcd.tls.clientSecretName', tls.clientSecretName, `unset unless etcd.tls.secretName (ETCD_TLS_SECRET) is set: the clients' certificate is ${source === 'issued' ? 'issued by cert-manager' : 'generated'} into ${cluster.name}-etcd-client-tls`);
  }
  const clientSecretName = tls.clientSecretName === undefined ? `${cluster.name}-etcd-client-tls` : checkDnsLabel('etcd.tls.clientSecretName', tls.clientSecretName, 253);
  if (clientSecretName === secretName) {
    throw new ConfigError('etcd.tls.clientSecretName', clientSecretName, 'another Secret than etcd.tls.secretName: etcd\'s key must not be mounted in the clients\' pods');
  }
  const migration = tls.migration ?? DEFAULTS.etcd.tls.migration;
  if (migration && auth === true) {
    // Patroni 4.0 with a password cannot start while etcd's auth is off (patroni/patroni#3525), and
    // the old Spilo pods have none: there is no moment both kinds of pods work (docs/security.md).
    throw new ConfigError('etcd.auth', auth, 'false or unset while etcd.tls.migration is true (ETCD_TLS_MIGRATION=true): the Spilo pods of a cluster made with plain etcd have no etcd password, and etcd\'s authentication cannot be turned on under them');
  }
  return {
    tls: { secretName, clientSecretName, clientCertAuth: !migration, source, issuer, migration, ...(source === 'generated' ? { caSecretName: `${cluster.name}-etcd-ca` } : {}) },
    auth: auth ?? !migration,
  };
}

/**
 * Every name etcd is reached by: each member behind the headless Service (peers and Patroni use
 * the advertised `<pod>.<headless>.<ns>.svc.cluster.local`), the client Service short, namespaced
 * and fully qualified, and the loopback (etcdctl inside a member's pod).
 */
export function etcdTlsDnsNames(cluster: ClusterContext, headlessService: string, clientService: string): string[] {
  const headless = serviceFqdn(cluster, headlessService);
  return [
    `*.${headless}`,
    `*.${headlessService}.${cluster.namespace}.svc`,
    clientService,
    `${clientService}.${cluster.namespace}`,
    `${clientService}.${cluster.namespace}.svc`,
    serviceFqdn(cluster, clientService),
    'localhost',
    '127.0.0.1',
  ];
}

export interface EtcdCertificateProps {
  readonly cluster: ClusterContext;
  readonly tls: EtcdTls;
  /** Names the certificate covers (`etcdTlsDnsNames`). */
  readonly dnsNames: string[];
}

/** The cert-manager Certificates that issue etcd's certificate and its clients' into their Secrets. */
export class EtcdCertificate extends Construct {
  public readonly certificate: Certificate;
  /** The clients' certificate (client auth only, no common name: `etcdClientOrganization`). */
  public readonly clientCertificate: Certificate;

  constructor(scope: Construct, id: string, props: EtcdCertificateProps) {
    super(scope, id);
    const { cluster, tls } = props;
    if (!tls.issuer) throw new Error('EtcdCertificate needs an issuer');
    const labels = standardLabels({ instance: cluster.name, name: 'etcd', component: 'dcs' });
    // cert-manager wants IP addresses apart from DNS names.
    const isIp = (name: string) => /^\d+\.\d+\.\d+\.\d+$/.test(name);
    this.certificate = new Certificate(this, 'Certificate', {
      metadata: { name: tls.secretName, labels },
      spec: {
        secretName: tls.secretName,
        issuerRef: { name: tls.issuer.name, kind: tls.issuer.kind, group: 'cert-manager.io' },
        commonName: `${cluster.name}-etcd`,
        dnsNames: props.dnsNames.filter((n) => !isIp(n)),
        ipAddresses: props.dnsNames.filter(isIp),
        // The same certificate serves clients and peers and is each peer's client certificate.
        usages: ['server auth', 'client auth', 'digital signature', 'key encipherment'],
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        secretTemplate: { labels },
      },
    });
    const clientLabels = standardLabels({ instance: cluster.name, name: 'etcd-client', component: 'dcs' });
    this.clientCertificate = new Certificate(this, 'ClientCertificate', {
      metadata: { name: tls.clientSecretName, labels: clientLabels },
      spec: {
        secretName: tls.clientSecretName,
        issuerRef: { name: tls.issuer.name, kind: tls.issuer.kind, group: 'cert-manager.io' },
        // No commonName (etcd's gateway refuses a client certificate with one); cert-manager wants a
        // name of some kind, so a URI naming what the certificate is for.
        subject: { organizations: [etcdClientOrganization(cluster)] },
        uris: [`urn:pg-ha:${cluster.namespace}:${etcdClientOrganization(cluster)}`],
        usages: ['client auth', 'digital signature', 'key encipherment'],
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        secretTemplate: { labels: clientLabels },
      },
    });
  }
}
