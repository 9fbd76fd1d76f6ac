/*
 * The stand-in's own certificate authority and serving certificate, made with openssl at start
 * in the caller's directory. The CA is what a pod finds as `ca.crt` beside its token. The
 * extensions are the ones strict verifiers (Python 3.13's VERIFY_X509_STRICT) require: a CA with
 * critical basicConstraints and keyCertSign, a leaf with serverAuth, SKI/AKI, and the address and
 * the `kubernetes.default.svc...` names as subjectAltName.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface ServingCerts {
  caCertFile: string;
  caCert: string;
  cert: string;
  key: string;
}

export function makeServingCerts(dir: string, host: string, clusterDomain = 'cluster.local'): ServingCerts {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (n: string): string => path.join(dir, n);
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  fs.writeFileSync(f('ca.ext'), [
    'basicConstraints=critical,CA:TRUE',
    'keyUsage=critical,keyCertSign,cRLSign',
    'subjectKeyIdentifier=hash',
  ].join('\n') + '\n');
  const names = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${clusterDomain}`];
  const ipSan = /^[\d.]+$/.test(host) || host.includes(':') ? `IP:${host}` : `DNS:${host}`;
  fs.writeFileSync(f('server.ext'), [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
    `subjectAltName=${[ipSan, ...names.map((n) => `DNS:${n}`)].join(',')}`,
  ].join('\n') + '\n');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key')]);
  openssl(['req', '-new', '-key', f('ca.key'), '-subj', '/CN=e2e-kube-api-ca', '-out', f('ca.csr')]);
  openssl(['x509', '-req', '-in', f('ca.csr'), '-signkey', f('ca.key'), '-days', '2', '-extfile', f('ca.ext'), '-out', f('ca.crt')]);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('server.key')]);
  openssl(['req', '-new', '-key', f('server.key'), '-subj', '/CN=kube-apiserver', '-out', f('server.csr')]);
  openssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2',
    '-extfile', f('server.ext'), '-out', f('server.crt')]);
  for (const n of ['ca.key', 'server.key']) fs.chmodSync(f(n), 0o600);
  return { caCertFile: f('ca.crt'), caCert: fs.readFileSync(f('ca.crt'), 'utf8'), cert: fs.readFileSync(f('server.crt'), 'utf8'), key: fs.readFileSync(f('server.key'), 'utf8') };
}
