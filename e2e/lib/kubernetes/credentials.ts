/*
 * Credentials a user writes by hand (EXISTING_SECRET) with every character that breaks naive
 * quoting somewhere: YAML, SQL, URIs, .pgpass, PgBouncer's auth file, JSON, shells, `$(VAR)`.
 * Made up at test time; never printed.
 */
import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import type { DebianRoot } from '../debian-root';

/** Not `$$`: Patroni cannot take it in the superuser's and replication passwords (the secrets Job refuses it there, CREDENTIAL_LIMITS). */
export const HARD = ' "\'\\:@%#$&{}[]()<>|!?*+=;,~^`/ $(HOME) $ $x %41 ';

/** A space first and last, randomness (each key its own), and every hard character; 54 bytes, within etcd's 72 (bcrypt). */
export function hardCredential(): string {
  return ` ${randomBytes(4).toString('hex')}${HARD}`;
}

/**
 * The root's psql (libpq 17) with `conninfo`, reaching a Service's address (PGHOSTADDR: the host has
 * no cluster DNS for libc) under the name the string gives; the password only from the string or the
 * pgpass file. Returns `current_user|ssl`, or the error text (never a password). Asynchronous, so
 * forwarders running in this process keep serving.
 */
export function libpqLogin(root: DebianRoot, conninfo: string, hostaddr: string, passfile?: string): Promise<string> {
  const psql = `/usr/lib/postgresql/${root.pgVersion()}/bin/psql`;
  const env = [`PGHOSTADDR=${hostaddr}`, `PGPASSFILE=${passfile ?? '/dev/null'}`, 'PGCONNECT_TIMEOUT=5'];
  const argv = [root.path, '/usr/bin/env', '-i', 'PATH=/usr/bin:/bin', 'LC_ALL=C.UTF-8', ...env,
    psql, '--no-psqlrc', '-w', '-Atc', 'SELECT current_user, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())', conninfo];
  return new Promise((resolve) => {
    const child = spawn('/usr/sbin/chroot', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => resolve(code === 0 ? out.trim() : `psql exit ${code}: ${out.split('\n').filter((l) => !l.includes('password')).join(' ').slice(0, 300)}`));
  });
}
