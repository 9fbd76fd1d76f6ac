/**
 * What a user can set per component (`PgHaSettings.etcd`, `.postgres`, `.patroni`, `.router`,
 * `.init`, `.statsIngress`) and the scheduling every component shares. Each construct's props extend
 * these with the wiring the chart passes (`EtcdClusterProps extends EtcdSettings`, ...).
 * Every `@default` names its value in DEFAULTS (lib/settings/defaults.ts).
 */
import { k8s } from 'cdk8s-plus-28';
import { ExternalAccessSettings } from './external-access-settings';

/** How strongly pods of one component avoid sharing a node. */
export const ANTI_AFFINITY_MODES = ['preferred', 'required', 'none'] as const;
export type AntiAffinityMode = (typeof ANTI_AFFINITY_MODES)[number];

/** How strongly pods of one component spread over zones (`topology.kubernetes.io/zone`). */
export const ZONE_SPREAD_MODES = ['none', 'preferred', 'required'] as const;
export type ZoneSpreadMode = (typeof ZONE_SPREAD_MODES)[number];

/** Where a component's pods may run. Set for the whole chart (`scheduling`) or per component. */
export interface SchedulingSettings {
  /**
   * Pods of the same component on different nodes (`kubernetes.io/hostname`): `preferred` schedules
   * anyway when there are fewer nodes than pods; `required` leaves such pods Pending, so losing one
   * node never takes two members.
   * @default DEFAULTS.scheduling.antiAffinity
   */
  readonly antiAffinity?: AntiAffinityMode;
  /**
   * Spread pods over zones (`topology.kubernetes.io/zone`, max skew 1). `required` leaves pods Pending
   * on nodes without a zone label; `preferred` only scores (with `none` the kube-scheduler's built-in
   * default spreading still prefers zones).
   * @default DEFAULTS.scheduling.zoneSpread
   */
  readonly zoneSpread?: ZoneSpreadMode;
  /**
   * Node labels the pods require.
   * @default - any node
   */
  readonly nodeSelector?: Record<string, string>;
  /**
   * Taints the pods tolerate (for dedicated database nodes).
   * @default - none
   */
  readonly tolerations?: k8s.Toleration[];
  /**
   * PriorityClass of the pods (it must exist in the cluster).
   * @default - the cluster's default priority
   */
  readonly priorityClassName?: string;
}

/**
 * Who does the one switchover of a rollout of the Postgres pods: the rollout Job (`auto`), or an
 * operator with the command the Job's log prints (`manual`), after every replica was replaced.
 */
export const ROLLOUT_PRIMARY_MODES = ['auto', 'manual'] as const;
export type RolloutPrimaryMode = (typeof ROLLOUT_PRIMARY_MODES)[number];

/** Amounts of CPU and memory (and ephemeral storage) of a container. */
export type ResourceQuantities = {
  readonly 'cpu'?: k8s.Quantity;
  readonly 'memory'?: k8s.Quantity;
  readonly 'ephemeral-storage'?: k8s.Quantity;
};

/** Requests and limits of a container, merged over the component's defaults key by key. */
export interface ResourceSettings {
  readonly requests?: ResourceQuantities;
  readonly limits?: ResourceQuantities;
}

export interface EtcdSettings {
  /**
   * Members of the etcd cluster: odd, so that a majority survives the loss of (n-1)/2.
   * @default DEFAULTS.etcd.replicas
   */
  readonly replicas?: number;
  /** @default DEFAULTS.etcd.image */
  readonly image?: string;
  /**
   * Port clients (Patroni, etcdctl) connect to on every member and on the client Service
   * (ETCD_CLIENT_PORT, as in the compose deployment). The peer (2380) and metrics (8080) ports are fixed.
   * @default DEFAULTS.etcd.clientPort
   */
  readonly clientPort?: number;
  /**
   * Size of each member's data volume.
   * @default DEFAULTS.etcd.storageSize
   */
  readonly storageSize?: string;
  /**
   * StorageClass of the data volumes.
   * @default - the cluster's default StorageClass
   */
  readonly storageClass?: string;
  /**
   * CPU and memory of the etcd container. No CPU limit by default: throttling delays etcd's
   * heartbeats and triggers needless leader elections.
   * @default DEFAULTS.etcd.resources
   */
  readonly resources?: ResourceSettings;
  /**
   * Anti-affinity, zone spread, node selection and priority of the etcd pods.
   * @default - the chart-wide `scheduling`
   */
  readonly scheduling?: SchedulingSettings;
  /**
   * TLS on etcd's client and peer ports.
   * @default - on, with a certificate the secrets Job generates
   */
  readonly tls?: EtcdTlsSettings;
  /**
   * etcd authentication: a root user and a user for Patroni limited to its key prefix, created by
   * the etcd access Job from the credentials Secret. Needs `tls.enabled` (no password in clear).
   * @default - the value of `tls.enabled`
   */
  readonly auth?: boolean;
}

