/**
 * The database roles that are never the application's (POSTGRES_USER) nor the chart's own
 * (MONITOR_USER, POOLER_USER): the init Job creates those and sets their passwords, so one of
 * these names would hand the application the superuser, or break the login Patroni, the replicas or
 * Spilo depend on. The init Job gets this list in its environment and refuses them too, at run time
 * (someone may edit the Job's env): the list is written here only.
 */
import { REPLICATION_USER, SUPERUSER } from './credentials';

/** Roles Spilo and Patroni create or log in as, and what each is (Spilo's post_init.sh creates the last four). */
export const SPILO_ROLES: Readonly<Record<string, string>> = {
  [SUPERUSER]: 'the superuser Patroni, Spilo and the Jobs log in as',
  [REPLICATION_USER]: 'the role replicas stream as',
  admin: 'Spilo\'s role of administrators',
  cron_admin: 'Spilo\'s pg_cron role',
  robot_zmon: 'Spilo\'s monitoring role',
  zalandos: 'Spilo\'s role of human users (HUMAN_ROLE)',
};
