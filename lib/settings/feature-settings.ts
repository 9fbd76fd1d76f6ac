/**
 * What a user can set for the optional features: backups, monitoring, NetworkPolicies and the Argo CD
 * Application. Each feature has a switch; its other settings apply only while it is on (see
 * optional-features.ts). Every `@default` names its value in DEFAULTS (lib/settings/defaults.ts).
 */

/** Bootstrap a new cluster from another cluster's WAL-G archive. */
export interface CloneSettings {
  /**
   * WAL-G prefix of the cluster to copy, `s3://bucket/path` (its `WALG_S3_PREFIX`) (CLONE_FROM_S3_PREFIX).
   * Setting it makes a brand-new cluster bootstrap from that archive instead of initdb.
   * @default - no clone: a new cluster starts empty
   */
  readonly s3Prefix?: string;
  /**
   * SCOPE of the cluster to copy (CLONE_FROM_SCOPE).
   * @default - this cluster's scope
   */
  readonly scope?: string;
  /**
   * Recover up to this moment, e.g. `2026-11-26 05:00:00+00:00` (CLONE_TARGET_TIME).
   * @default - the end of the archive (latest)
   */
  readonly targetTime?: string;
}

export interface BackupSettings {
  /**
   * Archive WAL and take base backups with WAL-G (BACKUPS).
   * @default DEFAULTS.backups.enabled
   */
  readonly enabled?: boolean;
  /** S3 bucket (BACKUP_S3_BUCKET); required when enabled. */
  readonly bucket?: string;
  /**
   * Path inside the bucket (BACKUP_S3_PREFIX).
   * @default - `spilo/<namespace>-<scope>/wal/<pgVersion>` (Spilo's own layout)
   */
  readonly prefix?: string;
  /**
   * S3 endpoint of non-AWS storage, e.g. `https://minio.example.com:9000` (BACKUP_S3_ENDPOINT).
   * With an endpoint, Spilo always uses path-style addressing.
   * @default - AWS S3 of `region`
   */
  readonly endpoint?: string;
  /**
   * Region (BACKUP_S3_REGION).
   * @default DEFAULTS.backups.region
   */
  readonly region?: string;
  /**
   * Path-style bucket addressing (AWS_S3_FORCE_PATH_STYLE), for storage without virtual-host buckets
   * (BACKUP_S3_FORCE_PATH_STYLE). Spilo forces it on whenever `endpoint` is set.
   * @default DEFAULTS.backups.forcePathStyle
   */
  readonly forcePathStyle?: boolean;
  /**
   * Existing Secret with the keys `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (BACKUP_CREDENTIALS_SECRET);
   * required when enabled. Without keys Spilo falls back to an EC2 instance profile, which a pod rarely has.
   */
  readonly credentialsSecret?: string;
  /**
   * Cron schedule of the base backup (BACKUP_SCHEDULE), run on the primary by Spilo's cron.
   * @default DEFAULTS.backups.schedule
   */
  readonly schedule?: string;
  /**
   * Base backups to keep; Spilo keeps at least this many backups and days, and never fewer than 2
   * (BACKUP_NUM_TO_RETAIN).
   * @default DEFAULTS.backups.numToRetain
   */
  readonly numToRetain?: number;
  /** @default - no clone */
  readonly clone?: CloneSettings;
}

export interface MonitoringSettings {
  /**
   * Write PodMonitors and a PrometheusRule (PROMETHEUS_OPERATOR). Needs the Prometheus Operator's
   * CRDs in the cluster, so it is off by default.
   * @default DEFAULTS.monitoring.enabled
   */
  readonly enabled?: boolean;
  /**
   * Labels on every PodMonitor and the PrometheusRule, for the Prometheus resource's
   * podMonitorSelector / ruleSelector (PROMETHEUS_LABELS, e.g. `release=kube-prometheus-stack`).
   * @default - no extra labels
   */
  readonly labels?: Record<string, string>;
  /**
   * Scrape interval of every PodMonitor (PROMETHEUS_SCRAPE_INTERVAL).
   * @default DEFAULTS.monitoring.scrapeInterval
   */
  readonly scrapeInterval?: string;
  /**
   * A replica whose replayed WAL is further behind the leader than this many bytes raises
   * PostgresReplicationLagHigh (REPLICATION_LAG_ALERT_BYTES).
   * @default - the router's replicaMaxLagBytes: the lag at which a replica stops getting reads
   */
  readonly replicationLagBytes?: number;
  /**
   * Write a ConfigMap holding a Grafana dashboard of this cluster, for Grafana's dashboard sidecar
   * (GRAFANA_DASHBOARD).
   * @default DEFAULTS.monitoring.grafanaDashboard
   */
  readonly grafanaDashboard?: boolean;
  /**
   * Labels the dashboard sidecar looks for (GRAFANA_DASHBOARD_LABELS; kube-prometheus-stack's
   * `grafana.sidecar.dashboards.label` / `labelValue`).
   * @default DEFAULTS.monitoring.grafanaDashboardLabels
   */
  readonly grafanaDashboardLabels?: Record<string, string>;
}

