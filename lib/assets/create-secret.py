"""Make sure the cluster's credentials Secret holds every key this version of the chart needs.

Runs in the secrets Job (pg-ha-cdk8s, lib/components/jobs/cluster-secrets.ts) with the Spilo image's
python3. No password is ever printed.

SECRET_SOURCE=generated (the default): create the Secret with a random password per key if it is
absent; if it exists, add the keys it lacks (a newer chart version needs more) with one merge patch
that carries the resourceVersion read, so a concurrent writer makes it fail (409) and it is retried.
Keys already there are never read back into the patch, changed or removed. Re-running is harmless.
ServiceAccount: create Secrets; get and patch this one.

SECRET_SOURCE=existing (EXISTING_SECRET): only check that the Secret exists and holds every key;
a missing key stops the Job with a message naming it. ServiceAccount: get this one.

etcd's TLS (ETCD_TLS_SOURCE set): `generated` creates, once, a CA (ECDSA P-256, ETCD_CA_DAYS) in the
Secret ETCD_CA_SECRET (tls.crt, tls.key: kept for renewal) and etcd's serving and peer certificate
(serverAuth + clientAuth, subjectAltNames ETCD_TLS_NAMES, ETCD_TLS_DAYS) signed by it in the Secret
ETCD_TLS_SECRET (tls.crt, tls.key, ca.crt), with the `openssl` command; an existing Secret is never
changed (delete it to renew: see docs/security.md). `existing` (ETCD_TLS_SECRET set by the user) only
checks that the Secret holds tls.crt, tls.key and ca.crt. `issued` (cert-manager) checks nothing here:
the Certificate may not be issued yet; the etcd access Job names a missing ca.crt.
The clients' certificate (ETCD_CLIENT_TLS_SECRET: tls.crt, tls.key, ca.crt; clientAuth only, subject
O=ETCD_CLIENT_TLS_ORGANIZATION without a common name, which etcd's JSON gateway would refuse) goes
the same way: `generated` signs it, once, with the CA of ETCD_CA_SECRET; `existing` checks its keys.

An existing Secret's values must be UTF-8 text without line breaks or other control characters (any
printable character is fine: every program gets it quoted for where it goes), not blank, and within
SECRET_LIMITS (what a program cannot take: a length, a text); a value that is not stops the Job
naming the key and why, never the value.

The application's connection Secret (APP_SECRET_NAME set; app_secret.py renders it): created from
the credentials Secret's APP_CREDENTIAL_KEY when absent; an existing one is the init Job's to update.

Environment: SECRET_NAME, SECRET_KEYS (comma list), SECRET_LIMITS (JSON: key -> {maxBytes, forbidden, why}), SECRET_SOURCE, SECRET_LABELS and
SECRET_ANNOTATIONS (JSON objects, generated only), POD_NAMESPACE; ETCD_TLS_SOURCE, ETCD_TLS_SECRET,
ETCD_CA_SECRET, ETCD_TLS_NAMES (comma list; an address becomes an IP name), ETCD_TLS_COMMON_NAME,
ETCD_CA_DAYS, ETCD_TLS_DAYS; ETCD_CLIENT_TLS_SECRET, ETCD_CLIENT_TLS_ORGANIZATION; APP_SECRET_NAME,
APP_CREDENTIAL_KEY and app_secret.py's (from_env).
"""
import ipaddress
import base64
import json
import os
import secrets
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import app_secret  # noqa: E402 (a sibling file of the same ConfigMap)

SA_DIR = os.environ.get('SERVICEACCOUNT_DIR', '/var/run/secrets/kubernetes.io/serviceaccount')
MERGE_PATCH = 'application/merge-patch+json'
ATTEMPTS = 5


def api(method, path, body=None, content_type='application/json'):
    host = os.environ.get('KUBERNETES_SERVICE_HOST', 'kubernetes.default.svc')
    port = os.environ.get('KUBERNETES_SERVICE_PORT', '443')
    with open(f'{SA_DIR}/token') as f:
        token = f.read().strip()
    request = urllib.request.Request(
        f'https://{host}:{port}{path}',
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={'Authorization': f'Bearer {token}', 'Content-Type': content_type},
    )
    context = ssl.create_default_context(cafile=f'{SA_DIR}/ca.crt')
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None


