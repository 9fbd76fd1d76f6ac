/** PgHaSettings: everything a user can set, as `pg-ha.env` fills it and the chart reads it. */
import {
  EtcdSettings, InitJobSettings, PatroniSettings, PostgresSettings, RouterSettings, SchedulingSettings, StatsIngressSettings,
} from './component-settings';
import { ArgoCdApplicationSettings, BackupSettings, MonitoringSettings, NetworkPolicySettings } from './feature-settings';
import { PoolerSettings } from './pooler-settings';

/**
 * Everything a user can set; every field is optional. Every `@default` names its value in DEFAULTS
 * (lib/settings/defaults.ts); the variables of pg-ha.env are in SETTINGS (lib/settings/env-table.ts).
 */
export interface PgHaSettings {
  /**
   * Patroni scope and prefix of every object name.
   * @default DEFAULTS.scope
   */
  readonly scope?: string;
  /**
   * Namespace of every object.
   * @default DEFAULTS.namespace
   */
  readonly namespace?: string;
  /**
   * Write a Namespace object into dist/ (turn off when the namespace is managed elsewhere).
   * @default DEFAULTS.createNamespace
   */
  readonly createNamespace?: boolean;
  /**
   * DNS domain of the Kubernetes cluster (pod and Service FQDNs end with it).
   * @default DEFAULTS.clusterDomain
   */
  readonly clusterDomain?: string;
  /**
   * Base domain: the stats page is served at `pg-haproxy.<domain>`.
   * @default DEFAULTS.domain
   */
  readonly domain?: string;
  /**
   * Application role the init Job creates.
   * @default DEFAULTS.postgresUser
   */
  readonly postgresUser?: string;
  /**
   * Application database the init Job creates.
   * @default DEFAULTS.postgresDb
   */
  readonly postgresDb?: string;
  /**
   * Existing Secret holding the passwords (keys: see CREDENTIAL_KEYS).
   * @default - a Job generates `<scope>-credentials` with random passwords
   */
  readonly existingSecret?: string;
  readonly etcd?: EtcdSettings;
  readonly postgres?: PostgresSettings;
  readonly patroni?: PatroniSettings;
  readonly router?: RouterSettings;
  /** @default - no pooler (DEFAULTS.pooler.enabled) */
  readonly pooler?: PoolerSettings;
  readonly init?: InitJobSettings;
  /** @default - an Ingress for `pg-haproxy.<domain>` */
  readonly statsIngress?: StatsIngressSettings;
  /** @default - no PodMonitors or PrometheusRule */
  readonly monitoring?: MonitoringSettings;
  /** @default - backups off: archive_command=/bin/true */
  readonly backups?: BackupSettings;
  /**
   * The Argo CD Application manifest (written by the command line outside dist/, not part of the chart).
   * @default - no Application
   */
  readonly argocd?: ArgoCdApplicationSettings;
  /**
   * Scheduling of every component (anti-affinity, zone spread, nodeSelector, tolerations,
   * priorityClassName); a component's own `scheduling` wins field by field.
   * @default DEFAULTS.scheduling
   */
  readonly scheduling?: SchedulingSettings;
  /**
   * A PodDisruptionBudget per component (etcd and Postgres: at most 1 unavailable; router: at least 1 available).
   * @default DEFAULTS.disruptionBudgets
   */
  readonly disruptionBudgets?: boolean;
  /** @default DEFAULTS.networkPolicies (on, clients from the same namespace) */
  readonly networkPolicies?: NetworkPolicySettings;
}
