/**
 * etcd's TLS, client certificates and authentication: what the manifests make etcd, Patroni and the Jobs do, the
 * migration step for clusters made with plain etcd, and the bad input refused at synth time.
 * That it works is proven on the real programs (e2e/lib/kubernetes/scenario-suite.ts, e2e/kubernetes-upgrade.e2e.ts).
 */
import { DeployedManifests } from '../../lib/k8s/claim-templates';
import { ETCD_TLS_MOVE_PAGE } from '../../lib/components/etcd/etcd-cluster';
import { REFUSED_EXIT_CODE } from '../../lib/k8s/workload';
import { PgHaChart, PgHaSettings } from '../../lib';
import { Testing } from 'cdk8s';
import { container, envOf, Manifest } from '../support/manifests';
import { synth } from '../support/synth';

const etcdOf = (s: ReturnType<typeof synth>) => s.get('StatefulSet', 'pg-ha-etcd');
const etcdEnv = (s: ReturnType<typeof synth>) => envOf(container(etcdOf(s), 'etcd'));
const spiloEnv = (s: ReturnType<typeof synth>) => envOf(container(s.get('StatefulSet', 'pg-ha'), 'postgres'));
const accessJob = (s: ReturnType<typeof synth>) => s.job('pg-ha-etcd-access-');

