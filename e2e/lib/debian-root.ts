/*
 * The Debian 13 root the programs run from (built by scripts/e2e-install.sh;
 * PG_HA_E2E_ROOT overrides its path). Its binaries need trixie's libc, so
 * every container program is started with chroot into it; it shares the
 * host's network, so the loopback addressing works unchanged.
 *
 * Paths are the same inside and outside: the run directory lives under
 * <root>/tmp, and <root><root> is a symlink to / inside the root, so
 * <root>/tmp/x names the same directory from the host and from a chrooted
 * program. Config files, sockets and data dirs need no path translation.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const DEFAULT_ROOT = '/var/cache/pg-ha-e2e/trixie';
const STAMP = '.pg-ha-e2e-packages';

/** The versions the images' programs are closest to in Debian 13; a run on anything else fails. */
export const EXPECTED_VERSIONS: Record<string, RegExp> = {
  patroni: /^4\.0\./,
  postgresql: /^17\./,
  etcd: /^3\.5\./,
  haproxy: /^3\.0\./,
  'postgres-exporter': /^0\.17\./,
  pgbouncer: /^1\.24\./,
  promtool: /^2\.53\./,
};

export class DebianRoot {
  readonly path: string;
  private locales?: string[];

  constructor(rootPath = process.env.PG_HA_E2E_ROOT ?? DEFAULT_ROOT) {
    this.path = path.resolve(rootPath);
  }

  /** Throws unless scripts/e2e-install.sh has completed the root. */
  check(): void {
    if (!fs.existsSync(path.join(this.path, STAMP))) {
      throw new Error(`no complete Debian 13 root at ${this.path}: run \`bash scripts/e2e-install.sh\` as root (PG_HA_E2E_ROOT=${process.env.PG_HA_E2E_ROOT ?? '(unset)'})`);
    }
  }

  /** Make <root><root> point to the root's / (see the header), once. */
  ensureSamePaths(): void {
    const link = path.join(this.path, this.path);
    try {
      if (fs.readlinkSync(link) === '/') return;
      throw new Error(`${link} exists and is not the symlink to /`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync('/', link);
  }

  /** A new private run directory, reachable under the same path from inside the root. */
  makeRunDir(prefix = 'pgha-e2e-'): string {
    this.ensureSamePaths();
    const dir = fs.mkdtempSync(path.join(this.path, 'tmp', prefix));
    fs.chmodSync(dir, 0o755);
    return dir;
  }

  /** Run a program inside the root (as root) and return its output. */
  run(cmd: string, args: string[]): { code: number | null; output: string } {
    const r = spawnSync('/usr/sbin/chroot', [this.path, cmd, ...args], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C.UTF-8' } });
    return { code: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  }

  /** The file at an absolute path inside the root. */
  file(p: string): string {
    return path.join(this.path, p);
  }

  pgVersion(): string {
    const dir = this.file('/usr/lib/postgresql');
    const vs = (fs.existsSync(dir) ? fs.readdirSync(dir) : []).filter((v) => fs.existsSync(path.join(dir, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
    if (!vs.length) throw new Error(`no PostgreSQL server under ${dir}: run scripts/e2e-install.sh`);
    return vs[0];
  }

  pgLibExists(version: string, lib: string): boolean {
    return fs.existsSync(this.file(`/usr/lib/postgresql/${version}/lib/${lib}.so`));
  }

  localeAvailable(name: string): boolean {
    this.locales ??= this.run('/usr/bin/locale', ['-a'])
      .output.split('\n')
      .map((l) => l.trim().toLowerCase().replace(/[-_]/g, ''));
    return this.locales.includes(name.toLowerCase().replace(/[-_]/g, ''));
  }

  userIds(name: string): { uid: number; gid: number } | undefined {
    for (const line of fs.readFileSync(this.file('/etc/passwd'), 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
    return undefined;
  }

  /** Versions of the programs the test bed runs, as they report them. */
  programVersions(): Record<string, string> {
    const v = (cmd: string, args: string[], re: RegExp): string => re.exec(this.run(cmd, args).output)?.[1] ?? 'unknown';
    const pg = this.pgVersion();
    return {
      patroni: v('/usr/bin/patroni', ['--version'], /patroni (\S+)/),
      postgresql: v(`/usr/lib/postgresql/${pg}/bin/postgres`, ['--version'], /\(PostgreSQL\) (\S+)/),
      etcd: v('/usr/bin/etcd', ['--version'], /etcd Version: (\S+)/),
      haproxy: v('/usr/sbin/haproxy', ['-v'], /version (\S+)/),
      'postgres-exporter': v('/usr/bin/prometheus-postgres-exporter', ['--version'], /version (\d\S*)/),
      pgbouncer: v('/usr/sbin/pgbouncer', ['--version'], /PgBouncer (\S+)/),
      promtool: v('/usr/bin/promtool', ['--version'], /version (\S+)/),
    };
  }

  /** Debian package versions in the root (for benchmark reports). */
  packageVersions(pkgs: string[]): string {
    return this.run('/usr/bin/dpkg-query', ['-W', '-f=${Package} ${Version}\\n', ...pkgs]).output.trim().split('\n').join(', ');
  }
}
