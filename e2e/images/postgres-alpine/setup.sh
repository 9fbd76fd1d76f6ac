# postgres:17-alpine stand-in: Debian 13's PostgreSQL 17 with the official image's contract for what
# dist/ runs in it (the init Job: /bin/sh, psql, pg_isready as uid 70): user and group postgres with
# id 70 (home /var/lib/postgresql), every PostgreSQL 17 program on the default PATH at
# /usr/local/bin as in the official image, PGDATA /var/lib/postgresql/data, /var/run/postgresql.
# No curl (the official image has none; neither has the base layer).
set -eu
python3 /tmp/lib/set-ids.py group postgres 70 user postgres 70 postgres /var/lib/postgresql /bin/sh
for f in /usr/lib/postgresql/17/bin/*; do ln -sf "$f" /usr/local/bin/; done
mkdir -p /var/lib/postgresql/data /var/run/postgresql
chown postgres:postgres /var/lib/postgresql /var/lib/postgresql/data /var/run/postgresql
chmod 1777 /var/lib/postgresql/data
chmod 3777 /var/run/postgresql
chmod 755 /usr/local/bin/docker-entrypoint.sh
if command -v curl >/dev/null; then echo "postgres-alpine: curl must not be in this image" >&2; exit 1; fi
