#!/usr/bin/env python3
"""The test bed's stand-in for Spilo's callback_role.py (its scripts are not in Debian).

Patroni runs it as `role-label-callback.py <api host:port> <serviceaccount dir> <action> <role> <scope>`
on on_start, on_stop and on_role_change. Like Spilo's script it makes the same API call: a
strategic-merge PATCH of this pod's `spilo-role` label (KUBERNETES_ROLE_LABEL) to the role Patroni
passes (removed on on_stop), with the pod's ServiceAccount token, TLS verified against its ca.crt;
it retries on 500/503/504 and gives up on other answers, naming the answer. Standard library only.
"""
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request


def main():
    if len(sys.argv) != 6 or sys.argv[3] not in ('on_start', 'on_stop', 'on_role_change', 'on_restart'):
        sys.exit('usage: role-label-callback.py <api host:port> <serviceaccount dir> <action> <role> <scope>')
    api, sa_dir, action, role = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    label = os.environ.get('KUBERNETES_ROLE_LABEL', 'spilo-role')
    with open(os.path.join(sa_dir, 'token')) as f:
        token = f.read().strip()
    namespace = os.environ.get('POD_NAMESPACE')
    if not namespace:
        with open(os.path.join(sa_dir, 'namespace')) as f:
            namespace = f.read().strip()
    pod = os.environ['HOSTNAME']
    body = json.dumps({'metadata': {'labels': {label: None if action == 'on_stop' else role}}}).encode()
    url = 'https://{0}/api/v1/namespaces/{1}/pods/{2}'.format(api, namespace, pod)
    context = ssl.create_default_context(cafile=os.path.join(sa_dir, 'ca.crt'))
    for attempt in range(11):
        request = urllib.request.Request(url, data=body, method='PATCH', headers={
            'Content-Type': 'application/strategic-merge-patch+json', 'Authorization': 'Bearer ' + token})
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as answer:
                print('{0}: pod {1} label {2}={3} (HTTP {4})'.format(action, pod, label, role if action != 'on_stop' else '(removed)', answer.status))
                return 0
        except urllib.error.HTTPError as e:
            print('PATCH {0} answered HTTP {1}: {2}'.format(url, e.code, e.read().decode(errors='replace')[:300]), file=sys.stderr)
            if e.code not in (500, 503, 504):
                return 1
        except (urllib.error.URLError, OSError) as e:
            print('PATCH {0} failed: {1}'.format(url, e), file=sys.stderr)
        time.sleep(min(2 ** attempt * 0.5, 8))
    return 1


if __name__ == '__main__':
    sys.exit(main())
