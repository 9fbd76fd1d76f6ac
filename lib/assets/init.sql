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
