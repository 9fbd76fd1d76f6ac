#!/bin/bash
# Captures real /metrics output of Debian 13's prometheus-pgbouncer-exporter scraping Debian 13's
# PgBouncer, which runs the chart's own pgbouncer.ini (from a synth with POOLER=true) and logs a
# client in through auth_query against a throw-away PostgreSQL 17 initialised with the chart's
# init.sql. Writes the metric names (from `# TYPE` lines) to test/fixtures/observed-metrics/.
# Runs the programs from the e2e Debian root (scripts/e2e-install.sh), on 127.0.0.1 high ports;
# stops everything it started. Run as root:  sudo scripts/capture-pgbouncer-metrics.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${PG_HA_E2E_ROOT:-/var/cache/pg-ha-e2e/trixie}
[ -x "$ROOT/usr/bin/prometheus-pgbouncer-exporter" ] || { echo "no prometheus-pgbouncer-exporter in $ROOT: run scripts/e2e-install.sh" >&2; exit 1; }
W=$(mktemp -d "$ROOT/tmp/pgbouncer-metrics.XXXXXX"); IN=${W#"$ROOT"}   # the same directory, seen from inside the root
PIDS=()
cleanup() {
  # The exporter first (PgBouncer waits for its clients), then PgBouncer (start.sh passes SIGINT on).
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; wait "${PIDS[i]}" 2>/dev/null || true; done
  chroot --userspec="$PG_IDS" "$ROOT" /usr/lib/postgresql/17/bin/pg_ctl -D "$IN/data" -m immediate stop >/dev/null 2>&1 || true
  sleep 1; [ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
PG_IDS="$(chroot "$ROOT" id -u postgres):$(chroot "$ROOT" id -g postgres)"   # the root's postgres user
chown "$PG_IDS" "$W"; chmod 755 "$W"
as_pg() { chroot --userspec="$PG_IDS" "$ROOT" env HOME="$IN" PGSSLCERT=/nonexistent PGSSLKEY=/nonexistent "$@"; }
# For `cmd &`: exec, so that $! is the program itself (start.sh's shell, the exporter), not a subshell.
as_pg_exec() { exec chroot --userspec="$PG_IDS" "$ROOT" env HOME="$IN" "$@"; }
PW=$(openssl rand -hex 16)   # throw-away, never written to the repository
printf '%s\n' "$PW" > "$W/pw"; chmod 644 "$W/pw"

as_pg /usr/lib/postgresql/17/bin/initdb -D "$IN/data" --auth=scram-sha-256 -U postgres --pwfile="$IN/pw" >/dev/null
(cd "$W" && openssl req -new -x509 -days 1 -nodes -subj /CN=localhost -keyout server.key -out server.crt 2>/dev/null)
chmod 644 "$W/server.crt"; chmod 600 "$W/server.key"; chown "$PG_IDS" "$W/server.key"
cat >> "$W/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = 55432
unix_socket_directories = '$IN'
ssl = on
ssl_cert_file = '$IN/server.crt'
ssl_key_file = '$IN/server.key'
CONF
printf 'local all all trust\nhostnossl all all all reject\nhostssl all all all scram-sha-256\n' > "$W/data/pg_hba.conf"
as_pg /usr/lib/postgresql/17/bin/pg_ctl -D "$IN/data" -l "$IN/pg.log" -w start >/dev/null
cp "$REPO/lib/assets/init.sql" "$W/init.sql"
as_pg APP_USER=app APP_PASSWORD="$PW" APP_DB=app MONITOR_USER=mon MONITOR_PASSWORD="$PW" POOLER_USER=pooler POOLER_PASSWORD="$PW" \
  psql -h "$IN" -p 55432 -U postgres --no-psqlrc --quiet --set=ON_ERROR_STOP=1 -d postgres -f "$IN/init.sql" 2>/dev/null

# The chart's pgbouncer.ini and start.sh, with the router Service replaced by the local PostgreSQL.
(cd "$REPO" && POOLER=true CDK8S_OUTDIR="$W/dist" node --require tsx/cjs main.ts >/dev/null)
node -e '
const fs = require("fs"); const { parseAllDocuments } = require(process.argv[1]);
const cm = parseAllDocuments(fs.readFileSync(process.argv[2] + "/dist/pg-ha.k8s.yaml", "utf8")).map((d) => d.toJSON())
  .find((o) => o.kind === "ConfigMap" && o.metadata.name === "pg-ha-pooler");
fs.writeFileSync(process.argv[2] + "/start.sh", cm.data["start.sh"]);
fs.writeFileSync(process.argv[2] + "/pgbouncer.ini", cm.data["pgbouncer.ini"]
  .replace(/host=\S+ port=\d+/g, "host=127.0.0.1 port=55432").replace("listen_addr = *", "listen_addr = 127.0.0.1")
  .replace("listen_port = 6432", "listen_port = 56432").replaceAll("/run/pooler", process.argv[3] + "/run"));
' "$REPO/node_modules/yaml" "$W" "$IN"
mkdir "$W/run"; chown "$PG_IDS" "$W/run"
as_pg_exec POOLER_USER=pooler POOLER_PASSWORD="$PW" STOP_SIGNAL=INT RUN_DIR="$IN/run" SELF_SIGNED_CN=localhost PGBOUNCER_CONFIG="$IN/pgbouncer.ini" sh "$IN/start.sh" > "$W/pgbouncer.log" 2>&1 &
PIDS+=($!)
# The exporter (0.10) exits if PgBouncer does not answer when it starts.
for _ in $(seq 30); do grep -q 'process up' "$W/pgbouncer.log" 2>/dev/null && break; sleep 1; done
as_pg_exec PGBOUNCER_EXPORTER_CONNECTION_STRING="postgres://pooler:$PW@127.0.0.1:56432/pgbouncer?sslmode=require" \
  prometheus-pgbouncer-exporter --web.listen-address=127.0.0.1:59127 > "$W/exporter.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 30); do curl -fsS -o /dev/null http://127.0.0.1:59127/ 2>/dev/null && break; sleep 1; done
# A client logs in through auth_query, so the app pool exists when the exporter scrapes.
as_pg PGPASSWORD="$PW" PGSSLMODE=require psql -h 127.0.0.1 -p 56432 -U app -d app -Atc 'select 1' >/dev/null
curl -fsS http://127.0.0.1:59127/metrics > "$W/metrics.txt" || { tail "$W/exporter.log" "$W/pgbouncer.log" >&2; exit 1; }
grep -q '^pgbouncer_up 1' "$W/metrics.txt" || { echo "the exporter could not query PgBouncer:" >&2; tail "$W/exporter.log" "$W/pgbouncer.log" >&2; exit 1; }
version=$(as_pg prometheus-pgbouncer-exporter --version 2>&1 | awk 'NR==1{print $3}')
awk '$1=="#" && $2=="TYPE" && $3 ~ /^pgbouncer_/ {print $3}' "$W/metrics.txt" > "$REPO/test/fixtures/observed-metrics/pgbouncer-exporter-$version.txt"
echo "wrote test/fixtures/observed-metrics/pgbouncer-exporter-$version.txt ($(wc -l < "$W/metrics.txt") lines scraped)"
