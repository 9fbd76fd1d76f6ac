#!/bin/sh
# Entrypoint of the postgres:17-alpine stand-in (our own). dist/ only runs its own commands in this
# image (they replace the entrypoint); the official entrypoint's initialisation of a server in
# $PGDATA (initdb, POSTGRES_* variables, /docker-entrypoint-initdb.d) is not emulated.
set -e
case "$1" in
    -*) set -- postgres "$@" ;;
esac
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "docker-entrypoint.sh (postgres:17-alpine stand-in): initialising a server is not emulated; $PGDATA is empty" >&2
    exit 1
fi
exec "$@"
