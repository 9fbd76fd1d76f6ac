"""
Spilo's role-label callback, addressed to the API server the way every in-cluster client finds it.

Spilo's /scripts/callback_role.py labels its own pod `spilo-role=<role>` (on_start, on_stop,
on_role_change) against the fixed URL https://kubernetes.default.svc.cluster.local, which does not
resolve in a cluster whose DNS domain is another (CLUSTER_DOMAIN). This runs Spilo's own callback
with one change: the API server's address is the kubelet's KUBERNETES_SERVICE_HOST and
KUBERNETES_SERVICE_PORT, which every pod gets whatever the cluster domain (enableServiceLinks
false keeps them). The chart points Patroni's callbacks here only when CLUSTER_DOMAIN is not
cluster.local.

Patroni runs it as: role_label_callback.py <action> <role> <scope>
"""
import os
import sys

SPILO_SCRIPTS = '/scripts'


def api_url(environ):
    """The namespaces URL of the API server named by the pod's environment."""
    host = environ.get('KUBERNETES_SERVICE_HOST')
    if not host:
        sys.exit('role_label_callback: KUBERNETES_SERVICE_HOST is not set, so the API server cannot be found '
                 'and the spilo-role label is not changed (the kubelet sets it in every pod)')
    port = environ.get('KUBERNETES_SERVICE_PORT', '443')
    if ':' in host:
        host = '[' + host + ']'
    return 'https://{0}:{1}/api/v1/namespaces'.format(host, port)


def main():
    sys.path.insert(0, SPILO_SCRIPTS)
    import callback_role
    if not hasattr(callback_role, 'KUBE_API_URL'):
        sys.exit("role_label_callback: Spilo's {0}/callback_role.py has no KUBE_API_URL (another Spilo version?): "
                 'the spilo-role label is not changed'.format(SPILO_SCRIPTS))
    callback_role.KUBE_API_URL = api_url(os.environ)
    return callback_role.main()


if __name__ == '__main__':
    sys.exit(main())
