#!/bin/sh
# pg-ha-cdk8s pooler: write PgBouncer's auth file and, when the cluster has no certificate, a
# self-signed one, then run PgBouncer in the foreground.
#
# Env (from the Deployment): POOLER_USER, POOLER_PASSWORD (credentials Secret), RUN_DIR (a
# memory-backed emptyDir), SELF_SIGNED_CN (set only when no cluster certificate is mounted),
# STOP_SIGNAL (what the kubelet's SIGTERM becomes for PgBouncer: INT or TERM), PGBOUNCER_CONFIG.
set -eu
umask 077

if [ -z "${POOLER_USER:-}" ] || [ -z "${POOLER_PASSWORD:-}" ]; then
  echo "pooler: POOLER_USER and POOLER_PASSWORD must be set (POOLER_PASSWORD comes from the credentials Secret's pooler-password key)" >&2
  exit 1
fi

# The auth file holds one line, PgBouncer's own lookup role: "name" "password" (a " inside is doubled).
escaped=$(printf '%s' "$POOLER_PASSWORD" | sed 's/"/""/g')
printf '"%s" "%s"\n' "$POOLER_USER" "$escaped" > "$RUN_DIR/userlist.txt"

if [ -n "${SELF_SIGNED_CN:-}" ]; then
  # Encrypts client traffic like Spilo's own self-signed certificate; clients cannot verify it.
  # An ECDSA P-256 key: each TLS handshake costs PgBouncer a fraction of an RSA-2048 signature.
  if ! openssl req -new -x509 -days 3650 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj "/CN=$SELF_SIGNED_CN" \
      -keyout "$RUN_DIR/tls.key" -out "$RUN_DIR/tls.crt" 2>"$RUN_DIR/openssl.log"; then
    echo "pooler: openssl could not create the self-signed certificate:" >&2
    cat "$RUN_DIR/openssl.log" >&2
    exit 1
  fi
  rm -f "$RUN_DIR/openssl.log"
fi

# PgBouncer reads SIGTERM as "wait until every client has disconnected", which with pooled
# application connections lasts the whole grace period. In transaction and statement mode the pod is
# told SIGINT instead: finish the running transactions, then close; clients reconnect through the
# Service to another pod.
pgbouncer "${PGBOUNCER_CONFIG:-/etc/pgbouncer/pgbouncer.ini}" &
pid=$!
trap 'kill -"${STOP_SIGNAL:-TERM}" "$pid" 2>/dev/null' TERM INT
# `wait` returns early when a trapped signal arrives: wait again until PgBouncer has exited.
status=0
wait "$pid" || status=$?
while kill -0 "$pid" 2>/dev/null; do
  status=0
  wait "$pid" || status=$?
done
exit "$status"
