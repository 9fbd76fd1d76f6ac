# haproxy:3.3.1 stand-in: Debian 13's HAProxy 3.0 with the official image's contract: user haproxy
# with uid and gid 99, WORKDIR /var/lib/haproxy owned by it, the configuration directory
# /usr/local/etc/haproxy (dist/ mounts haproxy.cfg there), `haproxy` at /usr/local/sbin, and
# docker-entrypoint.sh adding -W -db (master-worker, foreground) as the official entrypoint does.
set -eu
python3 /tmp/lib/set-ids.py group haproxy 99 user haproxy 99 haproxy /var/lib/haproxy /usr/sbin/nologin
mkdir -p /usr/local/etc/haproxy /usr/local/sbin /var/lib/haproxy
ln -sf /usr/sbin/haproxy /usr/local/sbin/haproxy
chown haproxy:haproxy /var/lib/haproxy
chmod 755 /usr/local/bin/docker-entrypoint.sh
