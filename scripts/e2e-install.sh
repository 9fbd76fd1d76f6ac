#!/usr/bin/env bash
# Installs the Debian 12 packages the e2e test bed runs on (issue 3).
# Idempotent, non-interactive, needs root and apt. Nothing is started:
# postgresql-common is told not to create a "main" cluster, and without
# systemd no package service starts.
set -euo pipefail
start=$(date +%s)

PKGS=(
  postgresql-15
  etcd-server etcd-client
  patroni python3-psycopg2 python3-etcd
  haproxy
  prometheus-postgres-exporter
  iproute2 procps util-linux openssl
  prometheus   # only for promtool: test/monitoring-promtool.test.ts evaluates the alert rules with it
)

if [ "$(id -u)" != 0 ]; then
  echo "e2e-install: must run as root (apt-get)" >&2
  exit 1
fi

missing=()
for p in postgresql-common "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "e2e-install: all packages already installed (0 s)"
  exit 0
fi
echo "e2e-install: installing: ${missing[*]}"

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
"${APT[@]}" update >/dev/null

# Keep package maintainer scripts from starting daemons (etcd, haproxy, exporter):
# the test bed starts its own. policy-rc.d exit 101 = "action forbidden".
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; own_policy=1
  trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT
fi

# postgresql-common first, so installing postgresql-15 creates no "main" cluster.
if ! dpkg-query -W -f='${Status}' postgresql-common 2>/dev/null | grep -q '^install ok installed$'; then
  "${APT[@]}" install --no-install-recommends postgresql-common >/dev/null
fi
conf=/etc/postgresql-common/createcluster.conf
if grep -qE '^\s*#?\s*create_main_cluster' "$conf"; then
  sed -i -E 's/^\s*#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' "$conf"
else
  echo 'create_main_cluster = false' >> "$conf"
fi

"${APT[@]}" install --no-install-recommends "${PKGS[@]}" >/dev/null

echo "e2e-install: versions:"
dpkg-query -W -f='  ${Package} ${Version}\n' postgresql-15 etcd-server patroni haproxy prometheus-postgres-exporter
echo "e2e-install: done in $(( $(date +%s) - start )) s"
