/** The one synth helper of the tests, and the chart configurations the cross-workload checks run on. */
import { join } from 'path';
import { Testing } from 'cdk8s';
import { loadSettings, PgHaChart, PgHaSettings } from '../../lib';
import { Manifest, Manifests } from './manifests';

export const ROOT = join(__dirname, '..', '..');

/** A synthesized chart: its constructs (for the values they expose) and its objects. */
export class Synthesized extends Manifests {
  constructor(public readonly chart: PgHaChart, objects: Manifest[]) {
    super(objects);
  }
}

/** The chart's objects for `settings`, as `kubectl apply` would read them. */
export function synth(settings: PgHaSettings = {}): Synthesized {
  const chart = new PgHaChart(Testing.app(), settings.scope ?? 'pg-ha', settings);
  return new Synthesized(chart, Testing.synth(chart) as Manifest[]);
}

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

/**
 * The settings dist/ is synthesized from (the committed pg-ha.env, no environment). The drift test
 * (test/cross-cutting/dist.test.ts) proves dist/ equals their synth, so every check run on this
 * configuration holds for the committed dist/ too, without reading dist/ again. A fork's own
 * settings are one more configuration here; no test expects particular values in it.
 */
export const DIST_SETTINGS: PgHaSettings = loadSettings(join(ROOT, 'pg-ha.env'), {});


/** The configurations every cross-workload check runs against. */
export const CONFIGURATIONS: Record<string, PgHaSettings> = {
  default: {},
  ...(JSON.stringify(DIST_SETTINGS) === '{}' ? {} : { 'pg-ha.env (dist/)': DIST_SETTINGS }),
  full: FULL_SETTINGS,
  'single member, existing Secret': { postgres: { replicas: 1 }, etcd: { replicas: 1 }, router: { replicas: 1 }, existingSecret: 'my-secret', statsIngress: { kind: 'none' } },
  'renamed, five etcd members, TLS from a Secret, stats auth': {
    scope: 'orders', namespace: 'shop', clusterDomain: 'k8s.internal',
    etcd: { replicas: 5 }, postgres: { replicas: 2, tls: { secretName: 'pg-tls' } }, router: { statsAuthSecret: 'stats-auth' },
  },
  'load balancer with source ranges, other PostgreSQL and etcd ports': {
    postgres: { port: 6543 }, etcd: { clientPort: 12379 },
    router: { external: { serviceType: 'LoadBalancer', sourceRanges: ['203.0.113.0/24'], annotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' } } },
  },
  'node ports (compose host ports), any source': { router: { external: { serviceType: 'NodePort', allowAnySource: true, writeNodePort: 30432, readNodePort: 30433 } } },
};

/** Each configuration's name and synthesized output, for `describe.each`. */
export function synthesizedConfigurations(): Array<[string, Synthesized]> {
  return Object.entries(CONFIGURATIONS).map(([name, settings]) => [`${name} configuration`, synth(settings)]);
}
