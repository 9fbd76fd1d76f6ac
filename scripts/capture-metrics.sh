#!/bin/bash
# Captures real /metrics output of the Debian 12 test-bed programs (etcd 3.4, Patroni 3.0.2 with
# PostgreSQL 15, prometheus-postgres-exporter 0.11.1, HAProxy 2.6 with the chart's haproxy.cfg),
# all on 127.0.0.5x loopback addresses, and writes the metric names (from `# TYPE` lines) to
# test/fixtures/observed-metrics/. Run as root on the e2e test bed; stops everything it started.
#   sudo scripts/capture-metrics.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/pg-ha-metrics.XXXXXX)
OUT="$REPO/test/fixtures/observed-metrics"
PIDS=()
cleanup() { for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done; sleep 5; rm -rf "$WORK"; }
trap cleanup EXIT
chmod 755 "$WORK"   # postgres must reach its data directory
cd "$WORK"
mkdir -p run pg && chown postgres run pg && chmod 700 pg
PW=$(openssl rand -hex 16)   # throw-away, never written to the repository

etcd --name m1 --data-dir "$WORK/etcd" --listen-client-urls http://127.0.0.51:23790 --advertise-client-urls http://127.0.0.51:23790 \
  --listen-peer-urls http://127.0.0.51:23800 --initial-advertise-peer-urls http://127.0.0.51:23800 \
  --initial-cluster m1=http://127.0.0.51:23800 --listen-metrics-urls http://127.0.0.51:28080 > etcd.log 2>&1 &
PIDS+=($!)
cat > run/patroni.yml <<YML
scope: pg-ha
name: pg-ha-0
restapi: {listen: 127.0.0.52:8008, connect_address: 127.0.0.52:8008}
etcd3: {hosts: ["127.0.0.51:23790"]}
bootstrap:
  dcs: {ttl: 20, loop_wait: 5, retry_timeout: 7, synchronous_mode: true, failsafe_mode: true}
  initdb: [{encoding: UTF8}, data-checksums]
  pg_hba: ["local all all trust", "host all all 127.0.0.1/8 md5", "host replication standby 127.0.0.1/8 md5"]
postgresql:
  listen: 127.0.0.52:54320
  connect_address: 127.0.0.52:54320
  data_dir: $WORK/pg
  bin_dir: $(ls -d /usr/lib/postgresql/*/bin | tail -1)
  pgpass: $WORK/run/pgpass
  authentication:
    superuser: {username: postgres, password: "$PW"}
    replication: {username: standby, password: "$PW"}
  parameters: {unix_socket_directories: $WORK/run}
YML
chown postgres run/patroni.yml && chmod 600 run/patroni.yml
sleep 3
runuser -u postgres -- patroni run/patroni.yml > patroni.log 2>&1 &
PIDS+=($!)
DATA_SOURCE_NAME="postgresql://postgres:$PW@127.0.0.52:54320/postgres?sslmode=disable" \
  prometheus-postgres-exporter --web.listen-address=127.0.0.54:9187 > exporter.log 2>&1 &
PIDS+=($!)
(cd "$REPO" && npx tsx -e "
const { renderHaproxyConfig } = require('./lib/components/router/haproxy-config');
process.stdout.write(renderHaproxyConfig({ backends: [{ name: 'pg-ha-0', host: '127.0.0.52' }], postgresPort: 54320, patroniPort: 8008,
  writePort: 15432, readPort: 15433, statsPort: 17000, metricsPort: 18404, replicaMaxLagBytes: 16777216, maxConnections: 100 })
  .replace(/bind :/g, 'bind 127.0.0.55:'));") > haproxy.cfg
haproxy -f haproxy.cfg -db > haproxy.log 2>&1 &
PIDS+=($!)
for _ in $(seq 1 40); do curl -sf http://127.0.0.52:8008/primary >/dev/null && break; sleep 2; done
sleep 5
names() { curl -sf "$1" | awk '$1 == "#" && $2 == "TYPE" { print $3 }' | sort; }
names http://127.0.0.51:28080/metrics > "$OUT/etcd-$(etcd --version | awk '/etcd Version/ {print $3}').txt"
names http://127.0.0.52:8008/metrics > "$OUT/patroni-$(patroni --version | awk '{print $2}').txt"
names http://127.0.0.54:9187/metrics > "$OUT/postgres-exporter-$(prometheus-postgres-exporter --version 2>&1 | awk 'NR==1 {print $3}').txt"
names http://127.0.0.55:18404/metrics > "$OUT/haproxy-$(haproxy -v | awk 'NR==1 {print $3}' | cut -d- -f1).txt"
wc -l "$OUT"/*.txt
