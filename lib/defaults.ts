/** Images the chart deploys by default (the compose deployment's versions), each pinned to a tag. */
export const DEFAULT_IMAGES = {
  etcd: 'quay.io/coreos/etcd:v3.6.7',
  spilo: 'ghcr.io/zalando/spilo-17:4.0-p3',
  exporter: 'prometheuscommunity/postgres-exporter:v0.18.1',
  haproxy: 'haproxy:3.3.1',
  init: 'postgres:17-alpine',
} as const;
