# prometheuscommunity/postgres-exporter:v0.18.1 stand-in: Debian 13's postgres_exporter 0.17.1 at the
# official image's path /bin/postgres_exporter (its ENTRYPOINT), run as nobody (65534).
set -eu
ln -sf prometheus-postgres-exporter /usr/bin/postgres_exporter
