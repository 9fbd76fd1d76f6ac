#!/usr/bin/env python3
"""Spilo's role-label callback, for the e2e stand-in of ghcr.io/zalando/spilo-17:4.0-p3 (our own code).

Patroni runs `python3 /scripts/callback_role.py <action> <role> <cluster>` on on_start, on_stop and
(through /scripts/on_role_change.sh) on_role_change, as Spilo's configure step sets it up when the pod
has KUBERNETES_SERVICE_HOST and no Kubernetes DCS. Like Spilo 4.0-p3's callback_role.py it makes one
API call against the fixed URL https://kubernetes.default.svc.cluster.local: a strategic-merge PATCH of
this pod's label KUBERNETES_ROLE_LABEL (default `spilo-role`) to the role Patroni passes (Patroni 4:
`primary`, `replica`, ...), removed on on_stop, with the pod's ServiceAccount token, TLS verified
against the ServiceAccount's ca.crt. When the role equals KUBERNETES_LEADER_LABEL_VALUE (default
`master`, which Patroni 4 never passes) it first patches the Endpoints named after the cluster to this
pod's address, as Spilo does. Answers 500, 503, 504 or one with Retry-After are retried (11 attempts,
0.5 s doubling); any other error answer is logged and ends the call; the token is read again on each
attempt. The API server's certificate is verified (chain and host name) as Spilo's Python 3.10 does,
without Python 3.13's stricter X.509 checks. Standard library only (Spilo's uses requests).
"""
import json
import logging
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request

KUBE_SERVICE_DIR = '/var/run/secrets/kubernetes.io/serviceaccount/'
KUBE_NAMESPACE_FILENAME = KUBE_SERVICE_DIR + 'namespace'
KUBE_TOKEN_FILENAME = KUBE_SERVICE_DIR + 'token'
KUBE_CA_CERT = KUBE_SERVICE_DIR + 'ca.crt'
KUBE_API_URL = 'https://kubernetes.default.svc.cluster.local/api/v1/namespaces'

LABEL = os.environ.get('KUBERNETES_ROLE_LABEL', 'spilo-role')
LEADER_LABEL_VALUE = os.environ.get('KUBERNETES_LEADER_LABEL_VALUE', 'master')

logger = logging.getLogger('callback_role')


def read_first_line(filename):
    try:
        with open(filename) as f:
            return f.readline().rstrip()
    except IOError:
        return None


def api_patch(namespace, kind, name, entity_name, body):
    """PATCH /api/v1/namespaces/<namespace>/<kind>/<name>; True when the API server accepted it."""
    url = '/'.join([KUBE_API_URL, namespace, kind, name])
    for attempt in range(11):
        token = read_first_line(KUBE_TOKEN_FILENAME)
        if token:
            request = urllib.request.Request(url, data=body.encode(), method='PATCH', headers={
                'Content-Type': 'application/strategic-merge-patch+json', 'Authorization': 'Bearer ' + token})
            try:
                context = ssl.create_default_context(cafile=KUBE_CA_CERT)
                # Python 3.13 verifies strictly (RFC 5280: key usage on the CA, AKI on the server's
                # certificate); Spilo's Python 3.10 and requests do not: verify as Spilo does
                context.verify_flags &= ~getattr(ssl, 'VERIFY_X509_STRICT', 0)
                with urllib.request.urlopen(request, context=context, timeout=30) as answer:
                    logger.info('changed %s of %s/%s (HTTP %s)', entity_name, kind, name, answer.status)
                    return True
            except urllib.error.HTTPError as e:
                logger.warning('Unable to change %s: HTTP %s %s', entity_name, e.code, e.read().decode(errors='replace')[:500])
                if not (e.code in (500, 503, 504) or 'retry-after' in {k.lower() for k in e.headers.keys()}):
                    return False
            except (urllib.error.URLError, OSError, ssl.SSLError) as e:
                logger.warning('Exception when executing PATCH on %s: %s', url, e)
        else:
            logger.warning('Unable to read Kubernetes authorization token')
        if attempt == 10:
            raise Exception('PATCH {0} failed'.format(url))
        time.sleep(2 ** attempt * 0.5)
    return False


def change_pod_role_label(namespace, new_role):
    body = json.dumps({'metadata': {'labels': {LABEL: new_role}}})
    api_patch(namespace, 'pods', os.environ['HOSTNAME'], '{0} label'.format(LABEL), body)


def change_endpoints(namespace, cluster):
    ip = os.environ.get('POD_IP') or socket.getaddrinfo(socket.gethostname(), 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0)[0][4][0]
    body = json.dumps({'subsets': [{'addresses': [{'ip': ip}], 'ports': [{'name': 'postgresql', 'port': 5432, 'protocol': 'TCP'}]}]})
    try:
        api_patch(namespace, 'endpoints', cluster, 'service endpoints', body)
    except Exception:
        pass


def record_role_change(action, new_role, cluster):
    new_role = None if action == 'on_stop' else new_role
    namespace = os.environ.get('POD_NAMESPACE', read_first_line(KUBE_NAMESPACE_FILENAME)) or 'default'
    if new_role == LEADER_LABEL_VALUE:
        change_endpoints(namespace, cluster)
    change_pod_role_label(namespace, new_role)


def main():
    logging.basicConfig(format='%(asctime)s %(levelname)s: callback_role: %(message)s', level=logging.INFO)
    if len(sys.argv) == 4 and sys.argv[1] in ('on_start', 'on_stop', 'on_role_change', 'on_restart'):
        record_role_change(action=sys.argv[1], new_role=sys.argv[2], cluster=sys.argv[3])
    else:
        sys.exit('Usage: {0} <action> <role> <cluster_name>'.format(sys.argv[0]))
    return 0


if __name__ == '__main__':
    main()
