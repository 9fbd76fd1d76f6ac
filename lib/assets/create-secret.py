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

Environment: SECRET_NAME, SECRET_KEYS (comma list), SECRET_SOURCE, SECRET_LABELS and
SECRET_ANNOTATIONS (JSON objects, generated only), POD_NAMESPACE.
"""
import base64
import json
import os
import secrets
import ssl
import sys
import urllib.error
import urllib.request

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


if __name__ == '__main__':
    main()
