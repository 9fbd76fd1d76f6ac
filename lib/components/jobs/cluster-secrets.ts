import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { componentServiceAccountWithRole } from '../../k8s/service-accounts';
import { ComponentIdentity, imageVersion, selectorLabels, standardLabels } from '../../k8s/labels';
import { restrictedContainerSecurityContext } from '../../k8s/security-context';
import { SchedulingSettings } from '../../settings/component-settings';
import { jobSchedulingSpec } from '../../k8s/scheduling';
import { checkDnsLabel } from '../../validation';
import { ClusterContext } from '../../settings/cluster-names';
import { Credential, CREDENTIAL_KEYS, CREDENTIAL_LIMITS, FEATURE_CREDENTIALS } from '../../settings/credentials';
import { contentHash, fieldEnv, kubeletLiteral, plainEnv } from '../../k8s/workload';
import { KUBE_API_MODULE, readAsset } from '../../assets/read-asset';
import { EtcdTls } from '../etcd/etcd-tls';
import { APP_SECRET_SCRIPT, AppSecret } from './app-secret';

/** etcd's certificate as the secrets Job handles it (generates it, or checks a Secret given). */
export interface EtcdTlsSecret {
  readonly tls: EtcdTls;
  /** subjectAltNames of a generated certificate (`etcdTlsDnsNames`). */
  readonly names: string[];
  /** Common name of a generated certificate (its CA's is this + " CA"). */
  readonly commonName: string;
  /** Organization (subject O=, no common name) of the generated clients' certificate (`etcdClientOrganization`). */
  readonly clientOrganization: string;
}

/** Validity of the generated etcd CA and certificate, in days (renewal: docs/security.md). */
export const ETCD_CERTIFICATE_DAYS = { ca: 3650, certificate: 1825 } as const;

export interface ClusterSecretsProps {
  /** Where the cluster lives. */
  readonly cluster: ClusterContext;
  /**
   * Use this existing Secret (it must hold every key of `CREDENTIAL_KEYS`; the Job checks) instead of generating one.
   * @default - a Job generates `<name>-credentials` with random passwords on first apply and adds new keys later
   */
  readonly existingSecret?: string;
  /** Image whose python3 runs the generator (the Spilo image: no extra image to pull or trust). */
  readonly generatorImage: string;
  /**
   * Node selection and priority of the generator Job's pod.
   * @default - any node
   */
  readonly scheduling?: SchedulingSettings;
  /**
   * Annotations the generated Secret gets (it is not in git: a GitOps tool must leave it alone).
   * @default - none
   */
  readonly generatedSecretAnnotations?: Record<string, string>;
  /**
   * The feature credentials (FEATURE_CREDENTIALS) whose feature is on: the Job generates or checks them too.
   * @default - none
   */
  readonly featureCredentials?: readonly Credential[];
  /**
   * etcd's certificate: generated (CA and certificate, once) or checked by the Job.
   * @default - etcd without TLS: nothing to do
   */
  readonly etcdTls?: EtcdTlsSecret;
}

/**
 * The credentials Secret the cluster reads its passwords from.
 *
 * No password is ever in git: by default a one-shot Job (ServiceAccount allowed to create Secrets
 * and to read and patch this one) creates the Secret with random passwords if it is absent, and
 * later only adds the keys a newer chart needs (never changing a key already there). Pods that
 * reference it wait in `CreateContainerConfigError` until it exists, so a plain
 * `kubectl apply -f dist/` converges. With `existingSecret`, nothing is generated: the same Job
 * (allowed only to read that Secret) checks that every key is there and fails naming a missing one.
 */
export class ClusterSecrets extends Construct {
  /** Name of the Secret every component reads. */
  public readonly secretName: string;
  /** True when the chart generates the Secret itself. */
  public readonly generated: boolean;
  /** Labels selecting the secrets Job's pod. */
  public readonly generatorSelector: Record<string, string>;
  /**
   * The Job that generates or completes the Secret (checks it, with `existingSecret`) and creates the
   * application's connection Secret; added by `addGenerator` once the Services it names exist.
   */
  public generatorJob?: k8s.KubeJob;
  private readonly props: ClusterSecretsProps;

  constructor(scope: Construct, id: string, props: ClusterSecretsProps) {
    super(scope, id);
    const { cluster } = props;
    this.generated = props.existingSecret === undefined;
    this.secretName = this.generated
      ? `${cluster.name}-credentials`
      : checkDnsLabel('existingSecret', props.existingSecret!, 253);
    this.generatorSelector = selectorLabels({ instance: cluster.name, name: 'pg-ha-secrets', component: 'secrets' });
    this.props = props;
  }

  /** The env var that reads `credential`'s password from the Secret. */
  public env(name: string, credential: Credential): k8s.EnvVar {
    return { name, valueFrom: { secretKeyRef: { name: this.secretName, key: CREDENTIAL_KEYS[credential] } } };
  }

  /**
   * The secrets Job, which also creates `appSecret` (the application's connection) from the
   * credentials Secret when it is absent. Called once the Services it names exist.
   */
  public addGenerator(appSecret: AppSecret): k8s.KubeJob {
    if (this.generatorJob) throw new Error('ClusterSecrets.addGenerator: called twice');
    this.generatorJob = this.createGenerator(this.props.cluster, this.props, appSecret);
    return this.generatorJob;
  }