/** etcd's certificate (clients and peers). */
export interface EtcdTlsSettings {
  /**
   * Client and peer TLS. Off, etcd serves plain http and `auth` must be off too.
   * @default DEFAULTS.etcd.tls.enabled
   */
  readonly enabled?: boolean;
  /**
   * Secret with `tls.crt`, `tls.key` and `ca.crt` (server and client auth usages; names in
   * `etcdTlsDnsNames`). Written by cert-manager when `issuerName` is set.
   * @default - `<scope>-etcd-tls`, generated once by the secrets Job (or written by cert-manager)
   */
  readonly secretName?: string;
  /**
   * Secret with `tls.crt`, `tls.key` (client auth, no common name: etcd's JSON gateway refuses a
   * client certificate that has one) and `ca.crt` (the CA that signed etcd's certificate): the
   * certificate etcd's clients (Patroni, the etcd access Job) present, as etcd asks for one
   * (`--client-cert-auth`). Required with `secretName` (your own certificate), and only then.
   * @default - `<scope>-etcd-client-tls`, generated once by the secrets Job (or written by cert-manager)
   */
  readonly clientSecretName?: string;
  /**
   * A cert-manager issuer: the chart adds a Certificate that writes `secretName` (it must put the CA in `ca.crt`).
   * @default - no Certificate: the secrets Job generates a CA and the certificate
   */
  readonly issuerName?: string;
  /**
   * Kind of `issuerName` (only with `issuerName`).
   * @default DEFAULTS.etcd.tls.issuerKind
   */
  readonly issuerKind?: IssuerKind;
  /**
   * The first of two steps that move a cluster made with plain etcd (an earlier dist/) to TLS
   * (docs/security.md): etcd serves clients on http and https and peers on http and, on a second
   * port, https; Patroni moves to https; the etcd access Job creates the users and moves the
   * members' peer URLs to https, but leaves authentication off. Then unset it (the second step).
   * @default false
   */
  readonly migration?: boolean;
}

/** Issuer kinds of cert-manager. */
export const ISSUER_KINDS = ['Issuer', 'ClusterIssuer'] as const;
export type IssuerKind = (typeof ISSUER_KINDS)[number];

/** PostgreSQL's serving certificate. */
export interface PostgresTlsSettings {
  /**
   * Secret with `tls.crt`, `tls.key` and (optional for PostgreSQL, needed by the init Job's
   * verify-full) `ca.crt`, as cert-manager writes it. Its names must include the router's Services
   * (see `postgresTlsDnsNames`).
   * @default - `<scope>-tls` when `issuerName` is set, else none (Spilo's self-signed certificate)
   */
  readonly secretName?: string;
  /**
   * A cert-manager issuer: the chart adds a `cert-manager.io/v1` Certificate that writes `secretName`.
   * @default - no Certificate (bring your own Secret)
   */
  readonly issuerName?: string;
  /**
   * Kind of `issuerName` (only with `issuerName`).
   * @default DEFAULTS.postgres.tls.issuerKind
   */
  readonly issuerKind?: IssuerKind;
  /**
   * More names the Certificate covers (only with `issuerName`): the names clients outside the
   * cluster connect to (the load balancer's DNS name), so that they can use `sslmode=verify-full`.
   * @default - the in-cluster names only
   */
  readonly externalDnsNames?: string[];
}

