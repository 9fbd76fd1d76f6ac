/** Chart configurations the schema, policy and monitoring tests synthesize. */
import { Testing } from 'cdk8s';
import { PgHaChart, PgHaSettings } from '../../lib';

/** Every optional object on: the write and read poolers, monitoring, backups with a clone, the Traefik IngressRoute with auth. */
export const FULL_SETTINGS: PgHaSettings = {
  pooler: { enabled: true, read: true },
  monitoring: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
  backups: {
    enabled: true,
    bucket: 'pg-backups',
    endpoint: 'https://minio.example.com:9000',
    credentialsSecret: 'pg-ha-s3',
    clone: { s3Prefix: 's3://pg-backups/spilo/pg-ha-old/wal/17', scope: 'pg-ha-old', targetTime: '2026-11-26 05:00:00+00:00' },
  },
  statsIngress: { kind: 'ingressroute', basicAuthSecret: 'pg-ha-stats-auth' },
};

/** The configurations every workload check runs against. */
export const CONFIGURATIONS: Record<string, PgHaSettings> = {
  default: {},
  full: FULL_SETTINGS,
  'single member, existing Secret': { postgres: { replicas: 1 }, etcd: { replicas: 1 }, router: { replicas: 1 }, existingSecret: 'my-secret', statsIngress: { kind: 'none' } },
};

/** The chart's objects for `settings`, as `kubectl apply` would read them. */
export function synthObjects(settings: PgHaSettings): any[] {
  const app = Testing.app();
  const chart = new PgHaChart(app, settings.scope ?? 'pg-ha', settings);
  return Testing.synth(chart);
}
