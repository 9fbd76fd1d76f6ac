/**
 * The application's ready-made connection: the Secret `<scope>-app`, in CloudNativePG's form
 * (`username`, `password`, `host`, `port`, `dbname`, `uri`, `jdbc-uri`, `pgpass`, ...), so that
 * applications mount it instead of assembling strings.
 *
 * It holds a password, so it is not in dist/: the Jobs write it at run time
 * (lib/assets/app_secret.py renders it from the description here, passed in their env):
 * - the secrets Job creates it, if absent, from the credentials Secret (apps can mount it early);
 * - the init Job brings it up to date right after it has set the application role's password from
 *   the credentials Secret, so the Secret never names a password the database does not accept yet.
 */
import { k8s } from 'cdk8s-plus-28';
import { ClusterContext, serviceFqdn } from '../../settings/cluster-names';
import { standardLabels } from '../../k8s/labels';
import { plainEnv } from '../../k8s/workload';
import { CREDENTIAL_KEYS } from '../../settings/credentials';

/** The asset that renders and writes the Secret (imported by create-secret.py, run by the init Job). */
export const APP_SECRET_SCRIPT = 'app_secret.py';

/** One Service the application can connect to, and the prefix of its keys in the Secret. */
export interface AppEndpoint {
  /**
   * Prefix of this endpoint's keys: `''` for the write Service (CloudNativePG's unprefixed keys),
   * otherwise the Service's name after `<scope>-` and a dash (`ro-`, `pooler-`, `pooler-ro-`).
   */
  readonly prefix: string;
  /** The Service's fully qualified name. */
  readonly host: string;
  readonly port: number;
}

export interface AppSecretProps {
  readonly cluster: ClusterContext;
  /** The application role (POSTGRES_USER), validated. */
  readonly user: string;
  /** The application database (POSTGRES_DB), validated. */
  readonly database: string;
  /** The write Service first; every Service the application may use. */
  readonly services: readonly { readonly name: string; readonly port: number }[];
  /** Annotations of the Secret (it is not in git: a GitOps tool must leave it alone). */
  readonly annotations?: Record<string, string>;
}

/**
 * `sslmode` of the URIs: Spilo and PgBouncer refuse clients without TLS. `require` needs no file in
 * the application's pod; with the cluster's own certificate, use `verify-full` and its CA
 * (docs/security.md, TLS).
 */
export const APP_SSLMODE = 'require';

/** The description of `<scope>-app` both Jobs render it from. */
export class AppSecret {
  /** The Secret's name. */
  public readonly name: string;
  public readonly user: string;
  public readonly database: string;
  public readonly endpoints: readonly AppEndpoint[];
  private readonly labels: Record<string, string>;
  private readonly annotations: Record<string, string>;

  constructor(props: AppSecretProps) {
    const { cluster } = props;
    this.name = `${cluster.name}-app`;
    this.user = props.user;
    this.database = props.database;
    this.endpoints = props.services.map((service, i) => ({
      prefix: i === 0 ? '' : `${endpointPrefix(cluster.name, service.name)}-`,
      host: serviceFqdn(cluster, service.name),
      port: service.port,
    }));
    this.labels = standardLabels({ instance: cluster.name, name: 'pg-ha-app-credentials', component: 'credentials' });
    this.annotations = props.annotations ?? {};
  }

  /** The Job env app_secret.py reads (besides the password): the same in both Jobs. */
  public env(): k8s.EnvVar[] {
    return plainEnv({
      APP_SECRET_NAME: this.name,
      APP_SECRET_LABELS: JSON.stringify(this.labels),
      APP_SECRET_ANNOTATIONS: JSON.stringify(this.annotations),
      APP_USER: this.user,
      APP_DB: this.database,
      APP_SSLMODE: APP_SSLMODE,
      APP_ENDPOINTS: JSON.stringify(this.endpoints),
      // The credentials Secret's key the secrets Job reads the password from.
      APP_CREDENTIAL_KEY: CREDENTIAL_KEYS.app,
    });
  }

  /** The keys the Secret holds (values rendered at run time), for the docs and tests. */
  public keys(): string[] {
    const perEndpoint = ['host', 'port', 'uri', 'jdbc-uri'];
    return [
      'username', 'user', 'password', 'dbname', 'pgpass', 'fqdn-uri', 'fqdn-jdbc-uri',
      ...this.endpoints.flatMap((e) => perEndpoint.map((k) => `${e.prefix}${k}`)),
    ].sort();
  }
}

/** `pooler-ro` for `<scope>-pooler-ro`: the Service's name without the cluster's. */
function endpointPrefix(scope: string, service: string): string {
  if (!service.startsWith(`${scope}-`)) throw new Error(`Service ${service} is not named after the cluster ${scope}`);
  return service.slice(scope.length + 1);
}
