# prometheuscommunity/pgbouncer-exporter:v0.12.1 stand-in: Debian 13's pgbouncer_exporter 0.10.2 at
# the official image's path /bin/pgbouncer_exporter (its ENTRYPOINT), run as nobody (65534). It reads
# PGBOUNCER_EXPORTER_CONNECTION_STRING like v0.12.1.
set -eu
ln -sf prometheus-pgbouncer-exporter /usr/bin/pgbouncer_exporter
