#!/bin/sh
# Spilo's /launch.sh, for the e2e stand-in of ghcr.io/zalando/spilo-17:4.0-p3 (our own code).
# The image's CMD is `/bin/sh /launch.sh init`. Spilo runs dumb-init -> launch.sh -> runsvdir ->
# runit's patroni service; here launch.sh prepares the same directories, runs the configure step
# (/scripts/configure_spilo.py) and execs Patroni with the environment Spilo's runit service keeps.
# Patroni started as PID 1 forks and acts as init (reaps children, passes SIGTERM on), so the pod's
# SIGTERM reaches Patroni as Spilo's `sv stop patroni` delivers it. Spilo's cron (backups), pgqd and
# sysctl tuning are not emulated.
[ "$1" = init ] && shift

mkdir -p "$PGLOG" "$PGDATA" "$RW_DIR/postgresql" "$RW_DIR/tmp" "$RW_DIR/certs"
if [ "$(id -u)" -ne 0 ]; then
    # as Spilo: the postgres entry takes the container's uid and gid (/etc/passwd is group-root writable)
    sed -e "s/^postgres:x:[^:]*:[^:]*:/postgres:x:$(id -u):$(id -g):/" /etc/passwd > "$RW_DIR/tmp/passwd"
    cat "$RW_DIR/tmp/passwd" > /etc/passwd
    rm "$RW_DIR/tmp/passwd"
fi
# Spilo makes sure every log file exists (a foreign data wrapper may point at them)
for i in 0 1 2 3 4 5 6 7; do
    if [ "$LOG_SHIP_HOURLY" != "true" ]; then
        [ -f "$PGLOG/postgresql-$i.csv" ] || touch "$PGLOG/postgresql-$i.csv"
    else
        for h in $(seq -w 0 23); do
            [ -f "$PGLOG/postgresql-$i-$h.csv" ] || touch "$PGLOG/postgresql-$i-$h.csv"
        done
    fi
done
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres: "$PGROOT" "$RW_DIR/certs"
fi
chmod -R go-w "$PGROOT"
chmod 01777 "$RW_DIR/tmp"
chmod 0700 "$PGDATA"

if [ "$(id -u)" -eq 0 ]; then
    # Spilo's runit service drops to postgres with chpst; the configure step itself runs as root
    python3 /scripts/configure_spilo.py || exit 1
    chown postgres: "$RW_DIR/postgres.yml" "$RW_DIR/certs"/* /run/postgresql
    AS_POSTGRES="setpriv --reuid=postgres --regid=postgres --init-groups"
else
    python3 /scripts/configure_spilo.py || exit 1
    AS_POSTGRES=""
fi

# Spilo's runit service keeps only these variables: nothing else (passwords included) reaches Patroni
KEEP=$(env | grep -E '^(KUBERNETES_(SERVICE|PORT|ROLE)[_=]|((POD_(IP|NAMESPACE))|HOSTNAME|PATH|PGHOME|LC_ALL|ENABLE_PG_MON)=)' | sed 's/=.*//')
set --
for name in $KEEP; do
    eval "set -- \"\$@\" \"$name=\${$name}\""
done
cd "$PGHOME" || exit 1
echo "launch.sh: exec patroni $PGHOME/postgres.yml ($(patroni --version 2>&1))" >&2
exec $AS_POSTGRES env -i "$@" HOME="$PGHOME" patroni "$PGHOME/postgres.yml"