def random_value():
    return base64.b64encode(secrets.token_urlsafe(32).encode()).decode()


def missing_keys(secret, keys):
    return [k for k in keys if k not in (secret.get('data') or {})]


def credential_problem(value, limit=None):
    """Why a credential's value (base64, as the API returns it) cannot be used, or None.

    Any printable character is fine (each program gets it quoted for where it goes); a line break or
    another control character is not: it would end a YAML block, a .pgpass or a PgBouncer auth file
    line. The value itself is never printed.
    """
    try:
        text = base64.b64decode(value, validate=True).decode('utf-8')
    except (ValueError, UnicodeDecodeError):
        return 'is not UTF-8 text'
    if not text.strip(' '):
        return 'is empty or only spaces'
    if text.endswith('\n'):
        return 'ends with a line break (`kubectl create secret --from-file` keeps the file\'s last one: use --from-literal, or a file without it)'
    bad = sorted({f'0x{ord(c):02x}' for c in text if ord(c) < 0x20 or ord(c) == 0x7f})
    if bad:
        return f'holds control characters ({", ".join(bad)}); every printable character is allowed'
    limit = limit or {}
    size = len(text.encode('utf-8'))
    if limit.get('maxBytes') is not None and size > limit['maxBytes']:
        return f'is {size} bytes long; at most {limit["maxBytes"]}: {limit["why"]}'
    if limit.get('forbidden') and limit['forbidden'] in text:
        return f'holds {limit["forbidden"]}: {limit["why"]}'
    return None


def check_existing(namespace, name, keys, path):
    status, existing = api('GET', f'{path}/{name}')
    if status == 404:
        sys.exit(f'EXISTING_SECRET: Secret {namespace}/{name} does not exist; create it with the keys {", ".join(keys)}.')
    if status != 200:
        sys.exit(f'EXISTING_SECRET: GET secret {namespace}/{name} answered HTTP {status}')
    missing = missing_keys(existing, keys)
    if missing:
        sys.exit(f'EXISTING_SECRET: Secret {namespace}/{name} lacks the key{"s" if len(missing) > 1 else ""} '
                 f'{", ".join(missing)}; add {"them" if len(missing) > 1 else "it"} '
                 '(see docs/security.md, "Credentials"). Nothing was changed.')
    limits = json.loads(os.environ.get('SECRET_LIMITS', '{}'))
    problems = [(k, credential_problem(existing['data'][k], limits.get(k))) for k in keys]
    problems = [f'the value of {k} {why}' for k, why in problems if why]
    if problems:
        sys.exit(f'EXISTING_SECRET: Secret {namespace}/{name}: {"; ".join(problems)}. Nothing was changed.')
    print(f'Secret {namespace}/{name} (EXISTING_SECRET) holds every key: {", ".join(keys)}.')


def create(namespace, name, keys, path):
    body = {
        'apiVersion': 'v1',
        'kind': 'Secret',
        'type': 'Opaque',
        'metadata': {
            'name': name,
            'labels': json.loads(os.environ.get('SECRET_LABELS', '{}')),
            'annotations': json.loads(os.environ.get('SECRET_ANNOTATIONS', '{}')),
        },
        'data': {k: random_value() for k in keys},
    }
    return api('POST', path, body)[0]


def add_missing(namespace, name, existing, missing, path):
    """One merge patch adding only the missing keys, valid only against the resourceVersion read."""
    patch = {
        'metadata': {'resourceVersion': existing['metadata']['resourceVersion']},
        'data': {k: random_value() for k in missing},
    }
    return api('PATCH', f'{path}/{name}', patch, MERGE_PATCH)[0]