export interface PostgresSettings {
  /**
   * Members (one leader, the rest replicas).
   * @default DEFAULTS.postgres.replicas
   */
  readonly replicas?: number;
  /** @default DEFAULTS.postgres.image */
  readonly image?: string;
  /**
   * PostgreSQL's port in every pod (POSTGRES_PORT, as in the compose deployment): the router's
   * backends, replication between members, the exporter and the NetworkPolicies follow it.
   * Patroni's REST API stays on 8008. Clients use the router's ports, not this one.
   * @default DEFAULTS.postgres.port
   */
  readonly port?: number;
  /**
   * PostgreSQL major version Spilo runs (must be in the image).
   * @default DEFAULTS.postgres.pgVersion
   */
  readonly pgVersion?: number;
  /** @default DEFAULTS.postgres.storageSize */
  readonly storageSize?: string;
  /** @default - the cluster's default StorageClass */
  readonly storageClass?: string;
  /**
   * CPU and memory of the Spilo container. Spilo sizes shared_buffers (limit/5) and max_connections
   * from the memory limit, so it must be set.
   * @default DEFAULTS.postgres.resources
   */
  readonly resources?: ResourceSettings;
  /**
   * CPU and memory of the postgres-exporter sidecar.
   * @default DEFAULTS.postgres.exporterResources
   */
  readonly exporterResources?: ResourceSettings;
  /**
   * Anti-affinity, zone spread, node selection and priority of the Postgres pods.
   * @default - the chart-wide `scheduling`
   */
  readonly scheduling?: SchedulingSettings;
  /**
   * PostgreSQL's serving certificate from a Secret (optionally issued by cert-manager).
   * @default - Spilo's self-signed certificate (encrypts, but clients cannot verify the server)
   */
  readonly tls?: PostgresTlsSettings;
  /** @default DEFAULTS.postgres.exporterImage */
  readonly exporterImage?: string;
  /**
   * Port of the postgres-exporter sidecar.
   * @default DEFAULTS.postgres.exporterPort
   */
  readonly exporterPort?: number;
  /**
   * Database role the exporter logs in as (created by the init Job, member of pg_monitor).
   * @default DEFAULTS.postgres.monitorUser
   */
  readonly monitorUser?: string;
  /**
   * Whether the rollout Job switches over to an updated synchronous standby itself (`auto`) or
   * stops before it and logs the command that finishes the rollout (`manual`).
   * @default DEFAULTS.postgres.rolloutPrimary
   */
  readonly rolloutPrimary?: RolloutPrimaryMode;
}

/** Patroni's timing and replication settings (bootstrap.dcs: applied when the cluster is first created). */
export interface PatroniSettings {
  /**
   * Seconds the leader lock lives without renewal; a dead leader is replaced after at most about ttl + loop_wait.
   * Patroni 4 refuses less than 20.
   * @default DEFAULTS.patroni.ttl
   */
  readonly ttl?: number;
  /**
   * Seconds between two runs of Patroni's HA loop.
   * @default DEFAULTS.patroni.loopWait
   */
  readonly loopWait?: number;
  /**
   * Seconds Patroni retries DCS and PostgreSQL operations before demoting. Needs loop_wait + 2*retry_timeout <= ttl.
   * @default DEFAULTS.patroni.retryTimeout
   */
  readonly retryTimeout?: number;
  /**
   * Commit waits for one synchronous standby and only a synchronous standby may be promoted,
   * so no acknowledged write is lost on failover.
   * @default DEFAULTS.patroni.synchronousMode
   */
  readonly synchronousMode?: boolean;
  /**
   * When etcd is unreachable, the leader stays primary only while every member confirms it over Patroni's
   * REST API; without it, losing etcd's quorum demotes the leader (the cluster becomes read-only).
   * @default DEFAULTS.patroni.failsafeMode
   */
  readonly failsafeMode?: boolean;
  /**
   * A replica more than this many bytes behind the leader is not promoted.
   * @default DEFAULTS.patroni.maximumLagOnFailover
   */
  readonly maximumLagOnFailover?: number;
  /**
   * PostgreSQL parameters, merged over the chart's; each goes where it takes effect (the DCS, or Spilo's local configuration), and the converge Job applies a change to the running cluster.
   * @default - the chart's own parameters only
   */
  readonly parameters?: Record<string, string | number>;
}

