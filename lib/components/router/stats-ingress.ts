import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { IngressRoute, IngressRouteSpecRoutesKind, IngressRouteSpecRoutesServicesPort, } from '../../../imports/ingressroute-traefik.io';
import { Middleware } from '../../../imports/middleware-traefik.io';
import { standardLabels } from '../../k8s/labels';
import { PgRouter } from './pg-router';
import { STATS_EXPOSURES, StatsIngressSettings } from '../../settings/component-settings';
import { DEFAULTS } from '../../settings/defaults';
import { checkDnsLabel, checkDnsSubdomain, checkOneOf } from '../../validation';
import { ClusterContext } from '../../settings/cluster-names';

export interface StatsIngressProps extends StatsIngressSettings {
  /** Where the cluster lives. */
  readonly cluster: ClusterContext;
  /** The router whose stats Service is exposed. */
  readonly router: PgRouter;
  /** Host name of the stats page, e.g. `pg-haproxy.example.com`. */
  readonly host: string;
}

/** HAProxy's stats page at `pg-haproxy.<DEFAULT_URL>` through Traefik. */
export class StatsIngress extends Construct {
  constructor(scope: Construct, id: string, props: StatsIngressProps) {
    super(scope, id);
    const { cluster, router } = props;
    const kind = checkOneOf('statsIngress.kind', props.kind ?? DEFAULTS.statsIngress.kind, STATS_EXPOSURES);
    if (kind === 'none') return;
    const host = checkDnsSubdomain('statsIngress.host', props.host);
    const className = checkDnsLabel('statsIngress.className', props.className ?? DEFAULTS.statsIngress.className, 253);
    const entryPoints = (props.entryPoints ?? DEFAULTS.statsIngress.entryPoints).map((e, i) => checkDnsLabel(`statsIngress.entryPoints[${i}]`, e));
    const name = `${cluster.name}-router-stats`;
    const labels = standardLabels({ instance: cluster.name, name: 'haproxy', component: 'router' });
    const serviceName = router.statsService.name;

    let middleware: string | undefined;
    if (props.basicAuthSecret !== undefined) {
      const secret = checkDnsLabel('statsIngress.basicAuthSecret', props.basicAuthSecret, 253);
      middleware = `${cluster.name}-stats-auth`;
      new Middleware(this, 'BasicAuth', {
        metadata: { name: middleware, labels },
        spec: { basicAuth: { secret, removeHeader: true } },
      });
    }

    if (kind === 'ingress') {
      new k8s.KubeIngress(this, 'Ingress', {
        metadata: {
          name,
          labels,
          annotations: {
            'traefik.ingress.kubernetes.io/router.entrypoints': entryPoints.join(','),
            ...(middleware ? { 'traefik.ingress.kubernetes.io/router.middlewares': `${cluster.namespace}-${middleware}@kubernetescrd` } : {}),
          },
        },
        spec: {
          ingressClassName: className,
          rules: [{
            host,
            http: {
              paths: [{
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: serviceName, port: { name: 'stats' } } },
              }],
            },
          }],
        },
      });
    } else {
      new IngressRoute(this, 'IngressRoute', {
        metadata: { name, labels, annotations: { 'kubernetes.io/ingress.class': className } },
        spec: {
          entryPoints,
          routes: [{
            kind: IngressRouteSpecRoutesKind.RULE,
            match: `Host(\`${host}\`)`,
            ...(middleware ? { middlewares: [{ name: middleware }] } : {}),
            services: [{ name: serviceName, port: IngressRouteSpecRoutesServicesPort.fromString('stats') }],
          }],
        },
      });
    }
  }
}
