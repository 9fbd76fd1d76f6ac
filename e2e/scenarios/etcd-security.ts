/*
 * Scenario: etcd's TLS, client certificates and authentication, with curl against the real etcd (as
 * an operator or an intruder in the namespace would try it). A plain-http client, a client without
 * the CA, a client without the clients' certificate (even with the CA and Patroni's password: refused
 * at the TLS handshake) and a client without credentials are refused; Patroni's user reads and writes only its prefix, which is
 * where Patroni really keeps the cluster (its leader key is there); health and metrics answer on
 * the plain listener without TLS or credentials.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { etcdAsksClientCert, etcdCaFile, etcdCurl, etcdHealthUrl, EtcdClientCert } from '../lib/programs/etcd';
import { httpRequest } from '../lib/poll';
import type { K8sObject } from '../lib/manifests';
import type { Testbed } from '../lib/testbed';
import type { SuiteContext } from './suite';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Patroni's etcd user and password, as its pods get them (ETCD3_USERNAME, ETCD3_PASSWORD from the Secret). */
function patroniEtcdUser(bed: Testbed): { name: string; password: string } {
  const pod = bed.pgPods[0];
  const env = bed.translator.containerEnv(pod, pod.containerOf('spilo').spec);
  return { name: env.ETCD3_USERNAME, password: env.ETCD3_PASSWORD };
}

/** The etcd access Job of the manifests. */
function accessJob(bed: Testbed): K8sObject {
  const job = bed.manifests.all('Job').find((j) => /-etcd-access-[0-9a-f]+$/.test(j.metadata.name));
  if (!job) throw new Error('no etcd access Job in the manifests (ETCD_TLS off?)');
  return job;
}

/** The key prefix the etcd access Job gave Patroni's role. */
function patroniPrefix(bed: Testbed): string {
  return accessJob(bed).spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'ETCD_PATRONI_PREFIX').value;
}

/** The clients' certificate the Postgres pods show etcd (mounted from `<scope>-etcd-client-tls`). */
function clientCert(bed: Testbed): EtcdClientCert {
  const cert = bed.etcdClientCert();
  if (!cert) throw new Error('the Postgres pods have no etcd client certificate (etcd3.cert, etcd3.key)');
  return cert;
}

