#!/bin/sh
# pg-ha-cdk8s init Job: wait for the leader behind the write Service, then apply init.sql.
# Idempotent: every statement checks before it creates, so running it again is harmless.
#
# Env (from the Job): PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE (libpq), APP_USER, APP_DB,
# APP_PASSWORD, MONITOR_USER, MONITOR_PASSWORD, WAIT_ATTEMPTS, and with the pooler POOLER_USER and
# POOLER_PASSWORD; SQL_DIR holds init.sql and user.sql.
set -eu

attempts=${WAIT_ATTEMPTS:-150}
i=0
# pg_isready through HAProxy succeeds only once a member is the Patroni leader and accepts connections.
until pg_isready --quiet --timeout=3 --dbname=postgres; do
  i=$((i + 1))
  if [ "$i" -ge "$attempts" ]; then
    echo "init: no leader behind $PGHOST:$PGPORT after $attempts attempts" >&2
    exit 1
  fi
  sleep 2
done
echo "init: leader reachable at $PGHOST:$PGPORT"

psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --dbname=postgres --file="$SQL_DIR/init.sql"

if [ -s "$SQL_DIR/user.sql" ]; then
  psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --dbname="$APP_DB" --file="$SQL_DIR/user.sql"
  echo "init: applied user.sql to $APP_DB"
fi
echo "init: done"
