"""
The Kubernetes API as the Jobs' scripts call it: one request with the pod's ServiceAccount token and
CA, answered as (HTTP status, parsed body); status 0 when the API server did not answer. Shared by
the day-2 Lease (kube_lease.py) and the application's Secret (app_secret.py).
"""
import json
import os
import ssl
import urllib.error
import urllib.request

SA_DIR = os.environ.get('SERVICEACCOUNT_DIR', '/var/run/secrets/kubernetes.io/serviceaccount')


def kube(method, path, body=None, content_type='application/json'):
    """One call to the Kubernetes API with the pod's ServiceAccount token: (status, parsed body)."""
    host = os.environ.get('KUBERNETES_SERVICE_HOST', 'kubernetes.default.svc')
    port = os.environ.get('KUBERNETES_SERVICE_PORT', '443')
    with open(f'{SA_DIR}/token') as f:
        token = f.read().strip()
    request = urllib.request.Request(
        f'https://{host}:{port}{path}', method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={'Authorization': f'Bearer {token}', 'Content-Type': content_type})
    context = ssl.create_default_context(cafile=f'{SA_DIR}/ca.crt')
    try:
        with urllib.request.urlopen(request, context=context, timeout=15) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors='replace')
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {'message': text}
    except (urllib.error.URLError, OSError) as error:
        return 0, {'message': f'the API server did not answer: {getattr(error, "reason", error)}'}