/** A client certificate of another CA (self-signed, client auth, no common name), in the bed's run directory. */
function selfSignedClientCert(bed: Testbed): EtcdClientCert {
  const dir = fs.mkdtempSync(path.join(bed.runDir, 'foreign-etcd-client-'));
  const cert = path.join(dir, 'tls.crt');
  const key = path.join(dir, 'tls.key');
  execFileSync('openssl', ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/O=intruder', '-addext', 'extendedKeyUsage=clientAuth', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

export function etcdSecurity(ctx: SuiteContext): void {
  describe('etcd TLS, client certificates and authentication', () => {
    test("a client with the CA and Patroni's password but without the clients' certificate is refused at the TLS handshake; with it, the same login works", () => {
      const { bed } = ctx;
      const member = bed.etcdPods[0];
      expect(etcdAsksClientCert(member)).toBe(true);
      const ca = etcdCaFile(member);
      const user = patroniEtcdUser(bed);
      // GIVEN everything but the certificate: etcd's CA and Patroni's name and password
      const without = etcdCurl(member, '/v3/auth/authenticate', user, { ca });
      // curl: the server ends the handshake (35: SSL connect error, 56: receive failure, 55: send failure)
      expect([35, 55, 56]).toContain(without.code);
      expect(without.out).not.toContain('token');
      // the member's log names why
      expect(fs.readFileSync(path.join(member.dir, 'logs', 'etcd.log'), 'utf8')).toMatch(/rejected connection on client endpoint.*client didn't provide a certificate/);
      // a certificate of another CA: refused too (unknown ca)
      const other = selfSignedClientCert(bed);
      const foreign = etcdCurl(member, '/v3/auth/authenticate', user, { ca, cert: other });
      expect(foreign.code).not.toBe(0);
      expect(foreign.out).not.toContain('token');
      // WITH the clients' certificate (no common name: etcd's gateway then takes the password's user)
      const withCert = etcdCurl(member, '/v3/auth/authenticate', user, { ca, cert: clientCert(bed) });
      expect(withCert.code).toBe(0);
      expect(JSON.parse(withCert.out).token).toBeTruthy();
    });

    test('a plain-http client, a client without the CA and a client without credentials are refused', () => {
      const member = ctx.bed.etcdPods[0];
      const ca = etcdCaFile(member);
      expect(ca).toBeDefined();
      const range = { key: b64('/') , range_end: b64('\0') };
      // plain http to the TLS port: no answer etcd would give (curl: empty reply or reset)
      const plain = etcdCurl(member, '/v3/kv/range', range, { scheme: 'http' });
      expect(plain.code).not.toBe(0);
      expect(plain.out).not.toContain('"kvs"');
      // https without etcd's CA: the certificate does not verify (curl exit 60)
      const noCa = etcdCurl(member, '/v3/kv/range', range, { ca: false });
      expect(noCa.code).toBe(60);
      expect(noCa.out).toMatch(/certificate/i);
      // https with the CA, no credentials: etcd's auth refuses the read
      const anonymous = etcdCurl(member, '/v3/kv/range', range, { ca, cert: clientCert(ctx.bed) });
      expect(anonymous.code).toBe(0);
      expect(anonymous.out).toMatch(/user name is empty|permission denied/);
      expect(anonymous.out).not.toContain('"kvs"');
    });

    test("Patroni's user reads and writes its prefix (where Patroni's leader key is) and nothing else", () => {
      const { bed } = ctx;
      const member = bed.etcdPods[0];
      const ca = etcdCaFile(member);
      const user = patroniEtcdUser(bed);
      const prefix = patroniPrefix(bed);
      // the clients' certificate Patroni shows: the user is still the password's (its role's limits hold)
      const cert = clientCert(bed);
      const login = etcdCurl(member, '/v3/auth/authenticate', user, { ca, cert });
      const token = JSON.parse(login.out).token as string;
      expect(token).toBeTruthy();
      // the leader key Patroni keeps renewing is under the role's prefix
      const inside = etcdCurl(member, '/v3/kv/range', { key: b64(`${prefix}leader`) }, { ca, cert, token });
      const kvs = JSON.parse(inside.out).kvs as Array<{ value: string }>;
      expect(kvs).toHaveLength(1);
      expect(bed.pgPods.map((p) => p.name)).toContain(Buffer.from(kvs[0].value, 'base64').toString());
      // a key outside it: read and write refused
      for (const [path, body] of [['/v3/kv/put', { key: b64('/service/another-cluster/leader'), value: b64('intruder') }], ['/v3/kv/range', { key: b64('/') , range_end: b64('\0') }]] as const) {
        const outside = etcdCurl(member, path, body, { ca, cert, token });
        expect(outside.out).toMatch(/permission denied/);
      }
      // a wrong password: refused
      expect(etcdCurl(member, '/v3/auth/authenticate', { name: user.name, password: randomBytes(16).toString('hex') }, { ca, cert }).out).toMatch(/authentication failed/);
    });

    test('the etcd access Job run again changes nothing; with a root password etcd does not have, it stops naming the Secret key', async () => {
      const { bed } = ctx;
      const job = accessJob(bed);
      const again = await bed.jobs.runObject(job);
      expect(again.code).toBe(0);
      expect(again.output).toMatch(/etcd access: nothing to change; authentication on/);
      // GIVEN the Secret's root password replaced by another one (as a hand-edited Secret would)
      const wrong = structuredClone(job);
      wrong.metadata.name = `${job.metadata.name}-wrong-root`;
      const env = wrong.spec.template.spec.containers[0].env as Array<{ name: string; value?: string; valueFrom?: unknown }>;
      const i = env.findIndex((e) => e.name === 'ETCD_ROOT_PASSWORD');
      env[i] = { name: 'ETCD_ROOT_PASSWORD', value: randomBytes(16).toString('hex') };
      const refused = await bed.jobs.runObject(wrong);
      expect(refused.code).not.toBe(0);
      expect(refused.output).toMatch(/etcd refused the root user's password .*the credentials Secret's key etcd-root-password/);
    });

    test('health, readiness and metrics answer on the plain listener, without TLS or credentials', async () => {
      for (const member of ctx.bed.etcdPods) {
        const u = etcdHealthUrl(member);
        expect(u.protocol).toBe('http:');
        expect(JSON.parse((await httpRequest(u.hostname, Number(u.port), '/health', { timeoutMs: 2000 })).body).health).toBe('true');
        for (const path of ['/readyz', '/livez']) expect((await httpRequest(u.hostname, Number(u.port), path, { timeoutMs: 2000 })).body).toMatch(/^ok/);
        expect((await httpRequest(u.hostname, Number(u.port), '/metrics', { timeoutMs: 2000 })).body).toMatch(/^etcd_server_has_leader 1$/m);
      }
    });
  });
}
