"""Users, roles and authentication of the cluster's etcd: a root user and Patroni's user, then auth on.

Runs in the etcd access Job (pg-ha-cdk8s, lib/components/etcd/etcd-access.ts) with the Spilo image's
python3, standard library only, against etcd's JSON gateway (/v3/auth/...) over https, verifying
etcd's certificate with the CA and showing the clients' certificate (etcd asks for one with
--client-cert-auth). No password is ever printed.

What it makes true, whatever it finds (re-running it changes nothing):
  - user `root` with the role `root` (etcd's administrator) and the password ETCD_ROOT_PASSWORD;
  - role ETCD_PATRONI_ROLE allowed to read and write the keys under ETCD_PATRONI_PREFIX, and only those;
  - user ETCD_PATRONI_USER with that role and the password ETCD_PATRONI_PASSWORD;
  - every member's peer URLs on https: [https://<member>:<peer port>] once every member runs with TLS
    only (it advertises https client URLs); while a cluster made with plain etcd moves to TLS
    (ETCD_TLS_MIGRATION=true) [https://<member>:<migration peer port>, https://<member>:<peer port>]
    once every member listens on the migration port (then the second step's members, https on the
    peer port, are reached through the second URL while their peers try the first in vain);
  - authentication enabled, unless Patroni already keeps keys under its prefix while it is off: those
    pods have no etcd password (Patroni with one cannot write before auth is on), so auth would cut
    them off; the Job stops instead, naming the line of pg-ha.env that fits (ETCD_AUTH=false).
With ETCD_AUTH=false (a cluster moved from plain etcd: its Spilo pods have no etcd password) only the
peer URLs are handled, and no password is needed.
Passwords are set with user/changepw only when a login with the Secret's password fails, so a re-run
does not touch the auth store. Once auth is on, everything is done as root: a root password that etcd
refuses stops the Job with a message naming the Secret key.

Environment: ETCD_ENDPOINTS (comma list of https://host:port), ETCD_CACERT, ETCD_CERT, ETCD_KEY (files of
the Secret ETCD_CLIENT_TLS_SECRET: ca.crt, tls.crt, tls.key), ETCD_ROOT_PASSWORD,
ETCD_PATRONI_USER, ETCD_PATRONI_PASSWORD, ETCD_PATRONI_ROLE, ETCD_PATRONI_PREFIX, ETCD_AUTH,
ETCD_ROOT_CREDENTIAL_KEY and ETCD_PATRONI_CREDENTIAL_KEY (the Secret keys, for messages),
ETCD_TLS_MIGRATION, ETCD_PEER_PORT, ETCD_MIGRATION_PEER_PORT, ETCD_WAIT_SECONDS (how long to wait for
etcd and for its members' rolling update, default 600).

Exit status: 0 done; REFUSED (3) when the configuration itself is wrong (a file missing from the
Secret, an empty password, a root password etcd refuses, authentication under Patroni pods without
an etcd password): running again cannot help, and the Job's podFailurePolicy fails the Job at once, so
the sync stops with this message instead of after every retry; 1 for what may pass (etcd not answering).
"""
import base64
import json
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = 'root'


class EtcdError(Exception):
    def __init__(self, status, error, code=None):
        super().__init__(f'HTTP {status}: {error}')
        self.status, self.error, self.code = status, error, code


def b64(text):
    return base64.b64encode(text.encode()).decode()


def prefix_end(prefix):
    """The first key after every key starting with `prefix` (etcd's range_end for a prefix)."""
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return base64.b64encode(bytes(raw)).decode()


class Etcd:
    def __init__(self, endpoints, cafile, certfile=None, keyfile=None):
        self.endpoints = endpoints
        self.context = ssl.create_default_context(cafile=cafile)
        if certfile:
            self.context.load_cert_chain(certfile, keyfile)
        self.token = None

    def call(self, method, body):
        """POST /v3/<method> on the first endpoint that answers; etcd's errors raise EtcdError."""
        last = None
        for endpoint in self.endpoints:
            headers = {'Content-Type': 'application/json'}
            if self.token:
                headers['Authorization'] = self.token
            request = urllib.request.Request(f'{endpoint}/v3/{method}', data=json.dumps(body).encode(), headers=headers, method='POST')
            try:
                with urllib.request.urlopen(request, context=self.context, timeout=10) as response:
                    return json.load(response)
            except urllib.error.HTTPError as error:
                try:
                    data = json.load(error)
                except ValueError:
                    data = {}
                raise EtcdError(error.code, data.get('error') or data.get('message') or error.reason, data.get('code'))
            except (urllib.error.URLError, OSError) as error:
                last = f'{endpoint}: {getattr(error, "reason", error)}'
        raise ConnectionError(last)

    def login(self, name, password):
        """A token for `name`; None when etcd's auth is off. A refused password raises EtcdError."""
        try:
            self.token = None
            self.token = self.call('auth/authenticate', {'name': name, 'password': password})['token']
        except EtcdError as error:
            if 'authentication is not enabled' in error.error:
                return None
            raise
        return self.token


