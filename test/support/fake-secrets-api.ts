/**
 * A local HTTPS server that answers like the Kubernetes API's Secret endpoints in namespace pg-ha
 * (GET, POST, merge PATCH with resourceVersion checks, null removing a key), with a token and a CA
 * the scripts under test read from a ServiceAccount directory (`dir`).
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { createServer, Server } from 'https';
import { AddressInfo } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';

export interface FakeApi { server: Server; port: number; secrets: Map<string, any>; requests: string[] }

/** A ServiceAccount directory: token and the fake API server's CA. */
export const dir = mkdtempSync(join(tmpdir(), 'pg-ha-sa-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
  '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'ca.crt')], { stdio: 'ignore' });
writeFileSync(join(dir, 'token'), 'test-token\n');

export async function fakeApi(...existing: any[]): Promise<FakeApi> {
  const secrets = new Map<string, any>(existing.filter(Boolean).map((e) => [e.metadata.name, e]));
  const requests: string[] = [];
  const server = createServer({ key: readFileSync(join(dir, 'tls.key')), cert: readFileSync(join(dir, 'ca.crt')) }, (req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      requests.push(`${req.method} ${req.url} auth=${req.headers.authorization}`);
      const m = /^\/api\/v1\/namespaces\/pg-ha\/secrets(?:\/([^/]+))?$/.exec(req.url ?? '');
      const reply = (status: number, obj: unknown) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj)); };
      if (!m) return reply(404, {});
      if (req.method === 'GET' && m[1]) return secrets.has(m[1]) ? reply(200, secrets.get(m[1])) : reply(404, { reason: 'NotFound' });
      if (req.method === 'POST' && !m[1]) {
        const secret = JSON.parse(body);
        if (secrets.has(secret.metadata.name)) return reply(409, { reason: 'AlreadyExists' });
        secrets.set(secret.metadata.name, { ...secret, metadata: { ...secret.metadata, resourceVersion: '1' } });
        return reply(201, secret);
      }
      // A merge patch as the API server applies it to a Secret: data keys merge, a resourceVersion must match.
      if (req.method === 'PATCH' && m[1] && secrets.has(m[1]) && req.headers['content-type'] === 'application/merge-patch+json') {
        const patch = JSON.parse(body);
        const current = secrets.get(m[1]);
        if (patch.metadata?.resourceVersion !== undefined && patch.metadata.resourceVersion !== current.metadata.resourceVersion) return reply(409, { reason: 'Conflict' });
        const data = { ...current.data, ...patch.data };
        for (const k of Object.keys(data)) if (data[k] === null) delete data[k];
        const next = { ...current, metadata: { ...current.metadata, resourceVersion: String(Number(current.metadata.resourceVersion) + 1) }, data };
        secrets.set(m[1], next);
        return reply(200, next);
      }
      return reply(405, {});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, secrets, requests };
}