export interface RouterSettings {
  /**
   * Router pods. One would be a single point of failure.
   * @default DEFAULTS.router.replicas
   */
  readonly replicas?: number;
  /** @default DEFAULTS.router.image */
  readonly image?: string;
  /**
   * Port of the write Service and of HAProxy's write frontend.
   * @default DEFAULTS.router.writePort
   */
  readonly writePort?: number;
  /**
   * Port of the read Service and of HAProxy's read frontend.
   * @default DEFAULTS.router.readPort
   */
  readonly readPort?: number;
  /** @default DEFAULTS.router.statsPort */
  readonly statsPort?: number;
  /** @default DEFAULTS.router.metricsPort */
  readonly metricsPort?: number;
  /**
   * Replicas further behind the leader than this many bytes receive no reads.
   * @default DEFAULTS.router.replicaMaxLagBytes
   */
  readonly replicaMaxLagBytes?: number;
  /**
   * Maximum client connections per router pod.
   * @default DEFAULTS.router.maxConnections
   */
  readonly maxConnections?: number;
  /**
   * CPU and memory of the HAProxy container.
   * @default DEFAULTS.router.resources
   */
  readonly resources?: ResourceSettings;
  /**
   * Anti-affinity, zone spread, node selection and priority of the router pods.
   * @default - the chart-wide `scheduling`
   */
  readonly scheduling?: SchedulingSettings;
  /**
   * Access from outside the cluster: Service type, allowed source ranges, annotations.
   * @default - ClusterIP Services: reachable inside the cluster only
   */
  readonly external?: ExternalAccessSettings;
  /**
   * Existing Secret (type `kubernetes.io/basic-auth`: keys `username` and `password`) whose
   * credentials HAProxy asks for on the stats page. Metrics stay unauthenticated for Prometheus and
   * are fenced by the NetworkPolicies.
   * @default - no authentication on the stats page (see the production checklist)
   */
  readonly statsAuthSecret?: string;
}

export interface InitJobSettings {
  /**
   * Extra SQL run in the application database as the superuser after the chart's own (must be idempotent).
   * @default - none
   */
  readonly extraSql?: string;
  /** @default DEFAULTS.init.image */
  readonly image?: string;
  /**
   * Seconds the Job may take, waiting for a leader included.
   * @default DEFAULTS.init.deadlineSeconds
   */
  readonly deadlineSeconds?: number;
  /**
   * CPU and memory of the init container.
   * @default DEFAULTS.init.resources
   */
  readonly resources?: ResourceSettings;
  /**
   * Node selection and priority of the Job's pod (anti-affinity and zone spread do not apply to one pod).
   * @default - the chart-wide `scheduling`
   */
  readonly scheduling?: SchedulingSettings;
}

/** How the stats page is exposed through Traefik. */
export const STATS_EXPOSURES = ['ingress', 'ingressroute', 'none'] as const;
export type StatsExposure = (typeof STATS_EXPOSURES)[number];

export interface StatsIngressSettings {
  /**
   * `ingress` (networking.k8s.io Ingress), `ingressroute` (Traefik CRD) or `none`.
   * @default DEFAULTS.statsIngress.kind
   */
  readonly kind?: StatsExposure;
  /**
   * Host name of the stats page.
   * @default - `pg-haproxy.<domain>`
   */
  readonly host?: string;
  /**
   * IngressClass of the Ingress (and Traefik's `ingressClassName` hint for the IngressRoute).
   * @default DEFAULTS.statsIngress.className
   */
  readonly className?: string;
  /**
   * Traefik entry points the route listens on.
   * @default DEFAULTS.statsIngress.entryPoints
   */
  readonly entryPoints?: string[];
  /**
   * Existing Secret with an htpasswd `users` key: Traefik asks for basic auth before the stats page.
   * @default - no authentication (as in the compose deployment)
   */
  readonly basicAuthSecret?: string;
}