# etcd's answers to a request without credentials when its authentication is on
AUTH_REFUSALS = ('user name not found', 'user name is empty', 'permission denied', 'invalid auth token')


def wait_for_etcd(etcd, seconds):
    deadline = time.time() + seconds
    while True:
        try:
            return etcd.call('maintenance/status', {})
        except ssl.SSLCertVerificationError as error:
            sys.exit(f'etcd\'s certificate is not signed by the CA in ETCD_CACERT ({error.verify_message}): check ca.crt of the etcd TLS Secret.')
        except (ConnectionError, EtcdError) as error:
            # etcd 3.6 with authentication on refuses the status to a client without a token (the clients'
            # certificate has no common name: "user name not found"): etcd answered, the Job can log in.
            if isinstance(error, EtcdError) and any(m in error.error for m in AUTH_REFUSALS):
                return None
            if isinstance(error, ConnectionError) and 'CERTIFICATE_VERIFY_FAILED' in str(error):
                sys.exit(f'etcd\'s certificate does not verify with ca.crt of the etcd TLS Secret ({error}).')
            if time.time() > deadline:
                sys.exit(f'etcd did not answer within {seconds} s: {error}')
            print(f'waiting for etcd: {error}', flush=True)
            time.sleep(3)


def exists(etcd, kind, name):
    try:
        return etcd.call(f'auth/{kind}/get', {('name' if kind == 'user' else 'role'): name})
    except EtcdError as error:
        if 'not found' in error.error:
            return None
        raise


def ensure_user(etcd, name, password, role, changes):
    user = exists(etcd, 'user', name)
    if user is None:
        etcd.call('auth/user/add', {'name': name, 'password': password})
        changes.append(f'user {name} added')
        user = {}
    else:
        probe = Etcd(etcd.endpoints, None)
        probe.context = etcd.context
        try:
            probe.call('auth/authenticate', {'name': name, 'password': password})
        except EtcdError as error:
            if 'authentication is not enabled' not in error.error:
                etcd.call('auth/user/changepw', {'name': name, 'password': password})
                changes.append(f'user {name}: password set from the Secret')
    if role not in (user.get('roles') or []):
        etcd.call('auth/user/grant', {'user': name, 'role': role})
        changes.append(f'user {name} granted role {role}')


def ensure_prefix_role(etcd, role, prefix, changes):
    want = {'permType': 'READWRITE', 'key': b64(prefix), 'range_end': prefix_end(prefix)}
    found = exists(etcd, 'role', role)
    if found is None:
        etcd.call('auth/role/add', {'name': role})
        changes.append(f'role {role} added')
        found = {}
    perms = found.get('perm') or []
    for perm in perms:
        same = perm.get('key') == want['key'] and perm.get('range_end') == want['range_end']
        if same and perm.get('permType', 'READ') == 'READWRITE':
            continue
        if not same:
            # The role is this chart's: a permission it does not declare (an old prefix) goes.
            etcd.call('auth/role/revoke', {'role': role, 'key': perm.get('key'), 'range_end': perm.get('range_end')})
            changes.append(f'role {role}: permission on {base64.b64decode(perm.get("key", "")).decode(errors="replace")!r} revoked')
    if not any(p.get('key') == want['key'] and p.get('range_end') == want['range_end'] and p.get('permType', 'READ') == 'READWRITE' for p in perms):
        etcd.call('auth/role/grant', {'name': role, 'perm': want})
        changes.append(f'role {role} may read and write keys under {prefix!r}')


