"""The application's connection Secret, <scope>-app, in CloudNativePG's form (pg-ha-cdk8s).

Rendered from the Job's environment (lib/components/jobs/app-secret.ts writes it) and the password:
username, user, password, dbname, host, port, uri, jdbc-uri, fqdn-uri, fqdn-jdbc-uri, pgpass, and
for every other Service the same host, port, uri and jdbc-uri keys under its prefix (ro-, pooler-,
pooler-ro-). pgpass has one line per Service. Every value is quoted for where it goes, so a password
with any printable characters works:
- uri: postgresql://, user, password and database percent-encoded (libpq decodes them);
- jdbc-uri: query parameters percent-encoded, a space as %20 (pgjdbc's URLDecoder reads + as space);
- pgpass: `\\` and `:` escaped with a backslash in every field (libpq's rule).

Imported by create-secret.py (the secrets Job creates the Secret if it is absent), and run by the
init Job after init.sql (`python3 app_secret.py`): it brings the Secret up to date with the password
init.sql has just set, and removes keys it no longer has (a Service removed). It never prints a value.
Stdlib only (the Spilo image's python3).

Environment: APP_SECRET_NAME, APP_SECRET_LABELS, APP_SECRET_ANNOTATIONS (JSON objects), APP_USER,
APP_DB, APP_SSLMODE, APP_ENDPOINTS (JSON list of {prefix, host, port}, the write Service first),
APP_PASSWORD (the init Job; the secrets Job reads APP_CREDENTIAL_KEY of the credentials Secret),
POD_NAMESPACE, APP_SECRET_WAIT_SECONDS; the ServiceAccount token in SERVICEACCOUNT_DIR.
"""
import base64
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kube_api import kube  # noqa: E402 (a sibling file of the same ConfigMap)

MERGE_PATCH = 'application/merge-patch+json'
SECRET_TYPE = 'kubernetes.io/basic-auth'


def percent_encode(text):
    """Every byte but RFC 3986's unreserved characters as %XX (UTF-8): safe in a URI's userinfo, path and query."""
    return urllib.parse.quote(text, safe='')


def pgpass_escape(text):
    """A .pgpass field: `\\` and `:` preceded by a backslash (libpq's passwordFromFile)."""
    return text.replace('\\', '\\\\').replace(':', '\\:')


def postgres_uri(user, password, host, port, dbname, sslmode):
    userinfo = ':'.join(percent_encode(part) for part in (user, password))
    return f'postgresql://{userinfo}@{host}:{port}/{percent_encode(dbname)}?sslmode={percent_encode(sslmode)}'


def jdbc_uri(user, password, host, port, dbname, sslmode):
    query = '&'.join(f'{k}={percent_encode(v)}' for k, v in (('user', user), ('password', password), ('sslmode', sslmode)))
    return f'jdbc:postgresql://{host}:{port}/{percent_encode(dbname)}?{query}'


def pgpass_line(host, port, dbname, user, password):
    return ':'.join(pgpass_escape(str(f)) for f in (host, port, dbname, user, password)) + '\n'


def render(connection, password):
    """The Secret's keys and values (text) for `connection` (from_env) and the password."""
    user, dbname, sslmode = connection['user'], connection['dbname'], connection['sslmode']
    endpoints = connection['endpoints']
    data = {'username': user, 'user': user, 'password': password, 'dbname': dbname}
    for e in endpoints:
        p, host, port = e['prefix'], e['host'], e['port']
        data[f'{p}host'] = host
        data[f'{p}port'] = str(port)
        data[f'{p}uri'] = postgres_uri(user, password, host, port, dbname, sslmode)
        data[f'{p}jdbc-uri'] = jdbc_uri(user, password, host, port, dbname, sslmode)
    # CloudNativePG's names for the same strings (its host is the short name, ours the FQDN already).
    data['fqdn-uri'] = data['uri']
    data['fqdn-jdbc-uri'] = data['jdbc-uri']
    data['pgpass'] = ''.join(pgpass_line(e['host'], e['port'], dbname, user, password) for e in endpoints)
    return data