describe('etcd with TLS and authentication (the default)', () => {
  const s = synth();
  const env = etcdEnv(s);

  test('clients and peers on https with the Secret\'s certificate; peers must show a certificate of the CA', () => {
    expect(env.ETCD_LISTEN_CLIENT_URLS.value).toBe('https://0.0.0.0:2379');
    expect(env.ETCD_LISTEN_PEER_URLS.value).toBe('https://0.0.0.0:2380');
    expect(env.ETCD_ADVERTISE_CLIENT_URLS.value).toMatch(/^https:\/\//);
    expect(env.ETCD_INITIAL_CLUSTER.value.split(',').every((m: string) => m.includes('=https://'))).toBe(true);
    expect([env.ETCD_CERT_FILE.value, env.ETCD_KEY_FILE.value, env.ETCD_PEER_TRUSTED_CA_FILE.value])
      .toEqual(['/etc/etcd/tls/tls.crt', '/etc/etcd/tls/tls.key', '/etc/etcd/tls/ca.crt']);
    expect(env.ETCD_PEER_CLIENT_CERT_AUTH.value).toBe('true');
    // Clients too: without a certificate of the CA they are refused at the handshake (and then log in with a password).
    expect([env.ETCD_CLIENT_CERT_AUTH.value, env.ETCD_TRUSTED_CA_FILE.value]).toEqual(['true', '/etc/etcd/tls/ca.crt']);
    const volume = etcdOf(s).spec.template.spec.volumes.find((v: Manifest) => v.name === 'tls');
    // Listed keys: a Secret without ca.crt stops the pod with an event naming the key.
    expect(volume.secret).toEqual({ secretName: 'pg-ha-etcd-tls', defaultMode: 0o440, items: ['tls.crt', 'tls.key', 'ca.crt'].map((k) => ({ key: k, path: k })) });
  });

  test('probes and metrics stay on the plain listener (no TLS, no credentials, no key access)', () => {
    const etcd = container(etcdOf(s), 'etcd');
    expect(env.ETCD_LISTEN_METRICS_URLS.value).toBe('http://0.0.0.0:8080');
    expect([etcd.readinessProbe.httpGet.port, etcd.livenessProbe.httpGet.port]).toEqual(['metrics', 'metrics']);
    expect(etcd.readinessProbe.httpGet.scheme).toBeUndefined();
  });

  test('Patroni speaks https with the clients\' certificate and CA (never etcd\'s key) and logs in as its own user', () => {
    const spilo = spiloEnv(s);
    expect(spilo.ETCD3_PROTOCOL.value).toBe('https');
    expect([spilo.ETCD3_CACERT.value, spilo.ETCD3_CERT.value, spilo.ETCD3_KEY.value])
      .toEqual(['/etc/etcd-client-tls/ca.crt', '/etc/etcd-client-tls/tls.crt', '/etc/etcd-client-tls/tls.key']);
    expect(spilo.ETCD3_USERNAME.value).toBe('patroni');
    expect(spilo.ETCD3_PASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'etcd-patroni-password' });
    // ETCD3_HOSTS over https, not the advertised URLs (http while a cluster moves from plain etcd).
    expect(spilo.ETCD3_USE_PROXIES.value).toBe('true');
    const volume = s.get('StatefulSet', 'pg-ha').spec.template.spec.volumes.find((v: Manifest) => v.name === 'etcd-client-tls');
    // Listed keys (a Secret without one stops the pod with an event naming it); the key readable by the fsGroup only.
    expect(volume.secret).toEqual({ secretName: 'pg-ha-etcd-client-tls', defaultMode: 0o440, items: ['tls.crt', 'tls.key', 'ca.crt'].map((k) => ({ key: k, path: k })) });
    expect(JSON.stringify(s.get('StatefulSet', 'pg-ha'))).not.toContain('"pg-ha-etcd-tls"');
  });

  test('the secrets Job signs the clients\' certificate with the same CA, without a common name (etcd\'s gateway refuses one with a CN)', () => {
    const job = envOf(container(s.job('pg-ha-secrets-'), 'create-secret'));
    expect([job.ETCD_CLIENT_TLS_SECRET.value, job.ETCD_CLIENT_TLS_ORGANIZATION.value]).toEqual(['pg-ha-etcd-client-tls', 'pg-ha-etcd-client']);
    // created once, then only read
    expect(s.get('Role', 'pg-ha-secrets').rules).toContainEqual({ apiGroups: [''], resources: ['secrets'], resourceNames: ['pg-ha-etcd-tls', 'pg-ha-etcd-client-tls', 'pg-ha-etcd-ca'], verbs: ['get'] });
  });

  test('the secrets Job generates the CA and a certificate for every name etcd is reached by', () => {
    const job = envOf(container(s.job('pg-ha-secrets-'), 'create-secret'));
    expect([job.ETCD_TLS_SOURCE.value, job.ETCD_TLS_SECRET.value, job.ETCD_CA_SECRET.value]).toEqual(['generated', 'pg-ha-etcd-tls', 'pg-ha-etcd-ca']);
    expect(job.ETCD_TLS_NAMES.value.split(',')).toEqual([
      '*.pg-ha-etcd-headless.pg-ha.svc.cluster.local', '*.pg-ha-etcd-headless.pg-ha.svc',
      'pg-ha-etcd', 'pg-ha-etcd.pg-ha', 'pg-ha-etcd.pg-ha.svc', 'pg-ha-etcd.pg-ha.svc.cluster.local', 'localhost', '127.0.0.1',
    ]);
    // Every member's advertised name is covered by the wildcard.
    expect(etcdEnv(s).ETCD_ADVERTISE_CLIENT_URLS.value).toMatch(/\$\(POD_NAME\)\.pg-ha-etcd-headless\.pg-ha\.svc\.cluster\.local:/);
  });

  test('the etcd access Job: over https with the CA, the root and Patroni passwords from the Secret, Patroni limited to /service/<scope>/, auth on', () => {
    const job = accessJob(s);
    const env = envOf(container(job, 'etcd-access'));
    expect(env.ETCD_ENDPOINTS.value.split(',')).toEqual([0, 1, 2].map((i) => `https://pg-ha-etcd-${i}.pg-ha-etcd-headless.pg-ha.svc.cluster.local:2379`));
    expect(env.ETCD_PATRONI_PREFIX.value).toBe('/service/pg-ha/');
    expect(env.ETCD_AUTH.value).toBe('true');
    expect(env.ETCD_ROOT_PASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'etcd-root-password' });
    expect(env.ETCD_PATRONI_PASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'pg-ha-credentials', key: 'etcd-patroni-password' });
    expect([env.ETCD_CACERT.value, env.ETCD_CERT.value, env.ETCD_KEY.value, env.ETCD_CLIENT_TLS_SECRET.value])
      .toEqual(['/etc/etcd-client-tls/ca.crt', '/etc/etcd-client-tls/tls.crt', '/etc/etcd-client-tls/tls.key', 'pg-ha-etcd-client-tls']);
    // The whole Secret, no key list: the script names a missing key in the Job's log.
    expect(job.spec.template.spec.volumes.find((v: Manifest) => v.name === 'client-tls').secret).toEqual({ secretName: 'pg-ha-etcd-client-tls', defaultMode: 0o440 });
    expect(job.spec.template.spec.automountServiceAccountToken).toBe(false);
  });

  test('the etcd access Job fails at once when the script refuses (a wrong configuration), and retries only other failures', () => {
    // GIVEN the refusal a fork that merged 0.2.0 without ETCD_AUTH=false meets: found on the real-Kubernetes
    // bed, where the retries (backoffLimit 6) kept the sync waiting about 10 minutes before it failed
    const job = accessJob(s);
    // THEN the script's refusal exit status fails the Job without a retry; other failures are retried
    expect(job.spec.podFailurePolicy).toEqual({ rules: [{ action: 'FailJob', onExitCodes: { containerName: 'etcd-access', operator: 'In', values: [REFUSED_EXIT_CODE] } }] });
    expect(job.spec.backoffLimit).toBeGreaterThan(0);
    // a podFailurePolicy needs restartPolicy Never (the API server refuses it with OnFailure)
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(REFUSED_EXIT_CODE).not.toBe(1);
  });

  test('another scope gets its own prefix, Secret names and certificate names', () => {
    const other = synth({ scope: 'orders', namespace: 'shop' });
    expect(envOf(container(other.job('orders-etcd-access-'), 'etcd-access')).ETCD_PATRONI_PREFIX.value).toBe('/service/orders/');
    expect(envOf(container(other.job('orders-secrets-'), 'create-secret')).ETCD_TLS_NAMES.value).toContain('*.orders-etcd-headless.shop.svc.cluster.local');
  });
});

