/**
 * Per-component identities: the numeric users each image runs as, default resources, and one
 * ServiceAccount per component (so RBAC and audit logs tell the components apart, and no pod runs
 * under the namespace's `default` account).
 */
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { resources } from './pod-hardening';

/** etcd's image is distroless/static: its `nonroot` user is 65532. */
export const ETCD_UID = 65532;
/** The official HAProxy image's `haproxy` user and group. */
export const HAPROXY_UID = 99;
/** postgres-exporter's image runs as `nobody`. */
export const EXPORTER_UID = 65534;
/** postgres:*-alpine's `postgres` user and group. */
export const POSTGRES_ALPINE_UID = 70;

/** Default requests/limits (no CPU limits: throttling stalls heartbeats and health checks; see README). */
export const ETCD_DEFAULT_RESOURCES = resources('100m', '128Mi', '512Mi');
export const POSTGRES_DEFAULT_RESOURCES = resources('500m', '1Gi', '1Gi');
export const EXPORTER_DEFAULT_RESOURCES = resources('20m', '32Mi', '128Mi');
export const ROUTER_DEFAULT_RESOURCES = resources('50m', '64Mi', '256Mi');
export const INIT_DEFAULT_RESOURCES = resources('10m', '32Mi', '128Mi');

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
