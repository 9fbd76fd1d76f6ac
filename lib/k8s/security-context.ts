/**
 * Security contexts: the numeric users each image runs as, the Pod Security Standards "restricted" profile where the image allows it,
 * and the Pod Security Admission labels of the chart's Namespace.
 */
import { k8s } from 'cdk8s-plus-28';

/** etcd's image is distroless/static: its `nonroot` user is 65532. */
export const ETCD_UID = 65532;
/** The official HAProxy image's `haproxy` user and group. */
export const HAPROXY_UID = 99;
/** postgres-exporter's image runs as `nobody`. */
export const EXPORTER_UID = 65534;
/** The CloudNativePG PgBouncer image's `pgbouncer` user and group. */
export const PGBOUNCER_UID = 998;
export const PGBOUNCER_GID = 996;
/** postgres:*-alpine's `postgres` user and group. */
export const POSTGRES_ALPINE_UID = 70;
/** The Spilo image's `postgres` user (uid) and group (gid), from Debian's postgresql-common. */
export const SPILO_UID = 101;
export const SPILO_GID = 103;

/**
 * Pod Security Admission labels of the chart's Namespace: every pod of the chart meets "restricted",
 * so the namespace enforces it (the API server rejects any pod below it) and warns on apply.
 */
export const POD_SECURITY_NAMESPACE_LABELS: Record<string, string> = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'v1.28',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/warn-version': 'v1.28',
};

/** The container fields of the Pod Security Standards "restricted" profile. */
export function restrictedContainerSecurityContext(extra: Partial<k8s.SecurityContext> = {}): k8s.SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
    ...extra,
  };
}

/**
 * The pod fields of the "restricted" profile for an image that runs as `uid` (numeric, so the kubelet
 * can enforce runAsNonRoot without reading the image's /etc/passwd).
 */
export function restrictedPodSecurityContext(uid: number, gid: number, extra: Partial<k8s.PodSecurityContext> = {}): k8s.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: gid,
    seccompProfile: { type: 'RuntimeDefault' },
    ...extra,
  };
}
