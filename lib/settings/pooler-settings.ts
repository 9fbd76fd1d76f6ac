/**
 * What a user can set for the PgBouncer connection pooler (`PgHaSettings.pooler`, POOLER_*).
 * Every `@default` names its value in DEFAULTS (lib/settings/defaults.ts).
 */
import { ResourceSettings, SchedulingSettings } from './component-settings';

/** PgBouncer's pool modes: when a server connection goes back to the pool. */
export const POOL_MODES = ['transaction', 'session', 'statement'] as const;
export type PoolMode = (typeof POOL_MODES)[number];

export interface PoolerSettings {
  /**
   * A PgBouncer Deployment in front of the write Service, with its own Service `<scope>-pooler` (POOLER).
   * @default DEFAULTS.pooler.enabled
   */
  readonly enabled?: boolean;
  /**
   * A second PgBouncer Deployment in front of the read Service, Service `<scope>-pooler-ro` (POOLER_READ).
   * @default DEFAULTS.pooler.read
   */
  readonly read?: boolean;
  /**
   * PgBouncer pods per pooler (each keeps its own pools: server connections add up over pods).
   * @default DEFAULTS.pooler.replicas
   */
  readonly replicas?: number;
  /** @default DEFAULTS.pooler.image */
  readonly image?: string;
  /** @default DEFAULTS.pooler.exporterImage */
  readonly exporterImage?: string;
  /**
   * Port of the pooler Services (the pods listen on 6432).
   * @default DEFAULTS.pooler.port
   */
  readonly port?: number;
  /**
   * `transaction` (a server connection per transaction: session state such as SET, LISTEN or
   * session advisory locks does not survive), `session` (one per client connection) or `statement`.
   * @default DEFAULTS.pooler.mode
   */
  readonly mode?: PoolMode;
  /**
   * Server connections per database and user pair, per pod.
   * @default DEFAULTS.pooler.defaultPoolSize
   */
  readonly defaultPoolSize?: number;
  /**
   * Extra server connections a pool may open when a client has waited 5 seconds.
   * @default DEFAULTS.pooler.reservePoolSize
   */
  readonly reservePoolSize?: number;
  /**
   * Client connections per pod.
   * @default DEFAULTS.pooler.maxClientConnections
   */
  readonly maxClientConnections?: number;
  /**
   * Role PgBouncer logs in as to look passwords up (auth_query), created by the init Job; its
   * password is the credentials Secret's `pooler-password`.
   * @default DEFAULTS.pooler.user
   */
  readonly user?: string;
  /**
   * CPU and memory of the PgBouncer container.
   * @default DEFAULTS.pooler.resources
   */
  readonly resources?: ResourceSettings;
  /**
   * CPU and memory of the pgbouncer-exporter sidecar.
   * @default DEFAULTS.pooler.exporterResources
   */
  readonly exporterResources?: ResourceSettings;
  /**
   * Anti-affinity, zone spread, node selection and priority of the pooler pods.
   * @default - the chart-wide `scheduling`
   */
  readonly scheduling?: SchedulingSettings;
}
