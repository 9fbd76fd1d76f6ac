/* Facts about the local Debian programs that translations need. */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';

let etcdFlags: Set<string> | undefined;
let exporterFlags: Set<string> | undefined;

function flagsFromHelp(cmd: string, args: string[]): Set<string> {
  let out = '';
  try {
    out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    out = `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
  const s = new Set<string>();
  for (const m of out.matchAll(/--(\[no-\])?([a-z0-9][a-z0-9.-]*)/g)) {
    s.add(m[2]);
    if (m[1]) s.add(`no-${m[2]}`);
  }
  return s;
}

export function etcdKnownFlags(): Set<string> {
  return (etcdFlags ??= flagsFromHelp('/usr/bin/etcd', ['--help']));
}

export function exporterKnownFlags(): Set<string> {
  return (exporterFlags ??= flagsFromHelp('/usr/bin/prometheus-postgres-exporter', ['--help-long']));
}

export function localPgVersion(): string {
  const vs = fs
    .readdirSync('/usr/lib/postgresql')
    .filter((v) => fs.existsSync(`/usr/lib/postgresql/${v}/bin/postgres`))
    .sort((a, b) => Number(b) - Number(a));
  if (!vs.length) throw new Error('no PostgreSQL server under /usr/lib/postgresql: run scripts/e2e-install.sh');
  return vs[0];
}

export function pgLibExists(version: string, lib: string): boolean {
  return fs.existsSync(`/usr/lib/postgresql/${version}/lib/${lib}.so`);
}

let locales: string[] | undefined;
export function localeAvailable(name: string): boolean {
  locales ??= execFileSync('locale', ['-a'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().toLowerCase().replace(/[-_]/g, ''));
  return locales.includes(name.toLowerCase().replace(/[-_]/g, ''));
}

export function userIds(name: string): { uid: number; gid: number } | undefined {
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

export function programVersions(): Record<string, string> {
  const v = (cmd: string, args: string[], re: RegExp): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    return re.exec(out)?.[1] ?? 'unknown';
  };
  const pg = localPgVersion();
  return {
    etcd: v('/usr/bin/etcd', ['--version'], /etcd Version: (\S+)/),
    patroni: v('/usr/bin/patroni', ['--version'], /patroni (\S+)/),
    postgresql: v(`/usr/lib/postgresql/${pg}/bin/postgres`, ['--version'], /\(PostgreSQL\) (\S+)/),
    haproxy: v('/usr/sbin/haproxy', ['-v'], /version (\S+)/),
    'postgres-exporter': v('/usr/bin/prometheus-postgres-exporter', ['--version'], /version (\d\S*)/),
  };
}
