/**
 * One ServiceAccount per component (so RBAC and audit logs tell the components apart, and no pod
 * runs under the namespace's `default` account), and the token volume of the one container that
 * calls the Kubernetes API.
 */
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';

/**
 * A ServiceAccount named `name` that mounts no token unless a pod asks for one explicitly; returns its name.
 */
export function componentServiceAccount(scope: Construct, name: string, labels: Record<string, string>): string {
  new k8s.KubeServiceAccount(scope, 'ServiceAccount', { metadata: { name, labels }, automountServiceAccountToken: false });
  return name;
}

/**
 * A component's ServiceAccount with a Role of its own (`rules`, in its namespace) bound to it;
 * returns the account's name. The pod still has to mount a token explicitly to use it.
 */
export function componentServiceAccountWithRole(
  scope: Construct, name: string, labels: Record<string, string>, namespace: string, rules: k8s.PolicyRule[],
): string {
  componentServiceAccount(scope, name, labels);
  new k8s.KubeRole(scope, 'Role', { metadata: { name, labels }, rules });
  new k8s.KubeRoleBinding(scope, 'RoleBinding', {
    metadata: { name, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  });
  return name;
}

/** Where the kubelet mounts a ServiceAccount token; Spilo's role callback reads it there. */
export const SERVICE_ACCOUNT_TOKEN_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The projected volume the kubelet would add with automountServiceAccountToken (token, cluster CA,
 * namespace), to mount into the one container that calls the API instead of into every container.
 */
export function serviceAccountTokenVolume(name: string): k8s.Volume {
  return {
    name,
    projected: {
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardApi: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}