describe('etcd TLS off (ETCD_TLS=false)', () => {
  const s = synth({ etcd: { tls: { enabled: false } } });

  test('plain http, no auth, no etcd keys in the Secret, no etcd access Job', () => {
    expect(etcdEnv(s).ETCD_LISTEN_CLIENT_URLS.value).toBe('http://0.0.0.0:2379');
    expect(etcdEnv(s).ETCD_CERT_FILE).toBeUndefined();
    expect(spiloEnv(s).ETCD3_PROTOCOL).toBeUndefined();
    expect(spiloEnv(s).ETCD3_PASSWORD).toBeUndefined();
    expect(s.all('Job').filter((j) => j.metadata.name.includes('etcd-access'))).toEqual([]);
    expect(envOf(container(s.job('pg-ha-secrets-'), 'create-secret')).SECRET_KEYS.value).not.toContain('etcd');
  });

  test('auth without TLS is refused: passwords must not cross the network in clear', () => {
    expect(() => synth({ etcd: { tls: { enabled: false }, auth: true } }))
      .toThrow(/^etcd.auth must be false or unset while etcd.tls.enabled is false \(ETCD_TLS=false\): etcd's passwords must not cross the network in clear \(got true\)/);
    expect(() => synth({ etcd: { tls: { enabled: false, secretName: 'x' } } })).toThrow(/^etcd.tls.secretName must be unset while etcd.tls.enabled is false \(ETCD_TLS=false\)/);
  });
});

describe('etcd TLS from a Secret or cert-manager', () => {
  test('ETCD_TLS_SECRET with ETCD_CLIENT_TLS_SECRET: the secrets Job only checks both (tls.crt, tls.key, ca.crt) and may only read them', () => {
    const s = synth({ etcd: { tls: { secretName: 'my-etcd-tls', clientSecretName: 'my-etcd-client-tls' } } });
    const job = envOf(container(s.job('pg-ha-secrets-'), 'create-secret'));
    expect([job.ETCD_TLS_SOURCE.value, job.ETCD_TLS_SECRET.value, job.ETCD_CLIENT_TLS_SECRET.value, job.ETCD_CA_SECRET, job.ETCD_CLIENT_TLS_ORGANIZATION])
      .toEqual(['existing', 'my-etcd-tls', 'my-etcd-client-tls', undefined, undefined]);
    expect(s.get('Role', 'pg-ha-secrets').rules).toContainEqual({ apiGroups: [''], resources: ['secrets'], resourceNames: ['my-etcd-tls', 'my-etcd-client-tls'], verbs: ['get'] });
    expect(etcdOf(s).spec.template.spec.volumes[0].secret.secretName).toBe('my-etcd-tls');
    expect(s.get('StatefulSet', 'pg-ha').spec.template.spec.volumes.find((v: Manifest) => v.name === 'etcd-client-tls').secret.secretName).toBe('my-etcd-client-tls');
  });

  test('ETCD_CLIENT_TLS_SECRET: required with ETCD_TLS_SECRET, refused without it, never etcd\'s own Secret', () => {
    expect(() => synth({ etcd: { tls: { secretName: 'my-etcd-tls' } } }))
      .toThrow(/^etcd.tls.clientSecretName must be set \(ETCD_CLIENT_TLS_SECRET=<Secret with tls.crt, tls.key, ca.crt>\) while etcd.tls.secretName \(ETCD_TLS_SECRET\) is set/);
    expect(() => synth({ etcd: { tls: { clientSecretName: 'mine' } } }))
      .toThrow(/^etcd.tls.clientSecretName must be unset unless etcd.tls.secretName \(ETCD_TLS_SECRET\) is set: the clients' certificate is generated into pg-ha-etcd-client-tls \(got "mine"\)/);
    expect(() => synth({ etcd: { tls: { secretName: 'mine', clientSecretName: 'mine' } } }))
      .toThrow(/^etcd.tls.clientSecretName must be another Secret than etcd.tls.secretName: etcd's key must not be mounted in the clients' pods \(got "mine"\)/);
  });

  test('ETCD_TLS_ISSUER: a Certificate for the same names, usable by servers and by peers as clients', () => {
    const s = synth({ etcd: { tls: { issuerName: 'internal-ca', issuerKind: 'ClusterIssuer' } } });
    const certificate = s.all('Certificate').find((c) => c.metadata.name === 'pg-ha-etcd-tls')!;
    expect(certificate.spec).toMatchObject({
      secretName: 'pg-ha-etcd-tls',
      issuerRef: { name: 'internal-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
      ipAddresses: ['127.0.0.1'],
      usages: ['server auth', 'client auth', 'digital signature', 'key encipherment'],
    });
    expect(certificate.spec.dnsNames).toContain('*.pg-ha-etcd-headless.pg-ha.svc.cluster.local');
    expect(envOf(container(s.job('pg-ha-secrets-'), 'create-secret')).ETCD_TLS_SOURCE.value).toBe('issued');
    // The clients' certificate: client auth only, from the same issuer, no common name (a URI names it: cert-manager wants a name)
    const client = s.all('Certificate').find((c) => c.metadata.name === 'pg-ha-etcd-client-tls')!;
    expect(client.spec).toEqual({
      secretName: 'pg-ha-etcd-client-tls',
      issuerRef: { name: 'internal-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
      subject: { organizations: ['pg-ha-etcd-client'] },
      uris: ['urn:pg-ha:pg-ha:pg-ha-etcd-client'],
      usages: ['client auth', 'digital signature', 'key encipherment'],
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      secretTemplate: { labels: client.metadata.labels },
    });
  });

  test('an issuer kind other than Issuer or ClusterIssuer is refused, naming the setting', () => {
    expect(() => synth({ etcd: { tls: { issuerName: 'ca', issuerKind: 'CA' as any } } })).toThrow(/^etcd.tls.issuerKind must be one of "Issuer", "ClusterIssuer" \(got "CA"\)/);
    expect(() => synth({ etcd: { tls: { issuerKind: 'ClusterIssuer' } } })).toThrow(/^etcd.tls.issuerKind must be unset while etcd.tls.issuerName is unset \(ETCD_TLS_ISSUER\)/);
  });
});

describe('moving a cluster made with plain etcd to TLS (ETCD_TLS_MIGRATION)', () => {
  const s = synth({ etcd: { tls: { migration: true } } });
  const env = etcdEnv(s);

  test('step 1: clients on http and https (one port), peers on http 2380 and https 2382, http URLs still advertised', () => {
    expect(env.ETCD_LISTEN_CLIENT_URLS.value).toBe('http://0.0.0.0:2379,https://0.0.0.0:2379');
    expect(env.ETCD_LISTEN_PEER_URLS.value).toBe('http://0.0.0.0:2380,https://0.0.0.0:2382');
    expect(env.ETCD_ADVERTISE_CLIENT_URLS.value).toMatch(/^http:\/\//);
    expect(container(etcdOf(s), 'etcd').ports).toContainEqual({ name: 'peer-tls', containerPort: 2382 });
    const policy = s.get('NetworkPolicy', 'pg-ha-etcd');
    expect(policy.spec.ingress[1].ports.map((p: Manifest) => p.port)).toEqual([2379, 2380, 2382]);
  });

  test('step 1: Patroni on https with the clients\' certificate, without an etcd password, auth off; step 2 (ETCD_AUTH=false) keeps that Spilo template', () => {
    expect(spiloEnv(s).ETCD3_PROTOCOL.value).toBe('https');
    expect(spiloEnv(s).ETCD3_CERT.value).toBe('/etc/etcd-client-tls/tls.crt');
    expect(spiloEnv(s).ETCD3_PASSWORD).toBeUndefined();
    // etcd asks for client certificates only from step 2 (http is still served in step 1; old Spilo pods have none)
    expect(env.ETCD_CLIENT_CERT_AUTH).toBeUndefined();
    expect(etcdEnv(synth({ etcd: { auth: false } })).ETCD_CLIENT_CERT_AUTH.value).toBe('true');
    const step2 = synth({ etcd: { auth: false } });
    expect(s.get('StatefulSet', 'pg-ha').spec.template).toEqual(step2.get('StatefulSet', 'pg-ha').spec.template);
    const job = envOf(container(accessJob(s), 'etcd-access'));
    expect([job.ETCD_AUTH.value, job.ETCD_TLS_MIGRATION.value, job.ETCD_MIGRATION_PEER_PORT.value, job.ETCD_ROOT_PASSWORD]).toEqual(['false', 'true', '2382', undefined]);
    // Patroni 4.0 with a password cannot start while auth is off, nor run without one once it is on.
    expect(() => synth({ etcd: { auth: true, tls: { migration: true } } })).toThrow(/^etcd.auth must be false or unset while etcd.tls.migration is true/);
  });

  const overDeployed = (deployedSettings: PgHaSettings, settings: PgHaSettings) => {
    const deployed = new DeployedManifests(Testing.synth(new PgHaChart(Testing.app(), 'pg-ha', deployedSettings)) as Manifest[]);
    return () => Testing.synth(new PgHaChart(Testing.app(), 'pg-ha', settings, { deployed }));
  };

  test('over a dist/ with plain etcd, the default (TLS and auth at once) is refused, naming the line to add and the page of the steps', () => {
    // GIVEN a cluster made from a dist/ older than release 0.1.0 (plain http etcd, no migration flag)
    // WHEN the default settings are synthesized over it THEN the error names the exact line and the page
    const refused = overDeployed({ etcd: { tls: { enabled: false } } }, {});
    expect(refused).toThrow(/^etcd.tls.migration must be true first: the deployed dist\/ runs etcd on plain http/);
    expect(refused).toThrow('Add the line ETCD_TLS_MIGRATION=true to pg-ha.env');
    expect(refused).toThrow(`(${ETCD_TLS_MOVE_PAGE})`);
    expect(overDeployed({ etcd: { tls: { enabled: false } } }, { etcd: { tls: { migration: true } } })).not.toThrow();
    expect(overDeployed({ etcd: { tls: { migration: true } } }, { etcd: { auth: false } })).not.toThrow();
    // Auth on under Spilo pods that have no etcd password (a cluster at step 1, e.g. from release 0.1.0's dist/): refused, naming the line.
    const step2 = overDeployed({ etcd: { tls: { migration: true } } }, {});
    expect(step2).toThrow(/^etcd.auth must be false: the deployed dist\/ runs Patroni without an etcd password/);
    expect(step2).toThrow(`Add the line ETCD_AUTH=false to pg-ha.env (step 2 of the move: ${ETCD_TLS_MOVE_PAGE})`);
    // A new cluster (nothing deployed) and one made with TLS and auth never meet the move.
    expect(overDeployed({}, {})).not.toThrow();
    expect(() => Testing.synth(new PgHaChart(Testing.app(), 'pg-ha', {}, { deployed: new DeployedManifests([]) }))).not.toThrow();
    expect(overDeployed({}, { etcd: { tls: { enabled: false } } })).toThrow(/^etcd.tls.enabled must be true: the deployed dist\/ runs etcd with TLS/);
    // Back from TLS only to the migration step: its members would listen http where their peers dial https.
    expect(overDeployed({ etcd: { auth: false } }, { etcd: { auth: false, tls: { migration: true } } })).toThrow(/^etcd.tls.migration must be false: the deployed dist\/ runs etcd on TLS only already/);
    expect(overDeployed({ etcd: { tls: { migration: true } } }, { etcd: { auth: false, tls: { migration: true } } })).not.toThrow();
  });
});