def ensure_generated(namespace, name, keys, path):
    concurrently = ''
    for _ in range(ATTEMPTS):
        status, existing = api('GET', f'{path}/{name}')
        if status == 404:
            status = create(namespace, name, keys, path)
            if status == 201:
                print(f'Created Secret {namespace}/{name} with keys {", ".join(keys)}.')
                return
            if status == 409:
                concurrently = ' was created concurrently;'
                continue  # another writer created it: read it again
            sys.exit(f'POST secret {namespace}/{name} answered HTTP {status}')
        if status != 200:
            sys.exit(f'GET secret {namespace}/{name} answered HTTP {status}')
        missing = missing_keys(existing, keys)
        if not missing:
            print(f'Secret {namespace}/{name}{concurrently or " already exists with every key;"} nothing to do.')
            return
        status = add_missing(namespace, name, existing, missing, path)
        if status == 200:
            print(f'Added the keys {", ".join(missing)} to Secret {namespace}/{name}; the keys already there are unchanged.')
            return
        if status != 409:
            sys.exit(f'PATCH secret {namespace}/{name} (adding {", ".join(missing)}) answered HTTP {status}')
        concurrently = ' changed concurrently;'
    sys.exit(f'Secret {namespace}/{name} kept changing under this Job ({ATTEMPTS} attempts); run it again.')


TLS_KEYS = ('tls.crt', 'tls.key', 'ca.crt')