def listening(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return True
    except OSError:
        return False


def ensure_peer_urls(etcd, migration, peer_port, migration_port, deadline):
    """Wait until every member runs the configuration the peer URLs are for, then move them there."""
    while True:
        members = etcd.call('cluster/member/list', {})['members']
        hosts = {m['ID']: urllib.parse.urlsplit(m['peerURLs'][0]).hostname for m in members}
        if migration:
            waiting = [hosts[m['ID']] for m in members if not listening(hosts[m['ID']], migration_port)]
            why = f'listening on https port {migration_port}'
        else:
            # A member advertises https client URLs once it runs with TLS only (the second step).
            waiting = [hosts[m['ID']] for m in members if not m.get('clientURLs') or any(not u.startswith('https://') for u in m['clientURLs'])]
            why = 'serving clients on https only'
        if not waiting:
            break
        if time.time() > deadline:
            sys.exit(f'etcd members not {why} after waiting: {", ".join(waiting)}; their peer URLs were left as they are.')
        print(f'waiting for the members\' rolling update: not yet {why}: {", ".join(waiting)}', flush=True)
        time.sleep(5)
    changes = []
    for m in members:
        host = hosts[m['ID']]
        want = ([f'https://{host}:{migration_port}'] if migration else []) + [f'https://{host}:{peer_port}']
        if m['peerURLs'] != want:
            etcd.call('cluster/member/update', {'ID': m['ID'], 'peerURLs': want})
            changes.append(f'member {m.get("name") or host}: peer URLs {",".join(m["peerURLs"])} -> {",".join(want)}')
    return changes


REFUSED = 3


def refuse(message):
    """Stops on a configuration a retry cannot fix (exit REFUSED: the Job fails without retrying)."""
    print(message, file=sys.stderr, flush=True)
    sys.exit(REFUSED)


def refuse_auth_under_running_patroni(etcd, prefix, changes):
    """Stops the Job when Patroni's keys exist while auth is off (pods without an etcd password run)."""
    found = int(etcd.call('kv/range', {'key': b64(prefix), 'range_end': prefix_end(prefix), 'count_only': True}).get('count', 0))
    if not found:
        return
    done = f' (done before stopping: {"; ".join(changes)})' if changes else ''
    refuse(f'authentication left off: Patroni already keeps {found} keys under {prefix!r} without an etcd password '
           '(a cluster moved from plain etcd, such as one made from release 0.1.0\'s dist/), and turning authentication '
           'on would cut its pods off from etcd. Add the line ETCD_AUTH=false to pg-ha.env, synth, commit and apply '
           f'(docs/security.md#moving-a-cluster-made-with-plain-etcd){done}.')


def main():
    env = os.environ
    cafile, certfile, keyfile = env.get('ETCD_CACERT', ''), env.get('ETCD_CERT', ''), env.get('ETCD_KEY', '')
    secret = env.get('ETCD_CLIENT_TLS_SECRET', 'the etcd clients\' TLS Secret')
    for var, path, what in (('ETCD_CACERT', cafile, 'the CA that signed etcd\'s certificate'),
                            ('ETCD_CERT', certfile, 'the certificate etcd\'s clients show'), ('ETCD_KEY', keyfile, 'its key')):
        if not os.path.isfile(path):
            refuse(f'{var}={path!r}: no such file; the Secret {secret} needs the key {os.path.basename(path)} ({what}).')
    try:
        Etcd([], cafile, certfile, keyfile)
    except (ssl.SSLError, ValueError) as error:
        refuse(f'the Secret {secret}: tls.crt and tls.key do not load as a certificate and its key ({error}).')
    auth = env.get('ETCD_AUTH', 'true') == 'true'
    keys = {'ETCD_ROOT_PASSWORD': env.get('ETCD_ROOT_CREDENTIAL_KEY', 'etcd-root-password'),
            'ETCD_PATRONI_PASSWORD': env.get('ETCD_PATRONI_CREDENTIAL_KEY', 'etcd-patroni-password')}
    if auth:
        for var, key in keys.items():
            if not env.get(var):
                refuse(f'{var} is empty: the credentials Secret needs the key {key}.')
    migration = env.get('ETCD_TLS_MIGRATION', 'false') == 'true'
    wait_seconds = int(env.get('ETCD_WAIT_SECONDS', '600'))
    deadline = time.time() + wait_seconds
    etcd = Etcd([e for e in env['ETCD_ENDPOINTS'].split(',') if e], cafile, certfile, keyfile)
    wait_for_etcd(etcd, wait_seconds)

    auth_on = False
    if auth:
        try:
            auth_on = etcd.login(ROOT, env['ETCD_ROOT_PASSWORD']) is not None
        except EtcdError as error:
            refuse(f'etcd refused the root user\'s password ({error.error}): the credentials Secret\'s key {keys["ETCD_ROOT_PASSWORD"]} '
                   'is not the password etcd has for root. Set it back, or reset root with etcdctl (docs/security.md).')
    changes = []
    if auth:
        user, role, prefix = env['ETCD_PATRONI_USER'], env['ETCD_PATRONI_ROLE'], env['ETCD_PATRONI_PREFIX']
        ensure_prefix_role(etcd, role, prefix, changes)
        if exists(etcd, 'role', ROOT) is None:
            etcd.call('auth/role/add', {'name': ROOT})
            changes.append('role root added')
        ensure_user(etcd, ROOT, env['ETCD_ROOT_PASSWORD'], ROOT, changes)
        ensure_user(etcd, user, env['ETCD_PATRONI_PASSWORD'], role, changes)
    changes += ensure_peer_urls(etcd, migration, int(env.get('ETCD_PEER_PORT', '2380')), int(env.get('ETCD_MIGRATION_PEER_PORT', '2382')), deadline)
    if auth and not auth_on:
        refuse_auth_under_running_patroni(etcd, prefix, changes)
        etcd.call('auth/enable', {})
        changes.append('authentication enabled')
    summary = f'etcd access: {"; ".join(changes) if changes else "nothing to change"}; '
    if auth:
        # Proof, every run: Patroni's user logs in with the Secret's password.
        try:
            Etcd(etcd.endpoints, cafile, certfile, keyfile).login(user, env['ETCD_PATRONI_PASSWORD'])
        except EtcdError as error:
            sys.exit(f'etcd refused {user}\'s password after this Job set it ({error.error}).')
        summary += f'authentication on; {user} may use only {prefix!r}.'
    else:
        summary += 'authentication left off (ETCD_AUTH=false' + (': the migration\'s first step).' if migration else ').')
    print(summary, flush=True)


if __name__ == '__main__':
    try:
        main()
    except EtcdError as error:
        sys.exit(f'etcd answered {error}')
    except ConnectionError as error:
        sys.exit(f'etcd unreachable: {error}')
