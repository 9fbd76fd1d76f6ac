#!/usr/bin/env bash
# Installs what the e2e tests run on: the real-Kubernetes bed's parts (Debian's containerd, runc,
# CNI plugins; Kubernetes built from its Go modules, e2e/kubernetes; the images dist/ names, built by
# e2e/images/build.sh) and the Debian 13 (trixie) root the programs come from:
# Patroni 4.0, PostgreSQL 17, etcd 3.5, HAProxy 3.0, postgres-exporter 0.17,
# plus pgbouncer with its exporter and prometheus (promtool) for the tests that need them.
# Their binaries need trixie's libc, so they live in a separate root built with
# debootstrap from the Debian package source apt already uses on this machine.
#
#   PG_HA_E2E_ROOT   where the root lives (default /var/cache/pg-ha-e2e/trixie,
#                    outside the repository so a fresh clone reuses it)
#
# Idempotent: a complete root (stamp file lists the packages) is a no-op.
# Needs root. Nothing is started: policy-rc.d forbids service starts inside
# the root and postgresql-common is told not to create a "main" cluster.
set -euo pipefail
start=$(date +%s)

CACHE=${PG_HA_E2E_CACHE:-/var/cache/pg-ha-e2e}
ROOT=${PG_HA_E2E_ROOT:-$CACHE/trixie}
SUITE=trixie
PKGS=(
  postgresql-17
  patroni python3-psycopg2 python3-etcd
  etcd-server etcd-client
  haproxy
  prometheus-postgres-exporter
  pgbouncer
  prometheus-pgbouncer-exporter   # the pooler's metrics sidecar
  prometheus   # promtool: test/monitoring-promtool.test.ts evaluates the alert rules with it
  locales      # en_US.UTF-8, the locale Spilo's initdb asks for
)
STAMP="$ROOT/.pg-ha-e2e-packages"
WANT="$SUITE ${PKGS[*]}"

if [ "$(id -u)" != 0 ]; then
  echo "e2e-install: must run as root (debootstrap, chroot)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
mkdir -p "$(dirname "$ROOT")"
LOG="$(dirname "$ROOT")/e2e-install.log"
: >"$LOG"
# run a step quietly; on failure show the end of its output
step() { "$@" >>"$LOG" 2>&1 || { echo "e2e-install: failed: $*" >&2; tail -30 "$LOG" >&2; exit 1; }; }

install_root() {


# The Debian package source apt uses here (deb822 or one-line format).
mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
fi
mirror=${mirror:-http://deb.debian.org/debian}

# 1. base system (debootstrap into a temporary directory, renamed when complete)
if [ ! -f "$ROOT/.pg-ha-e2e-base" ]; then
  if [ -e "$ROOT" ] && [ -n "$(ls -A "$ROOT" 2>/dev/null)" ]; then
    echo "e2e-install: $ROOT exists but is not a root this script built: remove it or set PG_HA_E2E_ROOT to another path" >&2
    exit 1
  fi
  if ! command -v debootstrap >/dev/null; then
    echo "e2e-install: installing debootstrap on the host"
    step "${APT[@]}" update
    step "${APT[@]}" install --no-install-recommends debootstrap
  fi
  partial="$ROOT.partial"
  rm -rf "$partial"
  echo "e2e-install: debootstrap --variant=minbase $SUITE from $mirror"
  step debootstrap --variant=minbase "$SUITE" "$partial" "$mirror"
  touch "$partial/.pg-ha-e2e-base"
  rmdir "$ROOT" 2>/dev/null || true
  mv "$partial" "$ROOT"
fi

# 2. packages inside the root
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod +x "$ROOT/usr/sbin/policy-rc.d"
echo "e2e-install: installing into $ROOT: ${PKGS[*]} (log: $LOG)"
step chroot "$ROOT" "${APT[@]}" update
step chroot "$ROOT" "${APT[@]}" install --no-install-recommends postgresql-common
conf="$ROOT/etc/postgresql-common/createcluster.conf"
if grep -qE '^\s*#?\s*create_main_cluster' "$conf"; then
  sed -i -E 's/^\s*#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' "$conf"
else
  echo 'create_main_cluster = false' >>"$conf"
fi
step chroot "$ROOT" "${APT[@]}" install --no-install-recommends "${PKGS[@]}"
echo 'en_US.UTF-8 UTF-8' >"$ROOT/etc/locale.gen"
step chroot "$ROOT" locale-gen
step chroot "$ROOT" apt-get clean

echo "e2e-install: versions in the root:"
chroot "$ROOT" dpkg-query -W -f='  ${Package} ${Version}\n' postgresql-17 patroni etcd-server haproxy prometheus-postgres-exporter pgbouncer prometheus
echo "$WANT" >"$STAMP"
echo "e2e-install: root done in $(($(date +%s) - start)) s ($(du -sh "$ROOT" | cut -f1))"
}

# 3. the nodes' parts from Debian's packages (on the host: the kubelets and containerd run here)
NODE_PKGS=(containerd runc containernetworking-plugins iptables conntrack umoci iproute2 openssl)
install_node_packages() {
  local missing=()
  for p in "${NODE_PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "e2e-install: installing on the host: ${missing[*]}"
  step "${APT[@]}" update
  step "${APT[@]}" install --no-install-recommends "${missing[@]}"
}

# 4. Kubernetes from its Go modules (e2e/kubernetes: one binary for every component), kept with the
#    Go build cache; rebuilt only when the module's files change
build_kubernetes() {
  local src bin stamp want t0
  src="$(cd "$(dirname "$0")/../e2e/kubernetes" && pwd)"
  bin="$CACHE/bin/kubernetes"
  stamp="$CACHE/bin/.kubernetes-sources"
  want=$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -d' ' -f1)
  if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "e2e-install: Kubernetes $("$bin" kubelet --version | cut -d' ' -f2) already built at $bin (0 s)"
    return 0
  fi
  local version pkg
  version=$(awk '$1=="k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit} $1=="require" && $2=="k8s.io/kubernetes" {print $3; exit}' "$src/go.mod")
  pkg=k8s.io/component-base/version
  t0=$(date +%s)
  echo "e2e-install: building Kubernetes $version from its Go modules (cold: about 8 min on 2 cores; the Go build cache makes it seconds)"
  mkdir -p "$CACHE/bin"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$version" | cut -d. -f2) -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z" -o "$bin.partial" .) >>"$LOG" 2>&1 \
    || { echo "e2e-install: failed: go build in $src" >&2; tail -30 "$LOG" >&2; exit 1; }
  mv "$bin.partial" "$bin"
  # the binary runs as the component it is called by: kubectl for users of the held bed, and the rest
  for c in kubectl kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do ln -sf kubernetes "$CACHE/bin/$c"; done
  echo "$want" >"$stamp"
  echo "e2e-install: Kubernetes $version built in $(($(date +%s) - t0)) s"
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "e2e-install: $SUITE root complete at $ROOT (0 s)"
else
  install_root
fi
install_node_packages
build_kubernetes
# 5. the images dist/ names, built here from the root's packages and Go modules (nothing is pulled)
bash "$(dirname "$0")/../e2e/images/build.sh"
echo "e2e-install: done in $(($(date +%s) - start)) s"