def openssl(*args):
    result = subprocess.run(['openssl', *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f'openssl {args[0]} failed: {result.stderr.strip()}')


def subject_alt_names(names):
    def one(name):
        try:
            return f'IP:{ipaddress.ip_address(name)}'
        except ValueError:
            return f'DNS:{name}'
    return ','.join(one(n) for n in names)


def new_ca(workdir, common_name, days):
    """A self-signed CA (ECDSA P-256) allowed only to sign certificates."""
    openssl('req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
            '-keyout', f'{workdir}/ca.key', '-out', f'{workdir}/ca.crt', '-days', str(days), '-subj', f'/CN={common_name}',
            '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    return read(f'{workdir}/ca.crt'), read(f'{workdir}/ca.key')


def new_member_certificate(workdir, ca_crt, ca_key, common_name, names, days):
    """etcd's certificate: serves clients and peers, and is the peers' client certificate."""
    return new_signed_certificate(workdir, ca_crt, ca_key, f'/CN={common_name}', [
        'extendedKeyUsage=serverAuth,clientAuth',
        f'subjectAltName={subject_alt_names(names)}',
    ], days)


def new_client_certificate(workdir, ca_crt, ca_key, organization, days):
    """The certificate etcd's clients show: client auth only, no common name (see the module's doc)."""
    return new_signed_certificate(workdir, ca_crt, ca_key, f'/O={organization}', ['extendedKeyUsage=clientAuth'], days)


def new_signed_certificate(workdir, ca_crt, ca_key, subject, extensions, days):
    """An ECDSA P-256 key and its certificate for `subject`, signed by the CA."""
    write(f'{workdir}/ca.crt', ca_crt)
    write(f'{workdir}/ca.key', ca_key)
    write(f'{workdir}/ext.cnf', '\n'.join([
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        *extensions,
    ]) + '\n')
    openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
            '-keyout', f'{workdir}/tls.key', '-out', f'{workdir}/tls.csr', '-subj', subject)
    openssl('x509', '-req', '-in', f'{workdir}/tls.csr', '-CA', f'{workdir}/ca.crt', '-CAkey', f'{workdir}/ca.key',
            '-set_serial', str(int.from_bytes(secrets.token_bytes(16), 'big')), '-days', str(days),
            '-extfile', f'{workdir}/ext.cnf', '-out', f'{workdir}/tls.crt')
    return read(f'{workdir}/tls.crt'), read(f'{workdir}/tls.key')


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as f:
        f.write(text)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def tls_secret_body(name, data, secret_type='kubernetes.io/tls'):
    return {
        'apiVersion': 'v1', 'kind': 'Secret', 'type': secret_type,
        'metadata': {
            'name': name,
            'labels': json.loads(os.environ.get('SECRET_LABELS', '{}')),
            'annotations': json.loads(os.environ.get('SECRET_ANNOTATIONS', '{}')),
        },
        'data': {k: b64(v) for k, v in data.items()},
    }


def create_tls_secret(namespace, path, name, data, what, done):
    """Creates the TLS Secret `name` once; one created meanwhile by another run of this Job is left as it is."""
    status = api('POST', path, tls_secret_body(name, data))[0]
    if status == 409:
        print(f'{what} {namespace}/{name} was created concurrently; left as it is.')
        return
    if status != 201:
        sys.exit(f'POST secret {namespace}/{name} answered HTTP {status}')
    print(done)


def check_tls_keys(namespace, name, secret, setting, why='etcd needs tls.crt, tls.key and ca.crt (the CA Patroni and the peers verify etcd with)'):
    missing = [k for k in TLS_KEYS if k not in (secret.get('data') or {})]
    if missing:
        sys.exit(f'{setting}: Secret {namespace}/{name} lacks {", ".join(missing)}; {why}. Nothing was changed.')


CLIENT_WHY = 'etcd\'s clients need tls.crt, tls.key (the certificate they show etcd) and ca.crt (the CA they verify etcd with)'


def ensure_etcd_client_tls(namespace, path, source):
    """The clients' certificate: checked (existing), signed once with the kept CA (generated), or cert-manager's."""
    name = os.environ['ETCD_CLIENT_TLS_SECRET']
    if source == 'issued':
        print(f'etcd clients\' TLS Secret {namespace}/{name}: written by cert-manager (not checked here).')
        return
    status, existing = api('GET', f'{path}/{name}')
    if status == 200:
        check_tls_keys(namespace, name, existing, 'ETCD_CLIENT_TLS_SECRET' if source == 'existing' else 'etcd clients\' TLS', CLIENT_WHY)
        print(f'etcd clients\' TLS Secret {namespace}/{name} holds {", ".join(TLS_KEYS)}' + ('.' if source == 'existing' else '; left as it is.'))
        return
    if status != 404:
        sys.exit(f'GET secret {namespace}/{name} answered HTTP {status}')
    if source == 'existing':
        sys.exit(f'ETCD_CLIENT_TLS_SECRET: Secret {namespace}/{name} does not exist; create it with the keys {", ".join(TLS_KEYS)} '
                 '(a client certificate of etcd\'s CA, client auth, no common name).')
    ca_name = os.environ['ETCD_CA_SECRET']
    status, ca = api('GET', f'{path}/{ca_name}')
    if status == 404:
        sys.exit(f'etcd CA Secret {namespace}/{ca_name} does not exist, so the clients\' certificate cannot be signed: '
                 f'delete the etcd TLS Secret {os.environ["ETCD_TLS_SECRET"]} too and run this Job again (a new CA: docs/security.md, renewal).')
    if status != 200:
        sys.exit(f'GET secret {namespace}/{ca_name} answered HTTP {status}')
    ca_crt, ca_key = (base64.b64decode(ca['data'][k]).decode() for k in ('tls.crt', 'tls.key'))
    organization = os.environ['ETCD_CLIENT_TLS_ORGANIZATION']
    with tempfile.TemporaryDirectory() as workdir:
        crt, key = new_client_certificate(workdir, ca_crt, ca_key, organization, int(os.environ.get('ETCD_TLS_DAYS', '1825')))
    create_tls_secret(namespace, path, name, {'tls.crt': crt, 'tls.key': key, 'ca.crt': ca_crt}, 'etcd clients\' TLS Secret',
                      f'Created the etcd clients\' certificate (O={organization}, client auth) in Secret {namespace}/{name}.')


def ensure_etcd_tls(namespace, path):
    source = os.environ['ETCD_TLS_SOURCE']
    name = os.environ['ETCD_TLS_SECRET']
    if source == 'issued':
        print(f'etcd TLS Secret {namespace}/{name}: written by cert-manager (not checked here).')
        return
    status, existing = api('GET', f'{path}/{name}')
    if source == 'existing':
        if status == 404:
            sys.exit(f'ETCD_TLS_SECRET: Secret {namespace}/{name} does not exist; create it with the keys {", ".join(TLS_KEYS)}.')
        if status != 200:
            sys.exit(f'ETCD_TLS_SECRET: GET secret {namespace}/{name} answered HTTP {status}')
        check_tls_keys(namespace, name, existing, 'ETCD_TLS_SECRET')
        print(f'etcd TLS Secret {namespace}/{name} (ETCD_TLS_SECRET) holds {", ".join(TLS_KEYS)}.')
        return
    if source != 'generated':
        sys.exit(f'ETCD_TLS_SOURCE={source!r}: expected "generated", "existing" or "issued"')
    if status == 200:
        check_tls_keys(namespace, name, existing, 'etcd TLS')
        print(f'etcd TLS Secret {namespace}/{name} already exists; left as it is.')
        return
    if status != 404:
        sys.exit(f'GET secret {namespace}/{name} answered HTTP {status}')
    ca_name = os.environ['ETCD_CA_SECRET']
    common_name = os.environ['ETCD_TLS_COMMON_NAME']
    names = [n for n in os.environ['ETCD_TLS_NAMES'].split(',') if n]
    with tempfile.TemporaryDirectory() as workdir:
        status, ca = api('GET', f'{path}/{ca_name}')
        if status == 200:
            # A CA kept from before (the serving Secret was deleted to renew it): sign with it.
            ca_crt, ca_key = (base64.b64decode(ca['data'][k]).decode() for k in ('tls.crt', 'tls.key'))
            print(f'etcd CA Secret {namespace}/{ca_name} exists: signing with it.')
        elif status == 404:
            ca_crt, ca_key = new_ca(workdir, f'{common_name} CA', int(os.environ.get('ETCD_CA_DAYS', '3650')))
            status = api('POST', path, tls_secret_body(ca_name, {'tls.crt': ca_crt, 'tls.key': ca_key}))[0]
            if status != 201:
                sys.exit(f'POST secret {namespace}/{ca_name} answered HTTP {status} (run the Job again)')
            print(f'Created the etcd CA in Secret {namespace}/{ca_name} (ECDSA P-256).')
        else:
            sys.exit(f'GET secret {namespace}/{ca_name} answered HTTP {status}')
        crt, key = new_member_certificate(workdir, ca_crt, ca_key, common_name, names, int(os.environ.get('ETCD_TLS_DAYS', '1825')))
    create_tls_secret(namespace, path, name, {'tls.crt': crt, 'tls.key': key, 'ca.crt': ca_crt}, 'etcd TLS Secret',
                      f'Created etcd\'s certificate in Secret {namespace}/{name} for {", ".join(names)}.')


def main():
    name = os.environ['SECRET_NAME']
    namespace = os.environ['POD_NAMESPACE']
    keys = [k for k in os.environ['SECRET_KEYS'].split(',') if k]
    source = os.environ.get('SECRET_SOURCE', 'generated')
    path = f'/api/v1/namespaces/{namespace}/secrets'
    if source == 'existing':
        check_existing(namespace, name, keys, path)
    elif source == 'generated':
        ensure_generated(namespace, name, keys, path)
    else:
        sys.exit(f'SECRET_SOURCE={source!r}: expected "generated" or "existing"')
    if os.environ.get('ETCD_TLS_SOURCE'):
        ensure_etcd_tls(namespace, path)
        if os.environ.get('ETCD_CLIENT_TLS_SECRET'):
            ensure_etcd_client_tls(namespace, path, os.environ['ETCD_TLS_SOURCE'])
    if os.environ.get('APP_SECRET_NAME'):
        ensure_app_secret(namespace, name, path)


def ensure_app_secret(namespace, credentials, path):
    """The application's connection Secret, created from the credentials Secret's password if absent."""
    status, secret = api('GET', f'{path}/{credentials}')
    if status != 200:
        sys.exit(f'GET secret {namespace}/{credentials} answered HTTP {status}')
    key = os.environ['APP_CREDENTIAL_KEY']
    password = base64.b64decode(secret['data'][key]).decode('utf-8')
    print(app_secret.create_if_absent(api, namespace, app_secret.from_env(), password))


if __name__ == '__main__':
    main()