def from_env(env=os.environ):
    return {
        'name': env['APP_SECRET_NAME'],
        'labels': json.loads(env.get('APP_SECRET_LABELS', '{}')),
        'annotations': json.loads(env.get('APP_SECRET_ANNOTATIONS', '{}')),
        'user': env['APP_USER'],
        'dbname': env['APP_DB'],
        'sslmode': env['APP_SSLMODE'],
        'endpoints': json.loads(env['APP_ENDPOINTS']),
    }


def encode(data):
    return {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}


def body(connection, password):
    return {
        'apiVersion': 'v1', 'kind': 'Secret', 'type': SECRET_TYPE,
        'metadata': {'name': connection['name'], 'labels': connection['labels'], 'annotations': connection['annotations']},
        'data': encode(render(connection, password)),
    }


def create_if_absent(api, namespace, connection, password):
    """The secrets Job: create the Secret unless it exists (the init Job keeps it current). Returns a log line."""
    path = f'/api/v1/namespaces/{namespace}/secrets'
    name = connection['name']
    status = api('GET', f'{path}/{name}')[0]
    if status == 200:
        return f'Secret {namespace}/{name} (the application\'s connection) exists; the init Job keeps it current.'
    if status != 404:
        sys.exit(f'GET secret {namespace}/{name} answered HTTP {status}')
    status = api('POST', path, body(connection, password))[0]
    if status == 409:
        return f'Secret {namespace}/{name} was created concurrently; left as it is.'
    if status != 201:
        sys.exit(f'POST secret {namespace}/{name} (the application\'s connection) answered HTTP {status}')
    return f'Created Secret {namespace}/{name} with the application\'s connection: {", ".join(sorted(render(connection, password)))}.'


def update(api, namespace, connection, password, wait_seconds, attempts=5):
    """The init Job: make the Secret hold exactly render(): one merge patch carrying the resourceVersion read."""
    path = f'/api/v1/namespaces/{namespace}/secrets/{connection["name"]}'
    name = f'{namespace}/{connection["name"]}'
    wanted = encode(render(connection, password))
    deadline = time.monotonic() + wait_seconds
    for _ in range(attempts):
        status, current = api('GET', path)
        while status == 404 and time.monotonic() < deadline:
            # The secrets Job creates it: under a plain `kubectl apply` both Jobs start at once.
            time.sleep(2)
            status, current = api('GET', path)
        if status == 404:
            sys.exit(f'Secret {name} does not exist after {wait_seconds} s: the secrets Job creates it. Run that Job again '
                     '(delete the finished Job and apply dist/ again, or sync with Argo CD), then this one.')
        if status != 200:
            sys.exit(f'GET secret {name} answered HTTP {status}: {(current or {}).get("message", "")}')
        data = current.get('data') or {}
        changed = sorted(k for k in wanted if data.get(k) != wanted[k])
        removed = sorted(k for k in data if k not in wanted)
        if not changed and not removed:
            return f'Secret {name} is up to date.'
        patch = {'metadata': {'resourceVersion': current['metadata']['resourceVersion']},
                 'data': {**{k: wanted[k] for k in changed}, **{k: None for k in removed}}}
        status, answer = api('PATCH', path, patch, MERGE_PATCH)
        if status == 200:
            return (f'Secret {name} updated: ' + '; '.join(filter(None, [
                f'changed {", ".join(changed)}' if changed else '', f'removed {", ".join(removed)}' if removed else ''])) + '.')
        if status != 409:
            sys.exit(f'PATCH secret {name} answered HTTP {status}: {(answer or {}).get("message", "")}')
    sys.exit(f'Secret {name} kept changing under this Job ({attempts} attempts); run it again.')



def main():
    password = os.environ.get('APP_PASSWORD')
    if not password:
        sys.exit('APP_PASSWORD is empty: it comes from the credentials Secret\'s key app-password.')
    print(update(kube, os.environ['POD_NAMESPACE'], from_env(), password, int(os.environ['APP_SECRET_WAIT_SECONDS'])), flush=True)


if __name__ == '__main__':
    main()