  private createGenerator(cluster: ClusterContext, props: ClusterSecretsProps, appSecret: AppSecret): k8s.KubeJob {
    const image = props.generatorImage;
    const name = `${cluster.name}-secrets`;
    const id: ComponentIdentity = { instance: cluster.name, name: 'pg-ha-secrets', component: 'secrets', version: imageVersion(image) };
    const labels = standardLabels(id);
    const metadata = { name, labels };

    const etcdTls = props.etcdTls?.tls;
    // The etcd TLS Secrets the Job reads (a cert-manager one is not its business).
    const etcdTlsSecrets = etcdTls && etcdTls.source !== 'issued' ? [etcdTls.secretName, etcdTls.clientSecretName, ...(etcdTls.caSecretName ? [etcdTls.caSecretName] : [])] : [];
    const creates = this.generated || etcdTls?.source === 'generated';
    componentServiceAccountWithRole(this, name, labels, cluster.namespace, [
      // `create` cannot be limited by name (the name is not known before the object exists). The Job
      // always creates one: the application's connection Secret.
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      this.generated
        // `patch` adds the keys a newer chart version needs; the script never changes a key already there.
        ? { apiGroups: [''], resources: ['secrets'], resourceNames: [this.secretName], verbs: ['get', 'patch'] }
        : { apiGroups: [''], resources: ['secrets'], resourceNames: [this.secretName], verbs: ['get'] },
      ...(etcdTlsSecrets.length ? [{ apiGroups: [''], resources: ['secrets'], resourceNames: etcdTlsSecrets, verbs: ['get'] }] : []),
      // Whether the application's connection Secret exists (the init Job keeps it current).
      { apiGroups: [''], resources: ['secrets'], resourceNames: [appSecret.name], verbs: ['get'] },
    ]);
    const scripts = { 'create-secret.py': readAsset('create-secret.py'), [APP_SECRET_SCRIPT]: readAsset(APP_SECRET_SCRIPT), [KUBE_API_MODULE]: readAsset(KUBE_API_MODULE) };
    const script = JSON.stringify(scripts);
    new k8s.KubeConfigMap(this, 'Script', { metadata, data: scripts });

    const secretLabels = standardLabels({ instance: cluster.name, name: 'pg-ha-credentials', component: 'credentials' });
    const spec: k8s.JobSpec = {
        backoffLimit: 6,
        activeDeadlineSeconds: 600,
        ttlSecondsAfterFinished: 3600,
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            // The one pod of the chart that talks to the Kubernetes API.
            automountServiceAccountToken: true,
            enableServiceLinks: false,
            restartPolicy: 'OnFailure',
            ...jobSchedulingSpec('scheduling', props.scheduling),
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65534,
              runAsGroup: 65534,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [{
              name: 'create-secret',
              image,
              command: ['python3', '/scripts/create-secret.py'],
              env: [
                ...plainEnv({
                  SECRET_NAME: this.secretName,
                  SECRET_KEYS: requiredCredentials(props.featureCredentials).map((c) => CREDENTIAL_KEYS[c]).join(','),
                  // What each key's programs cannot take (etcd's bcrypt, Patroni's DO block), checked in an existing Secret.
                  SECRET_LIMITS: kubeletLiteral(JSON.stringify(Object.fromEntries(requiredCredentials(props.featureCredentials)
                    .filter((c) => CREDENTIAL_LIMITS[c] !== undefined).map((c) => [CREDENTIAL_KEYS[c], CREDENTIAL_LIMITS[c]])))),
                  SECRET_SOURCE: this.generated ? 'generated' : 'existing',
                  ...(creates ? {
                    SECRET_LABELS: JSON.stringify(secretLabels),
                    SECRET_ANNOTATIONS: JSON.stringify(props.generatedSecretAnnotations ?? {}),
                  } : {}),
                  ...(etcdTls && props.etcdTls ? {
                    ETCD_TLS_SOURCE: etcdTls.source,
                    ETCD_TLS_SECRET: etcdTls.secretName,
                    ETCD_CLIENT_TLS_SECRET: etcdTls.clientSecretName,
                    ...(etcdTls.source === 'generated' ? {
                      ETCD_CA_SECRET: etcdTls.caSecretName!,
                      ETCD_TLS_NAMES: props.etcdTls.names.join(','),
                      ETCD_TLS_COMMON_NAME: props.etcdTls.commonName,
                      ETCD_CLIENT_TLS_ORGANIZATION: props.etcdTls.clientOrganization,
                      ETCD_CA_DAYS: ETCD_CERTIFICATE_DAYS.ca,
                      ETCD_TLS_DAYS: ETCD_CERTIFICATE_DAYS.certificate,
                    } : {}),
                  } : {}),
                }),
                ...appSecret.env(),
                fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
              ],
              volumeMounts: [
                { name: 'script', mountPath: '/scripts', readOnly: true },
                // openssl writes the keys it generates to files (the root filesystem is read-only).
                ...(etcdTls?.source === 'generated' ? [{ name: 'tmp', mountPath: '/tmp' }] : []),
              ],
              resources: {
                requests: { cpu: k8s.Quantity.fromString('10m'), memory: k8s.Quantity.fromString('32Mi') },
                limits: { memory: k8s.Quantity.fromString('128Mi') },
              },
              securityContext: restrictedContainerSecurityContext(),
            }],
            volumes: [
              { name: 'script', configMap: { name } },
              ...(etcdTls?.source === 'generated' ? [{ name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('1Mi') } }] : []),
            ],
          },
        },
    };
    // Named after its content (script included) like the init Job: re-applying a changed Job creates
    // a new one instead of failing on the old one's immutable pod template, and a new key re-runs it.
    return new k8s.KubeJob(this, 'Job', { metadata: { name: `${name}-${contentHash(script, JSON.stringify(spec))}`, labels }, spec });
  }
}

/** The credentials the Secret must hold: every one but the feature credentials of features that are off. */
export function requiredCredentials(featureCredentials: readonly Credential[] = []): Credential[] {
  return (Object.keys(CREDENTIAL_KEYS) as Credential[]).filter((c) => !FEATURE_CREDENTIALS.includes(c) || featureCredentials.includes(c));
}
