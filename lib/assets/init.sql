-- pg-ha-cdk8s init Job: databases and roles, idempotent (safe to run any number of times).
-- Passwords come from the environment (\getenv), never from this file, and are never logged.

-- Keep passwords out of the server log (Spilo logs DDL) and out of pg_stat_statements.
SET log_statement = 'none';
SET pg_stat_statements.track_utility = off;

\getenv app_user APP_USER
\getenv app_password APP_PASSWORD
\getenv app_db APP_DB
\getenv monitor_user MONITOR_USER
\getenv monitor_password MONITOR_PASSWORD

-- Application role (POSTGRES_USER): created once, password kept in sync with the Secret.
SELECT format('CREATE ROLE %I LOGIN', :'app_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'app_user', :'app_password') \gexec

-- Application database (POSTGRES_DB), owned by the application role.
SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_user')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db') \gexec

-- Monitoring role for the postgres-exporter sidecars: pg_monitor only, no data access.
SELECT format('CREATE ROLE %I LOGIN', :'monitor_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'monitor_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER PASSWORD %L', :'monitor_user', :'monitor_password') \gexec
SELECT format('GRANT pg_monitor TO %I', :'monitor_user') \gexec

-- PgBouncer's password lookup (only with the pooler on: POOLER_USER is set). The pooler role may
-- call one SECURITY DEFINER function, which returns the stored secret of a login role that is
-- neither a superuser nor a replication role: the pooler can never log anyone in as those.
\getenv pooler_user POOLER_USER
\getenv pooler_password POOLER_PASSWORD
\if :{?pooler_user}
SELECT format('CREATE ROLE %I LOGIN', :'pooler_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'pooler_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD %L', :'pooler_user', :'pooler_password') \gexec
CREATE SCHEMA IF NOT EXISTS pooler_auth;
REVOKE ALL ON SCHEMA pooler_auth FROM PUBLIC;
CREATE OR REPLACE FUNCTION pooler_auth.user_lookup(username text)
  RETURNS TABLE (usename name, passwd text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT rolname, rolpassword
    FROM pg_authid
   WHERE rolname = username
     AND rolcanlogin
     AND NOT rolsuper
     AND NOT rolreplication
     AND (rolvaliduntil IS NULL OR rolvaliduntil > now())
$$;
REVOKE ALL ON FUNCTION pooler_auth.user_lookup(text) FROM PUBLIC;
SELECT format('GRANT USAGE ON SCHEMA pooler_auth TO %I', :'pooler_user') \gexec
SELECT format('GRANT EXECUTE ON FUNCTION pooler_auth.user_lookup(text) TO %I', :'pooler_user') \gexec
\endif
