/**
 * The etcd access script (lib/assets/etcd-access.py) with the real python3, before it talks to etcd:
 * a clients' TLS Secret without one of its keys (the Job mounts the whole Secret, so a missing key is a
 * missing file) stops it with a message naming the Secret and the key. Then against a stand-in of
 * etcd's JSON gateway: it never turns authentication on under Patroni pods without an etcd password.
 * A refusal (a configuration a retry cannot fix) exits with REFUSED_EXIT_CODE, on which
 * the Job's podFailurePolicy fails the Job at once; etcd not answering exits 1 (retried).
 * Against the real etcd: e2e.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import { createServer } from 'https';
import { AddressInfo } from 'net';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { REFUSED_EXIT_CODE } from '../../lib/k8s/workload';
import { ROOT } from '../support/synth';

const script = join(ROOT, 'lib', 'assets', 'etcd-access.py');

function run(files: Record<string, string>): { code: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pg-ha-etcd-client-tls-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const r = spawnSync('python3', [script], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH, ETCD_ENDPOINTS: 'https://127.0.0.1:9', ETCD_AUTH: 'false', ETCD_WAIT_SECONDS: '0',
      ETCD_CACERT: join(dir, 'ca.crt'), ETCD_CERT: join(dir, 'tls.crt'), ETCD_KEY: join(dir, 'tls.key'), ETCD_CLIENT_TLS_SECRET: 'pg-ha-etcd-client-tls',
    },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("the clients' TLS Secret, as the etcd access Job mounts it", () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-ha-etcd-client-'));
  execFileSync('openssl', ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/O=pg-ha-etcd-client', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')], { stdio: 'ignore' });
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const complete = { 'ca.crt': read('tls.crt'), 'tls.crt': read('tls.crt'), 'tls.key': read('tls.key') };

  test.each(['tls.key', 'tls.crt', 'ca.crt'])('without %s: stops before any request, naming the Secret and the key', (missing) => {
    const files: Record<string, string> = { ...complete };
    delete files[missing];
    const { code, out } = run(files);
    expect(code).toBe(REFUSED_EXIT_CODE);
    expect(out).toMatch(new RegExp(`no such file; the Secret pg-ha-etcd-client-tls needs the key ${missing.replace('.', '\\.')} `));
  });

  test('a tls.key that is not the key of tls.crt: named as such', () => {
    const other = mkdtempSync(join(tmpdir(), 'pg-ha-etcd-other-'));
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(other, 'k')], { stdio: 'ignore' });
    const { code, out } = run({ ...complete, 'tls.key': readFileSync(join(other, 'k'), 'utf8') });
    expect(code).toBe(REFUSED_EXIT_CODE);
    expect(out).toContain('the Secret pg-ha-etcd-client-tls: tls.crt and tls.key do not load as a certificate and its key');
  });

  test('complete: it gets as far as etcd (unreachable here)', () => {
    const { code, out } = run(complete);
    // not a refusal: etcd may answer later, the Job retries
    expect(code).toBe(1);
    expect(out).toMatch(/etcd did not answer within 0 s/);
  });
});

/**
 * etcd's JSON gateway as the script meets it with auth off: no users or roles yet, one member on
 * https, `patroniKeys` keys under Patroni's prefix. Records every method called.
 */
