/**
 * The etcd access script (lib/assets/etcd-access.py) with the real python3, before it talks to etcd:
 * a clients' TLS Secret without one of its keys (the Job mounts the whole Secret, so a missing key is a
 * missing file) stops it with a message naming the Secret and the key. Against the real etcd: e2e.
 */
import { execFileSync, spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
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
    expect(code).toBe(1);
    expect(out).toMatch(new RegExp(`no such file; the Secret pg-ha-etcd-client-tls needs the key ${missing.replace('.', '\\.')} `));
  });

  test('a tls.key that is not the key of tls.crt: named as such', () => {
    const other = mkdtempSync(join(tmpdir(), 'pg-ha-etcd-other-'));
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(other, 'k')], { stdio: 'ignore' });
    const { code, out } = run({ ...complete, 'tls.key': readFileSync(join(other, 'k'), 'utf8') });
    expect(code).toBe(1);
    expect(out).toContain('the Secret pg-ha-etcd-client-tls: tls.crt and tls.key do not load as a certificate and its key');
  });

  test('complete: it gets as far as etcd (unreachable here)', () => {
    const { code, out } = run(complete);
    expect(code).toBe(1);
    expect(out).toMatch(/etcd did not answer within 0 s/);
  });
});
