# ghcr.io/cloudnative-pg/pgbouncer:1.25.2 stand-in: Debian 13's PgBouncer 1.24.1 with the image's
# contract: user pgbouncer 998, group pgbouncer 996, pgbouncer at /usr/bin/pgbouncer, /bin/sh,
# openssl, the PostgreSQL client, /var/log/pgbouncer and /var/run/pgbouncer owned by pgbouncer,
# /etc/pgbouncer, ENTRYPOINT ./entrypoint.sh (WORKDIR /) running pgbouncer on
# /etc/pgbouncer/pgbouncer.ini; setuid/setgid bits removed, as the image's build does.
set -eu
python3 /tmp/lib/set-ids.py group pgbouncer 996 user pgbouncer 998 pgbouncer /home/pgbouncer /bin/sh
ln -sf /usr/sbin/pgbouncer /usr/bin/pgbouncer
mkdir -p /var/log/pgbouncer /var/run/pgbouncer /etc/pgbouncer
chown pgbouncer:pgbouncer /var/log/pgbouncer /var/run/pgbouncer
touch /etc/pgbouncer/pgbouncer.ini /etc/pgbouncer/userlist.txt
chmod 755 /entrypoint.sh
find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp \) -prune -o -type f -perm /6000 -exec chmod a-s {} +
