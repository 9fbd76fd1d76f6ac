/*
 * Credentials a user writes by hand (EXISTING_SECRET) with every character that breaks naive
 * quoting somewhere: YAML, SQL, URIs, .pgpass, PgBouncer's auth file, JSON, shells, `$(VAR)`.
 * Made up at test time; never printed.
 */
import { randomBytes } from 'crypto';

/** Not `$$`: Patroni cannot take it in the superuser's and replication passwords (the secrets Job refuses it there, CREDENTIAL_LIMITS). */
export const HARD = ' "\'\\:@%#$&{}[]()<>|!?*+=;,~^`/ $(HOME) $ $x %41 ';

/** A space first and last, randomness (each key its own), and every hard character; 54 bytes, within etcd's 72 (bcrypt). */
export function hardCredential(): string {
  return ` ${randomBytes(4).toString('hex')}${HARD}`;
}
