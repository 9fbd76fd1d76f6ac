#!/bin/sh
# Entrypoint of the ghcr.io/cloudnative-pg/pgbouncer:1.25.2 stand-in (our own, same command as the
# image's): PgBouncer on /etc/pgbouncer/pgbouncer.ini. dist/'s pooler replaces it with its start.sh.
exec /usr/bin/pgbouncer /etc/pgbouncer/pgbouncer.ini
