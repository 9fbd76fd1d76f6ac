"""Create the cluster's credentials Secret once, with random passwords, if it does not exist.

Runs in the secrets Job (pg-ha-cdk8s, lib/cluster-secrets.ts) with the Spilo image's python3 and a
ServiceAccount that may only create Secrets and read this one. It never changes an existing Secret:
re-running it (kubectl apply again, an Argo CD sync) is harmless. No password is ever printed.

Environment: SECRET_NAME, SECRET_KEYS (comma list), SECRET_LABELS and SECRET_ANNOTATIONS (JSON objects),
POD_NAMESPACE.
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


def api(method, path, body=None):
    host = os.environ.get('KUBERNETES_SERVICE_HOST', 'kubernetes.default.svc')
    port = os.environ.get('KUBERNETES_SERVICE_PORT', '443')
    with open(f'{SA_DIR}/token') as f:
        token = f.read().strip()
    request = urllib.request.Request(
        f'https://{host}:{port}{path}',
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={'Authorization': f'Bearer {token}', 'Content-Type': 'application/json'},
    )
    context = ssl.create_default_context(cafile=f'{SA_DIR}/ca.crt')
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None


def check_keys(secret, keys):
    missing = [k for k in keys if k not in (secret.get('data') or {})]
    if missing:
        sys.exit(f'Secret {secret["metadata"]["name"]} exists but lacks the keys {", ".join(missing)}; '
                 'add them (see README, "Credentials") or delete the Secret to have it generated.')


def main():
    name = os.environ['SECRET_NAME']
    namespace = os.environ['POD_NAMESPACE']
    keys = [k for k in os.environ['SECRET_KEYS'].split(',') if k]
    path = f'/api/v1/namespaces/{namespace}/secrets'

    status, existing = api('GET', f'{path}/{name}')
    if status == 200:
        check_keys(existing, keys)
        print(f'Secret {namespace}/{name} already exists with every key; nothing to do.')
        return
    if status != 404:
        sys.exit(f'GET secret {namespace}/{name} answered HTTP {status}')

    data = {k: base64.b64encode(secrets.token_urlsafe(32).encode()).decode() for k in keys}
    body = {
        'apiVersion': 'v1',
        'kind': 'Secret',
        'type': 'Opaque',
        'metadata': {
            'name': name,
            'labels': json.loads(os.environ.get('SECRET_LABELS', '{}')),
            'annotations': json.loads(os.environ.get('SECRET_ANNOTATIONS', '{}')),
        },
        'data': data,
    }
    status, _ = api('POST', path, body)
    if status == 201:
        print(f'Created Secret {namespace}/{name} with keys {", ".join(keys)}.')
    elif status == 409:
        status, existing = api('GET', f'{path}/{name}')
        if status != 200:
            sys.exit(f'Secret {namespace}/{name} was created concurrently but cannot be read (HTTP {status})')
        check_keys(existing, keys)
        print(f'Secret {namespace}/{name} was created concurrently; nothing to do.')
    else:
        sys.exit(f'POST secret {namespace}/{name} answered HTTP {status}')


if __name__ == '__main__':
    main()