/** Where DNS queries may go. */
export const DNS_EGRESS_MODES = ['kube-dns', 'any'] as const;

export type DnsEgressMode = (typeof DNS_EGRESS_MODES)[number];

/** User settings of the NetworkPolicies (the chart's `networkPolicies`). */
export interface NetworkPolicySettings {
  /**
   * Write the NetworkPolicies (they need a CNI that enforces them: Calico, Cilium, k3s' default...).
   * @default DEFAULTS.networkPolicies.enabled
   */
  readonly enabled?: boolean;
  /**
   * Namespaces (by name) whose pods may connect to the router's write and read ports.
   * @default - the cluster's own namespace only
   */
  readonly clientNamespaces?: string[];
  /**
   * Labels a client pod must carry to connect to the router.
   * @default - any pod of `clientNamespaces`
   */
  readonly clientPodLabels?: Record<string, string>;
  /**
   * Namespaces (by name) of Prometheus, allowed to scrape etcd (8080), Patroni (8008), the exporter
   * (9187) and HAProxy (8404).
   * @default DEFAULTS.networkPolicies.prometheusNamespaces
   */
  readonly prometheusNamespaces?: string[];
  /**
   * Labels of the Prometheus pods in `prometheusNamespaces`.
   * @default - any pod of `prometheusNamespaces`
   */
  readonly prometheusPodLabels?: Record<string, string>;
  /**
   * Namespaces (by name) of the ingress controller that serves the stats page (port 7000).
   * @default DEFAULTS.networkPolicies.ingressNamespaces (k3s' bundled Traefik, Traefik's Helm chart)
   */
  readonly ingressNamespaces?: string[];
  /**
   * Labels of the ingress controller's pods.
   * @default DEFAULTS.networkPolicies.ingressPodLabels
   */
  readonly ingressPodLabels?: Record<string, string>;
  /**
   * DNS egress (UDP and TCP 53): `kube-dns` allows only pods labelled `k8s-app: kube-dns` in
   * kube-system (CoreDNS on kubeadm, k3s, kind, EKS, GKE, AKS); `any` allows port 53 to every
   * address (needed with NodeLocal DNSCache, whose address is not a pod).
   * @default DEFAULTS.networkPolicies.dns
   */
  readonly dns?: DnsEgressMode;
  /**
   * Ports of the Kubernetes API server. Its address is not a pod and not selectable, so pods that
   * call the API (Spilo's role callback, the secrets Job) may reach these ports on any address.
   * @default DEFAULTS.networkPolicies.apiServerPorts
   */
  readonly apiServerPorts?: number[];
  /**
   * Ports on which the Postgres pods may reach any address for backups (WAL-G/WAL-E to S3, GCS,
   * Azure or MinIO; object storage is outside the cluster or not selectable). 443 is open anyway
   * for the API server; add e.g. 9000 for a MinIO endpoint.
   * @default DEFAULTS.networkPolicies.objectStoragePorts
   */
  readonly objectStoragePorts?: number[];
}

/** Where the optional Argo CD Application points and how it syncs. */
export interface ArgoCdApplicationSettings {
  /**
   * Git URL of your fork (ARGOCD_REPO_URL). When unset, no Application manifest is written.
   * @default - no Application
   */
  readonly repoUrl?: string;
  /**
   * Branch, tag or commit Argo CD follows (ARGOCD_TARGET_REVISION).
   * @default DEFAULTS.argocd.targetRevision
   */
  readonly targetRevision?: string;
  /**
   * Directory of the manifests in the repository (ARGOCD_PATH).
   * @default DEFAULTS.argocd.path
   */
  readonly path?: string;
  /**
   * Name of the Application (ARGOCD_APP_NAME).
   * @default - the cluster's scope (SCOPE)
   */
  readonly appName?: string;
  /**
   * Namespace Argo CD watches for Applications (ARGOCD_NAMESPACE).
   * @default DEFAULTS.argocd.namespace
   */
  readonly namespace?: string;
  /**
   * Argo CD project (ARGOCD_PROJECT).
   * @default DEFAULTS.argocd.project
   */
  readonly project?: string;
  /**
   * Kubernetes API server of the destination cluster (ARGOCD_DESTINATION_SERVER).
   * @default DEFAULTS.argocd.server (the cluster Argo CD runs in)
   */
  readonly server?: string;
  /**
   * Sync automatically on every commit, prune what was removed from git and undo manual changes
   * (ARGOCD_AUTO_SYNC).
   * @default DEFAULTS.argocd.automated
   */
  readonly automated?: boolean;
  /**
   * Where the Application manifest is written, relative to the project (ARGOCD_APPLICATION_FILE).
   * Must be outside the synth output directory: Argo CD would otherwise sync the Application into itself.
   * @default DEFAULTS.argocd.file
   */
  readonly file?: string;
}
