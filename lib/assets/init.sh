#!/bin/sh
# pg-ha-cdk8s init Job: wait for the leader behind the write Service, then apply init.sql.
# Idempotent: every statement checks before it creates, so running it again is harmless.
#
# Env (from the Job): PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE (libpq), APP_USER, APP_DB,
# APP_PASSWORD, MONITOR_USER, MONITOR_PASSWORD, WAIT_ATTEMPTS, RESERVED_ROLES, RESERVED_ROLE_PREFIX,
# and with the pooler POOLER_USER and POOLER_PASSWORD; SQL_DIR holds init.sql and user.sql.
set -eu

# init.sql sets the passwords of MONITOR_USER, POOLER_USER and APP_USER: none may be a role Spilo or
# Patroni uses (RESERVED_ROLES, the list the synth checks too), nor another of the three. The synth
# refuses such names; this catches an edited Job before it connects.
# refuse_reserved JOB_VARIABLE PG_HA_ENV_SETTING ROLE [ROLES IT MUST ALSO DIFFER FROM...]
: "${RESERVED_ROLES:?set by the Job}" "${RESERVED_ROLE_PREFIX:?set by the Job}"
refuse_reserved() {
  variable=$1 setting=$2 role=$3
  shift 3
  case "$role" in
    "$RESERVED_ROLE_PREFIX"*) taken="PostgreSQL's own (names starting with $RESERVED_ROLE_PREFIX)" ;;
    *) taken= ;;
  esac
  for other in $RESERVED_ROLES "$@"; do
    if [ -z "$taken" ] && [ "$role" = "$other" ]; then taken="one Spilo, Patroni, the exporters or the pooler use"; fi
  done
  if [ -n "$taken" ]; then
    echo "init: $variable=$role ($setting) is refused: the role is $taken, and init.sql would set its password. Reserved: $RESERVED_ROLES $*, and ${RESERVED_ROLE_PREFIX}*" >&2
    exit 1
  fi
}
refuse_reserved MONITOR_USER MONITOR_USER "$MONITOR_USER"
if [ -n "${POOLER_USER:-}" ]; then refuse_reserved POOLER_USER POOLER_USER "$POOLER_USER" "$MONITOR_USER"; fi
refuse_reserved APP_USER POSTGRES_USER "$APP_USER" "$MONITOR_USER" ${POOLER_USER:+"$POOLER_USER"}

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