async function gatewayStandIn(patroniKeys: number, dir: string, overrides: Record<string, (body: any) => [number, unknown]> = {}) {
  execFileSync('openssl', ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')], { stdio: 'ignore' });
  writeFileSync(join(dir, 'ca.crt'), readFileSync(join(dir, 'tls.crt')));
  const calls: string[] = [];
  const answers: Record<string, (body: any) => [number, unknown]> = {
    'maintenance/status': () => [200, {}],
    'auth/authenticate': () => [400, { error: 'etcdserver: authentication is not enabled', code: 9 }],
    'auth/role/get': () => [400, { error: 'etcdserver: role name not found', code: 9 }],
    'auth/user/get': () => [400, { error: 'etcdserver: user name not found', code: 9 }],
    'cluster/member/list': () => [200, { members: [{ ID: '1', name: 'pg-ha-etcd-0', peerURLs: ['https://127.0.0.1:2380'], clientURLs: ['https://127.0.0.1:2379'] }] }],
    'kv/range': (body) => [200, body.count_only ? { count: String(patroniKeys) } : { kvs: [] }],
    ...overrides,
  };
  const server = createServer({ key: readFileSync(join(dir, 'tls.key')), cert: readFileSync(join(dir, 'tls.crt')) }, (req, res) => {
    let text = '';
    req.on('data', (d) => { text += d; });
    req.on('end', () => {
      const method = req.url!.replace(/^\/v3\//, '');
      calls.push(method);
      const [code, body] = (answers[method] ?? (() => [200, {}]))(JSON.parse(text || '{}'));
      res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { calls, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe('turning etcd\'s authentication on (ETCD_AUTH=true)', () => {
  /** Runs the script (asynchronously: the stand-in answers from this process) against the stand-in. */
  async function runAgainst(patroniKeys: number, overrides: Record<string, (body: any) => [number, unknown]> = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'pg-ha-etcd-gateway-'));
    const gateway = await gatewayStandIn(patroniKeys, dir, overrides);
    try {
      const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn('python3', [script], {
          env: {
            PATH: process.env.PATH, ETCD_ENDPOINTS: gateway.url, ETCD_AUTH: 'true', ETCD_WAIT_SECONDS: '5',
            ETCD_CACERT: join(dir, 'ca.crt'), ETCD_CERT: join(dir, 'tls.crt'), ETCD_KEY: join(dir, 'tls.key'),
            // passwords made here, as the secrets Job makes them: none is ever written in the repository
            ETCD_ROOT_PASSWORD: randomBytes(12).toString('hex'), ETCD_PATRONI_PASSWORD: randomBytes(12).toString('hex'), ETCD_PATRONI_USER: 'patroni', ETCD_PATRONI_ROLE: 'patroni',
            ETCD_PATRONI_PREFIX: '/service/pg-ha/',
          },
        });
        let out = '';
        child.stdout.on('data', (d) => { out += d; });
        child.stderr.on('data', (d) => { out += d; });
        child.on('close', (code) => resolve({ code, out }));
      });
      return { ...result, calls: gateway.calls };
    } finally {
      await gateway.close();
    }
  }

  test('a new cluster (no key under Patroni\'s prefix): users and roles, then auth on', async () => {
    const { code, out, calls } = await runAgainst(0);
    expect(out).toContain('authentication enabled');
    expect(code).toBe(0);
    expect(calls.indexOf('kv/range')).toBeLessThan(calls.indexOf('auth/enable'));
  });

  test('Patroni\'s keys there with auth off (pods without an etcd password, e.g. release 0.1.0\'s step 1): auth left off, the Job fails naming the line to add', async () => {
    // GIVEN Patroni pods that wrote their keys without a password WHEN the Job is asked to turn auth on
    const { code, out, calls } = await runAgainst(4);
    // THEN it stops before auth/enable, saying why and what to add to pg-ha.env, with the exit status
    // the Job fails on at once (the real-Kubernetes bed found the sync waiting ~10 minutes of retries)
    expect(code).toBe(REFUSED_EXIT_CODE);
    expect(calls).not.toContain('auth/enable');
    expect(out).toContain("authentication left off: Patroni already keeps 4 keys under '/service/pg-ha/' without an etcd password");
    expect(out).toContain('Add the line ETCD_AUTH=false to pg-ha.env, synth, commit and apply (docs/security.md#moving-a-cluster-made-with-plain-etcd)');
  });

  test('run again once auth is on (etcd 3.6 refuses the status without a token: "user name not found"): etcd counts as up, the Job logs in as root', async () => {
    // GIVEN etcd 3.6 with authentication on, as the real-Kubernetes bed found it on the Job's second run
    // (it waited ETCD_WAIT_SECONDS for an etcd that was answering), and a root password etcd refuses
    const { code, out, calls } = await runAgainst(4, {
      'maintenance/status': () => [400, { error: 'etcdserver: user name not found', code: 3 }],
      'auth/authenticate': () => [400, { error: 'etcdserver: authentication failed, invalid user ID or password', code: 3 }],
    });
    // THEN it goes straight on to the login, whose refusal it names
    expect(out).not.toContain('waiting for etcd');
    expect(out).not.toContain('etcd did not answer');
    expect(calls).toContain('auth/authenticate');
    expect(out).toContain("etcd refused the root user's password");
    expect(code).toBe(REFUSED_EXIT_CODE);
  });
});
