/*
 * The bed cluster's certificates, made with openssl as kubeadm would lay them out: one CA for the
 * API server, its clients and the kubelets; the API server's serving certificate for its address,
 * the `kubernetes` Service's cluster IP and its DNS names; client certificates whose CN/O are the
 * identities RBAC's default bindings expect (system:kube-controller-manager, system:node:<node> in
 * system:nodes, ...); the ServiceAccount token signing key pair. Valid for three days.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface ClientIdentity {
  /** file name stem */
  name: string;
  cn: string;
  org?: string;
  /** subjectAltName entries (a kubelet's serving certificate names its node) */
  san?: string[];
}

function openssl(args: string[], input?: string): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

export class BedPki {
  constructor(readonly dir: string) {}

  file(name: string): string {
    return path.join(this.dir, name);
  }

  get caCert(): string {
    return this.file('ca.crt');
  }

  cert(name: string): { cert: string; key: string } {
    return { cert: this.file(`${name}.crt`), key: this.file(`${name}.key`) };
  }

  /** Create the CA, the serving certificate and every identity's client certificate. */
  create(opts: { apiAddresses: string[]; apiNames: string[]; identities: ClientIdentity[] }): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // the extensions kubeadm's CA has; Python 3.13 (the Jobs' client) refuses a CA without keyUsage
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', this.file('ca.key'), '-out', this.caCert, '-days', '3', '-subj', '/CN=pg-ha e2e bed CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign', '-addext', 'subjectKeyIdentifier=hash']);
    const san = [...opts.apiNames.map((n) => `DNS:${n}`), ...opts.apiAddresses.map((a) => `IP:${a}`)];
    this.sign({ name: 'kube-apiserver', cn: 'kube-apiserver', san });
    for (const id of opts.identities) this.sign(id);
    openssl(['genrsa', '-out', this.file('service-accounts.key'), '2048']);
    openssl(['rsa', '-in', this.file('service-accounts.key'), '-pubout', '-out', this.file('service-accounts.pub')]);
  }

  private sign(id: ClientIdentity): void {
    const { cert, key } = this.cert(id.name);
    const csr = this.file(`${id.name}.csr`);
    const subject = `${id.org ? `/O=${id.org}` : ''}/CN=${id.cn}`;
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', subject]);
    const ext = [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid,issuer',
      'extendedKeyUsage=serverAuth,clientAuth',
      ...(id.san?.length ? [`subjectAltName=${id.san.join(',')}`] : []),
    ].join('\n');
    const extFile = this.file(`${id.name}.ext`);
    fs.writeFileSync(extFile, ext);
    openssl(['x509', '-req', '-in', csr, '-CA', this.caCert, '-CAkey', this.file('ca.key'), '-CAcreateserial', '-out', cert, '-days', '3', '-extfile', extFile]);
    fs.rmSync(csr);
    fs.rmSync(extFile);
  }

  /** A kubeconfig for one identity against the API server at `server`. */
  kubeconfig(identity: string, server: string): string {
    const { cert, key } = this.cert(identity);
    const file = this.file(`${identity}.kubeconfig`);
    const text = [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: pg-ha-e2e, cluster: {server: "${server}", certificate-authority: "${this.caCert}"}}]`,
      `users: [{name: ${identity}, user: {client-certificate: "${cert}", client-key: "${key}"}}]`,
      `contexts: [{name: pg-ha-e2e, context: {cluster: pg-ha-e2e, user: ${identity}}}]`,
      'current-context: pg-ha-e2e',
      '',
    ].join('\n');
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  }
}
