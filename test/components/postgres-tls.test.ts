/** TLS for PostgreSQL: a user Secret or a cert-manager Certificate instead of Spilo's self-signed certificate. */
import { Manifests } from '../support/manifests';
import { synth } from '../support/synth';

const envOf = (manifests: Manifests, component: string, container: string) =>
  [...(manifests.workload(component).podSpec.initContainers ?? []), ...manifests.workload(component).podSpec.containers].find((c: any) => c.name === container).env as any[];
const envNamed = (env: any[], name: string) => env.find((e) => e.name === name);

describe('PostgreSQL serving certificate', () => {
  test('by default Spilo generates its own certificate (the init Job then only requires TLS: jobs.test.ts)', () => {
    const manifests = synth();
    expect(envNamed(envOf(manifests, 'database', 'postgres'), 'SSL_CERTIFICATE')).toBeUndefined();
    expect(manifests.all('Certificate')).toEqual([]);
  });

  test('from a Secret: Spilo reads the certificate, key and CA, and the init Job verifies the server', () => {
    const manifests = synth({ postgres: { tls: { secretName: 'pg-tls' } } });
    const spilo = envOf(manifests, 'database', 'postgres');
    // Spilo writes these to /run/certs, owned by postgres with mode 0600 (a mounted Secret would be root-owned).
    expect(envNamed(spilo, 'SSL_CERTIFICATE').valueFrom.secretKeyRef).toEqual({ name: 'pg-tls', key: 'tls.crt' });
    expect(envNamed(spilo, 'SSL_PRIVATE_KEY').valueFrom.secretKeyRef).toEqual({ name: 'pg-tls', key: 'tls.key' });
    expect(envNamed(spilo, 'SSL_CA').valueFrom.secretKeyRef).toEqual({ name: 'pg-tls', key: 'ca.crt', optional: true });

    const init = manifests.workload('init').podSpec;
    const initEnv = envOf(manifests, 'init', 'init');
    expect(envNamed(initEnv, 'PGSSLMODE').value).toBe('verify-full');
    expect(envNamed(initEnv, 'PGSSLROOTCERT').value).toBe('/etc/pg-ha-ca/ca.crt');
    // The Job mounts the CA only, never the server's private key.
    const ca = init.volumes.find((v: any) => v.name === 'ca');
    expect(ca.secret).toEqual({ secretName: 'pg-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
    expect(manifests.all('Certificate')).toEqual([]);
  });

  test('from cert-manager: a Certificate covers every name a client uses, including the init Job\'s PGHOST', () => {
    const manifests = synth({ postgres: { tls: { issuerName: 'internal-ca', issuerKind: 'ClusterIssuer' } } });
    const [certificate] = manifests.all('Certificate');
    expect(certificate.apiVersion).toBe('cert-manager.io/v1');
    expect(certificate.spec).toMatchObject({ secretName: 'pg-ha-tls', issuerRef: { name: 'internal-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' } });
    const pghost = envNamed(envOf(manifests, 'init', 'init'), 'PGHOST').value;
    expect(certificate.spec.dnsNames).toEqual(expect.arrayContaining([
      pghost, 'pg-ha-rw.pg-ha.svc.cluster.local', 'pg-ha-ro', 'pg-ha-ro.pg-ha.svc', '*.pg-ha-headless.pg-ha.svc.cluster.local',
    ]));
    expect(envNamed(envOf(manifests, 'database', 'postgres'), 'SSL_CERTIFICATE').valueFrom.secretKeyRef.name).toBe('pg-ha-tls');
  });

  test('invalid TLS settings name the setting', () => {
    expect(() => synth({ postgres: { tls: { issuerName: 'ca', issuerKind: 'CA' as any } } })).toThrow(/postgres.tls.issuerKind must be one of "Issuer", "ClusterIssuer" \(got "CA"\)/);
    expect(() => synth({ postgres: { tls: { secretName: 'PG_TLS' } } })).toThrow(/postgres.tls.secretName must be a DNS-1123 subdomain/);
    expect(() => synth({ postgres: { tls: { issuerName: 'My Issuer' } } })).toThrow(/postgres.tls.issuerName must be a DNS-1123 subdomain/);
  });
});
