import { resources } from '../k8s/resources';

/** Images the chart deploys by default (the compose deployment's versions), each pinned to a tag. */
export const DEFAULT_IMAGES = {
  etcd: 'quay.io/coreos/etcd:v3.6.7',
  spilo: 'ghcr.io/zalando/spilo-17:4.0-p3',
  exporter: 'prometheuscommunity/postgres-exporter:v0.18.1',
  haproxy: 'haproxy:3.3.1',
  init: 'postgres:17-alpine',
} as const;

/** Default requests/limits (no CPU limits: throttling stalls heartbeats and health checks; see README). */
export const ETCD_DEFAULT_RESOURCES = resources('100m', '128Mi', '512Mi');
export const POSTGRES_DEFAULT_RESOURCES = resources('500m', '1Gi', '1Gi');
export const EXPORTER_DEFAULT_RESOURCES = resources('20m', '32Mi', '128Mi');
export const ROUTER_DEFAULT_RESOURCES = resources('50m', '64Mi', '256Mi');
export const INIT_DEFAULT_RESOURCES = resources('10m', '32Mi', '128Mi');
