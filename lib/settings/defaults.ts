/**
 * DEFAULTS: the one place every default value is written. The constructs read it, their settings'
 * JSDoc names it (`@default DEFAULTS.etcd.replicas`), and the env table (docs/configuration.md)
 * prints it. Defaults derived from other settings (a backup prefix from the scope, ...) are
 * described where they are computed.
 */
import { k8s } from 'cdk8s-plus-28';
import { PgHaSettings } from './pg-ha-settings';

/** Requests and a memory limit. No CPU limits: throttling stalls heartbeats and health checks. */
function containerResources(cpuRequest: string, memoryRequest: string, memoryLimit: string) {
  return {
    requests: { cpu: k8s.Quantity.fromString(cpuRequest), memory: k8s.Quantity.fromString(memoryRequest) },
    limits: { memory: k8s.Quantity.fromString(memoryLimit) },
  };
}

/** Each setting of `T` optional, groups included: the shape DEFAULTS has. */
type DefaultsOf<T> = {
  readonly [K in keyof T]?: NonNullable<T[K]> extends object
    ? NonNullable<T[K]> extends readonly unknown[] | k8s.Quantity | Record<string, string> ? T[K] : DefaultsOf<NonNullable<T[K]>>
    : T[K];
};

export const DEFAULTS = {
  scope: 'pg-ha',
  namespace: 'pg-ha',
  createNamespace: true,
  clusterDomain: 'cluster.local',
  domain: 'example.com',
  postgresUser: 'app',
  postgresDb: 'app',
  etcd: {
    replicas: 3,
    image: 'quay.io/coreos/etcd:v3.6.7',
    clientPort: 2379,
    storageSize: '1Gi',
    tls: { enabled: true, issuerKind: 'Issuer', migration: false },
    resources: containerResources('100m', '128Mi', '512Mi'),
  },
  postgres: {
    replicas: 3,
    image: 'ghcr.io/zalando/spilo-17:4.0-p3',
    port: 5432,
    pgVersion: 17,
    storageSize: '10Gi',
    resources: containerResources('500m', '1Gi', '1Gi'),
    exporterResources: containerResources('20m', '32Mi', '128Mi'),
    tls: { issuerKind: 'Issuer' },
    exporterImage: 'prometheuscommunity/postgres-exporter:v0.18.1',
    exporterPort: 9187,
    monitorUser: 'postgres_exporter',
    rolloutPrimary: 'auto',
  },
  patroni: {
    ttl: 20,
    loopWait: 5,
    retryTimeout: 7,
    synchronousMode: true,
    failsafeMode: true,
    maximumLagOnFailover: 1048576,
  },
  router: {
    replicas: 2,
    image: 'haproxy:3.3.1',
    writePort: 5432,
    readPort: 5433,
    statsPort: 7000,
    metricsPort: 8404,
    replicaMaxLagBytes: 16 * 1024 * 1024,
    maxConnections: 1000,
    external: {
      serviceType: 'ClusterIP',
      allowAnySource: false,
      trafficPolicy: 'Local',
    },
    resources: containerResources('50m', '64Mi', '256Mi'),
  },
  pooler: {
    enabled: false,
    read: false,
    replicas: 2,
    image: 'ghcr.io/cloudnative-pg/pgbouncer:1.25.2',
    exporterImage: 'prometheuscommunity/pgbouncer-exporter:v0.12.1',
    port: 5432,
    mode: 'transaction',
    defaultPoolSize: 20,
    reservePoolSize: 5,
    maxClientConnections: 1000,
    user: 'pooler',
    resources: containerResources('50m', '32Mi', '128Mi'),
    exporterResources: containerResources('10m', '16Mi', '64Mi'),
  },
  init: {
    image: 'postgres:17-alpine',
    deadlineSeconds: 900,
    resources: containerResources('10m', '32Mi', '128Mi'),
  },
  statsIngress: {
    kind: 'ingress',
    className: 'traefik',
    entryPoints: ['websecure'],
  },
  monitoring: {
    enabled: false,
    scrapeInterval: '30s',
    grafanaDashboard: true,
    grafanaDashboardLabels: { grafana_dashboard: '1' },
  },
  backups: {
    enabled: false,
    region: 'us-east-1',
    forcePathStyle: true,
    schedule: '0 1 * * *',
    numToRetain: 5,
  },
  argocd: {
    targetRevision: 'HEAD',
    path: 'dist',
    namespace: 'argocd',
    project: 'default',
    server: 'https://kubernetes.default.svc',
    automated: true,
    file: 'deploy/argocd-application.yaml',
  },
  scheduling: {
    antiAffinity: 'preferred',
    zoneSpread: 'none',
  },
  disruptionBudgets: true,
  networkPolicies: {
    enabled: true,
    prometheusNamespaces: ['monitoring'],
    ingressNamespaces: ['kube-system', 'traefik'],
    ingressPodLabels: { 'app.kubernetes.io/name': 'traefik' },
    dns: 'kube-dns',
    apiServerPorts: [443, 6443],
    objectStoragePorts: [443],
  },
} satisfies DefaultsOf<PgHaSettings>;
