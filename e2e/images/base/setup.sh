# The shared base layer of the Debian-based images (run by build.sh in a chroot: an overlay over the
# Debian 13 root scripts/e2e-install.sh builds, which stays untouched). It keeps that root's
# PostgreSQL 17, Python 3 (with Patroni's dependencies), HAProxy, the exporters, PgBouncer, openssl
# and the en_US.UTF-8 locale, and drops what no image runs: Debian's Patroni 4.0.7 (the Spilo image
# installs Spilo's 4.0.4 from PyPI), Prometheus and promtool, and etcd 3.5 (the etcd image is built
# from etcd's Go modules). Every layer also leaves out documentation, manual pages, translations,
# apt's lists and caches and logs (lib/oci.py).
set -eu
export DEBIAN_FRONTEND=noninteractive
# Patroni's Python dependencies stay, marked as installed on purpose
deps=$(apt-cache depends --installed patroni | sed -n 's/^ *|\{0,1\}Depends: \(python3-[a-z0-9.+-]*\).*/\1/p' | sort -u)
apt-mark manual $deps >/dev/null
dpkg --purge patroni promtool prometheus etcd-server etcd-client >/dev/null
for name in prometheus etcd; do
    if getent passwd "$name" >/dev/null; then userdel "$name"; fi
    if getent group "$name" >/dev/null; then groupdel "$name"; fi
done
rm -rf /var/lib/prometheus /var/lib/etcd /etc/prometheus
# the e2e bed's runs under the root's /tmp are not part of any image (lib/oci.py empties /tmp)
echo "base: kept $(dpkg-query -W -f '${Package} ${Version}\n' postgresql-17 python3 haproxy prometheus-postgres-exporter pgbouncer prometheus-pgbouncer-exporter openssl | tr '\n' ';')"
