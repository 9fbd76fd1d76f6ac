import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { ClusterSecrets } from './cluster-secrets';
import { componentServiceAccountWithRole, SERVICE_ACCOUNT_TOKEN_MOUNT, serviceAccountTokenVolume } from '../../k8s/service-accounts';
import { InitJobSettings } from '../../settings/component-settings';
import { DEFAULTS } from '../../settings/defaults';
import { POSTGRES_ALPINE_UID, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../../k8s/security-context';
import { ComponentIdentity, imageVersion, selectorLabels, standardLabels } from '../../k8s/labels';
import { PgRouter } from '../router/pg-router';
import { checkImage, checkInt, checkOwnRoles, checkRoleName, RESERVED_ROLE_PREFIX } from '../../validation';
import { PostgresCluster } from '../postgres/postgres-cluster';
import { SUPERUSER } from '../../settings/credentials';
import { SPILO_ROLES } from '../../settings/reserved-roles';
import { resolveResources } from '../../k8s/resources';
import { jobSchedulingSpec } from '../../k8s/scheduling';
import { ClusterContext } from '../../settings/cluster-names';
import { contentHash, fieldEnv, plainEnv } from '../../k8s/workload';
import { KUBE_API_MODULE, readAsset } from '../../assets/read-asset';
import { APP_SECRET_SCRIPT, AppSecret } from './app-secret';

export interface InitJobProps extends InitJobSettings {
  /** Where the cluster lives. */
  readonly cluster: ClusterContext;
  /** The Job reaches the leader through the router's write Service. */
  readonly router: PgRouter;
  readonly postgres: PostgresCluster;
  readonly secrets: ClusterSecrets;
  /**
   * Application role to create.
   * @default DEFAULTS.postgresUser
   */
  readonly appUser?: string;
  /**
   * Application database to create, owned by appUser.
   * @default DEFAULTS.postgresDb
   */
  readonly appDb?: string;
  /**
   * The pooler's password-lookup role: the Job creates it and the lookup function.
   * @default - no pooler
   */
  readonly poolerUser?: string;
  /**
   * The poolers' Services, named in the application's connection Secret after the router's.
   * @default - no pooler
   */
  readonly poolerServices?: readonly { readonly name: string; readonly port: number }[];
  /** Image whose python3 writes the application's connection Secret (the Spilo image, as the secrets Job's). */
  readonly pythonImage: string;
  /**
   * Annotations of the application's connection Secret (not in git: a GitOps tool must leave it alone).
   * @default - none
   */
  readonly appSecretAnnotations?: Record<string, string>;
}

const CA_DIR = '/etc/pg-ha-ca';

const SQL_DIR = '/etc/pg-ha-init';

/** How long the init Job waits for the secrets Job to create the application's connection Secret (both start at once under `kubectl apply`). */
export const APP_SECRET_WAIT_SECONDS = 120;

/**
 * A Job that waits for the leader behind the write Service, then creates the application role
 * and database and the monitoring role (idempotent SQL, readable in lib/assets/), in an init
 * container; then its container brings the application's connection Secret (`<scope>-app`) up to
 * date with the password the SQL has just set. Only that container gets the ServiceAccount's token,
 * whose Role may read and patch that one Secret.
 *
 * Its name carries a hash of what it runs, so a changed script or SQL creates a new Job instead of
 * failing on the immutable pod template of the old one; finished Jobs are deleted after an hour.
 */
export class InitJob extends Construct {
  public readonly job: k8s.KubeJob;
  public readonly configMap: k8s.KubeConfigMap;
  /** Labels selecting the Job's pod. */
  public readonly selector: Record<string, string>;
  /** The application's connection Secret this Job keeps current (the secrets Job creates it). */
  public readonly appSecret: AppSecret;

  constructor(scope: Construct, id: string, props: InitJobProps) {
    super(scope, id);
    const { cluster, router, postgres, secrets } = props;
    const appUser = checkRoleName('postgresUser', props.appUser ?? DEFAULTS.postgresUser);
    // The Job sets these roles' passwords: none may be Spilo's, Patroni's, or another of them.
    checkOwnRoles([
      { setting: 'postgres.monitorUser', role: postgres.monitorUser, usedBy: 'the exporters\' role' },
      ...(props.poolerUser ? [{ setting: 'pooler.user', role: props.poolerUser, usedBy: 'the pooler\'s role' }] : []),
      { setting: 'postgresUser', role: appUser, usedBy: 'the application\'s role' },
    ], SPILO_ROLES);
    const appDb = checkRoleName('postgresDb', props.appDb ?? DEFAULTS.postgresDb);
    const image = checkImage('init.image', props.image ?? DEFAULTS.init.image);
    const deadlineSeconds = checkInt('init.deadlineSeconds', props.deadlineSeconds ?? DEFAULTS.init.deadlineSeconds, 60, 86400);
    const resources = resolveResources('init.resources', DEFAULTS.init.resources, props.resources);
    const tlsSecret = postgres.tlsSecretName;

    const identity: ComponentIdentity = { instance: cluster.name, name: 'pg-ha-init', component: 'init', version: imageVersion(image) };
    const labels = standardLabels(identity);
    this.selector = selectorLabels(identity);
    this.appSecret = new AppSecret({
      cluster,
      user: appUser,
      database: appDb,
      services: [
        { name: router.writeService.name, port: router.writePort },
        { name: router.readService.name, port: router.readPort },
        ...(props.poolerServices ?? []),
      ],
      annotations: props.appSecretAnnotations,
    });
    const data = {
      'init.sh': readAsset('init.sh'), 'init.sql': readAsset('init.sql'), 'user.sql': props.extraSql ?? '',
      [APP_SECRET_SCRIPT]: readAsset(APP_SECRET_SCRIPT), [KUBE_API_MODULE]: readAsset(KUBE_API_MODULE),
    };
    const configName = `${cluster.name}-init`;
    this.configMap = new k8s.KubeConfigMap(this, 'Sql', { metadata: { name: configName, labels }, data });
    const serviceAccountName = componentServiceAccountWithRole(this, configName, labels, cluster.namespace, [
      { apiGroups: [''], resources: ['secrets'], resourceNames: [this.appSecret.name], verbs: ['get', 'patch'] },
    ]);
    const scheduling = jobSchedulingSpec('init.scheduling', props.scheduling);

    const env: k8s.EnvVar[] = [
      ...plainEnv({
        PGHOST: router.writeService.name,
        PGPORT: router.writePort,
        PGUSER: SUPERUSER,
        // Spilo rejects non-TLS connections from other pods. With a real certificate, also check that
        // the server is the one named PGHOST (the certificate lists the router's Service names).
        PGSSLMODE: tlsSecret ? 'verify-full' : 'require',
        ...(tlsSecret ? { PGSSLROOTCERT: `${CA_DIR}/ca.crt` } : {}),
        PGCONNECT_TIMEOUT: 5,
        APP_USER: appUser,
        APP_DB: appDb,
        MONITOR_USER: postgres.monitorUser,
        // init.sh refuses them too, should someone edit the roles above in the Job.
        RESERVED_ROLES: Object.keys(SPILO_ROLES).join(' '),
        RESERVED_ROLE_PREFIX,
        SQL_DIR,
        // 150 attempts, 2 s apart plus up to 3 s each: about 12 minutes, inside the deadline.
        WAIT_ATTEMPTS: 150,
      }),
      secrets.env('PGPASSWORD', 'superuser'),
      secrets.env('APP_PASSWORD', 'app'),
      secrets.env('MONITOR_PASSWORD', 'monitor'),
      ...(props.poolerUser ? [...plainEnv({ POOLER_USER: props.poolerUser }), secrets.env('POOLER_PASSWORD', 'pooler')] : []),
    ];

    const template: k8s.PodTemplateSpec = {
      metadata: { labels },
      spec: {
        serviceAccountName,
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        restartPolicy: 'OnFailure',
        ...scheduling,
        // postgres:17-alpine's postgres user.
        securityContext: restrictedPodSecurityContext(POSTGRES_ALPINE_UID, POSTGRES_ALPINE_UID),
        // The roles and the database first (the pod's containers start only after it succeeded)...
        initContainers: [{
          name: 'init',
          image,
          command: ['/bin/sh', `${SQL_DIR}/init.sh`],
          env,
          resources,
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [
            { name: 'sql', mountPath: SQL_DIR, readOnly: true },
            ...(tlsSecret ? [{ name: 'ca', mountPath: CA_DIR, readOnly: true }] : []),
          ],
        }],
        // ...then the application's connection Secret, with the password the role now has.
        containers: [{
          name: 'app-secret',
          image: props.pythonImage,
          command: ['python3', `${SQL_DIR}/${APP_SECRET_SCRIPT}`],
          env: [
            ...this.appSecret.env(),
            ...plainEnv({ APP_SECRET_WAIT_SECONDS }),
            secrets.env('APP_PASSWORD', 'app'),
            fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
          ],
          resources,
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [
            { name: 'sql', mountPath: SQL_DIR, readOnly: true },
            { name: 'kube-api-access', mountPath: SERVICE_ACCOUNT_TOKEN_MOUNT, readOnly: true },
          ],
        }],
        volumes: [
          { name: 'sql', configMap: { name: configName } },
          serviceAccountTokenVolume('kube-api-access'),
          // Only the CA: the Job never needs the server's private key.
          ...(tlsSecret ? [{ name: 'ca', secret: { secretName: tlsSecret, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] : []),
        ],
      },
    };

    this.job = new k8s.KubeJob(this, 'Job', {
      metadata: { name: `${cluster.name}-init-${contentHash(JSON.stringify(data), JSON.stringify(template))}`, labels },
      spec: {
        backoffLimit: 4,
        activeDeadlineSeconds: deadlineSeconds,
        ttlSecondsAfterFinished: 3600,
        template,
      },
    });
  }
}
