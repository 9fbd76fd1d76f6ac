#!/usr/bin/env bash
# Builds the container images dist/ names (e2e/images/images.json) into one OCI image layout and
# writes it as one archive for `ctr images import` (e2e/images/import.sh). Nothing is pulled:
#   - the Debian-based images (Spilo, HAProxy, postgres:17-alpine, the exporters, PgBouncer) share one
#     base layer made from the Debian 13 root of scripts/e2e-install.sh (it is read, never changed:
#     every step runs in a chroot on an overlay above it), each with a small layer of its own;
#   - etcd v3.6.7 and CoreDNS v1.12.1 are built from their Go modules (go/etcd, go/coredns: go.mod and
#     go.sum pin them) on a distroless-like static base layer; pause is our own Go program.
# docs/contributing/images.md says, image by image, what is real and what is emulated.
#
#   PG_HA_E2E_ROOT     the Debian 13 root (default /var/cache/pg-ha-e2e/trixie)
#   PG_HA_E2E_IMAGES   outputs and caches (default /var/cache/pg-ha-e2e/images):
#                      images.tar, images.list (name, what it runs), images.json (digests, chain ids)
#
# Needs root (chroot, overlay mounts), the root built by scripts/e2e-install.sh, Go, python3, and the
# network for the Go module proxy, PyPI and Debian's packages on a cold run. Idempotent: a stamp of
# every input makes an unchanged rebuild a no-op; otherwise only the layers whose inputs changed are
# rebuilt. The Go build cache is Go's own (go env GOCACHE), kept between runs.
set -euo pipefail
start=$(date +%s.%N)

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${PG_HA_E2E_ROOT:-/var/cache/pg-ha-e2e/trixie}
OUT=${PG_HA_E2E_IMAGES:-/var/cache/pg-ha-e2e/images}
LAYOUT=$OUT/oci
WORK=$OUT/work
BIN=$OUT/bin
LAYERS=$OUT/layers
LOG=$OUT/build.log
PY=python3
case ":$PATH:" in *:/usr/local/go/bin:*) ;; *) PATH=$PATH:/usr/local/go/bin ;; esac
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0

if [ "$(id -u)" != 0 ]; then
  echo "images: must run as root (chroot, overlay mounts)" >&2
  exit 1
fi
if [ ! -f "$ROOT/.pg-ha-e2e-packages" ]; then
  echo "images: no Debian 13 root at $ROOT: run scripts/e2e-install.sh first" >&2
  exit 1
fi
for tool in go "$PY" unshare mount chroot tar setcap; do
  command -v "$tool" >/dev/null || { echo "images: $tool not found" >&2; exit 1; }
done
mkdir -p "$OUT" "$LAYOUT" "$WORK" "$BIN" "$LAYERS" "$OUT/wheels"
exec 9>"$OUT/.lock"
flock 9

elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
hash_files() {  # the files under the given paths (relative to this directory), Python caches aside
  (cd "$HERE" && find "$@" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-64
}
hash_text() { sha256sum | cut -c1-64; }
step() {  # run quietly into the log; on failure show its end
  "$@" >>"$LOG" 2>&1 || { echo "images: failed: $*" >&2; tail -40 "$LOG" >&2; exit 1; }
}

# 0. everything that goes into the images: unchanged -> nothing to do
ROOT_STATE=$(cat "$ROOT/.pg-ha-e2e-packages" "$ROOT/var/lib/dpkg/status" | hash_text)
GO_VERSION=$(go env GOVERSION)
INPUTS=$( { hash_files build.sh images.json lib go static base spilo haproxy postgres-exporter postgres-alpine \
  pgbouncer pgbouncer-exporter; echo "$ROOT_STATE $GO_VERSION $(command -v zstd || echo gzip)"; } | hash_text)
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$INPUTS" ] && [ -f "$OUT/images.tar" ] && [ -f "$OUT/images.json" ]; then
  echo "images: up to date ($OUT/images.tar, $(du -h "$OUT/images.tar" | cut -f1); $(elapsed "$start") s)"
  sed -n 's/^\([^#][^\t]*\)\t.*/  \1/p' "$OUT/images.list"
  exit 0
fi
: >"$LOG"
echo "images: building into $OUT (log: $LOG)"

# 1. Go programs (sequential: one Go build at a time on this machine)
go_build() {  # key-dir, output name, package, ldflags
  local dir=$1 name=$2 pkg=$3 ldflags=$4 key keyfiles
  keyfiles=("$dir/go.mod")
  [ -f "$HERE/$dir/go.sum" ] && keyfiles+=("$dir/go.sum")
  case $pkg in ./*) keyfiles+=("$dir/${pkg#./}") ;; esac
  key=$( { hash_files "${keyfiles[@]}"; echo "$GO_VERSION $pkg $ldflags"; } | hash_text)
  if [ -x "$BIN/$name" ] && [ "$(cat "$BIN/$name.key" 2>/dev/null)" = "$key" ]; then return; fi
  local t; t=$(date +%s.%N)
  (cd "$HERE/$dir" && step go build -trimpath -ldflags "$ldflags" -o "$BIN/$name.new" "$pkg")
  mv "$BIN/$name.new" "$BIN/$name"
  echo "$key" >"$BIN/$name.key"
  echo "images: built $name ($pkg) in $(elapsed "$t") s"
}
# etcd's release build: CGO_ENABLED=0, Git SHA of the v3.6.7 tag (the module proxy's origin record)
ETCD_SHA=e838ef116
go_build go/etcd etcd go.etcd.io/etcd/server/v3 "-X=go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_SHA"
go_build go/etcd etcdctl go.etcd.io/etcd/etcdctl/v3 "-X=go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_SHA"
go_build go/etcd etcdutl go.etcd.io/etcd/etcdutl/v3 "-X=go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_SHA"
# CoreDNS's Makefile: -s -w, GitCommit = `git describe --always` of the (lightweight) v1.12.1 tag
COREDNS_SHA=707c7c1
go_build go/coredns coredns github.com/coredns/coredns "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_SHA"
go_build go/tools pause ./pause "-s -w"
go_build go/tools runas ./runas "-s -w"

# 2. layers (each rebuilt only when its key changes)
declare -A KEY
layer_done() {  # name key -> true when the cached layer has this key and its blob exists
  local f=$LAYERS/$1.json digest
  [ -f "$f" ] || return 1
  [ "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("key", ""))' "$f")" = "$2" ] || return 1
  digest=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"].split(":")[1])' "$f")
  [ -f "$LAYOUT/blobs/sha256/$digest" ]
}
layer_save() {  # name key comment <descriptor on stdin>
  $PY -c 'import json,sys; d=json.load(sys.stdin); d["key"]=sys.argv[1]; d["comment"]=sys.argv[2]; json.dump(d, open(sys.argv[3], "w"))' \
    "$2" "$3" "$LAYERS/$1.json.new"
  mv "$LAYERS/$1.json.new" "$LAYERS/$1.json"
}
OVERLAY_OPTS=redirect_dir=off,metacopy=off,index=off,xino=off
# Runs <dir>/setup.sh in a chroot on an overlay (upper: $WORK/<name>/upper) above the given lower
# directories, with <dir>/rootfs copied in first; /tmp/build is <dir>, /tmp/lib is lib/.
overlay_setup() {  # name lowerdirs
  local name=$1 lower=$2 dir=$WORK/$1
  rm -rf "$dir"
  mkdir -p "$dir/upper" "$dir/work" "$dir/merged"
  step unshare --mount --propagation private /bin/bash -euo pipefail -c '
    dir=$1; lower=$2; src=$3; lib=$4; wheels=$5; opts=$6
    m=$dir/merged
    mount -t overlay overlay -o "lowerdir=$lower,upperdir=$dir/upper,workdir=$dir/work,$opts" "$m"
    mount --rbind /dev "$m/dev"
    mount -t proc proc "$m/proc"
    mount --bind /etc/resolv.conf "$m/etc/resolv.conf"
    mkdir -p "$m/tmp/build" "$m/tmp/lib" "$m/tmp/wheels"
    mount --bind "$src" "$m/tmp/build" && mount -o remount,bind,ro "$m/tmp/build"
    mount --bind "$lib" "$m/tmp/lib" && mount -o remount,bind,ro "$m/tmp/lib"
    mount --bind "$wheels" "$m/tmp/wheels"
    if [ -d "$src/rootfs" ]; then cp -r --preserve=mode,timestamps "$src/rootfs/." "$m/"; fi
    chroot "$m" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      HOME=/root LANG=C.UTF-8 /bin/sh -eu /tmp/build/setup.sh
  ' _ "$dir" "$lower" "$HERE/$name" "$HERE/lib" "$OUT/wheels" "$OVERLAY_OPTS"
  rm -rf "$dir/work" "$dir/merged"
}
# the shared base: the whole root of the base overlay, as one layer
KEY[trixie-base]=$( { echo "$ROOT_STATE"; hash_files base lib/oci.py; } | hash_text)
if ! layer_done trixie-base "${KEY[trixie-base]}"; then
  t=$(date +%s.%N)
  overlay_setup base "$ROOT"
  rm -rf "$WORK/trixie-base" && mv "$WORK/base" "$WORK/trixie-base"
  mkdir -p "$WORK/trixie-base/merged"
  unshare --mount --propagation private /bin/bash -euo pipefail -c '
    mount -t overlay overlay -o "lowerdir=$1/upper:$2,$4" "$1/merged"
    '"$PY"' "$3/lib/oci.py" layer full "$1/merged" "$5"
  ' _ "$WORK/trixie-base" "$ROOT" "$HERE" "$OVERLAY_OPTS" "$LAYOUT" \
    | layer_save trixie-base "${KEY[trixie-base]}" "Debian 13 root of scripts/e2e-install.sh with base/setup.sh"
  rmdir "$WORK/trixie-base/merged"
  echo "images: layer trixie-base in $(elapsed "$t") s"
fi
# Spilo's Patroni from PyPI, checked against spilo/requirements.txt's hash (pip on this machine, which
# has its network settings; the chroot only installs the file)
PIP_WHEELS_KEY=$(hash_files spilo/requirements.txt)
if [ "$(cat "$OUT/wheels/.key" 2>/dev/null)" != "$PIP_WHEELS_KEY" ]; then
  rm -rf "${OUT:?}/wheels" && mkdir -p "$OUT/wheels"
  step $PY -m pip download --no-deps --only-binary=:all: --require-hashes -r "$HERE/spilo/requirements.txt" -d "$OUT/wheels"
  echo "$PIP_WHEELS_KEY" >"$OUT/wheels/.key"
fi
# each Debian-based image: its own changes above the base
for name in spilo haproxy postgres-exporter postgres-alpine pgbouncer pgbouncer-exporter; do
  KEY[$name]=$( { echo "${KEY[trixie-base]}"; hash_files "$name" lib; } | hash_text)
  if layer_done "$name" "${KEY[$name]}"; then continue; fi
  [ -d "$WORK/trixie-base/upper" ] || { echo "images: $WORK/trixie-base/upper is missing: remove $LAYERS/trixie-base.json and rerun" >&2; exit 1; }
  t=$(date +%s.%N)
  overlay_setup "$name" "$WORK/trixie-base/upper:$ROOT"
  $PY "$HERE/lib/oci.py" layer upper "$WORK/$name/upper" "$LAYOUT" | layer_save "$name" "${KEY[$name]}" "$name/setup.sh above trixie-base"
  # the Spilo layer's package versions are read below
  if [ "$name" = spilo ]; then cp "$WORK/spilo/upper/var/lib/dpkg/status" "$OUT/spilo.dpkg-status"; fi
  rm -rf "$WORK/$name"
  echo "images: layer $name in $(elapsed "$t") s"
done
# the static images: files laid out here, no chroot
static_layer() {  # name comment, with the tree in $WORK/<name>/root
  $PY "$HERE/lib/oci.py" layer full "$WORK/$1/root" "$LAYOUT" | layer_save "$1" "${KEY[$1]}" "$2"
  rm -rf "${WORK:?}/$1"
}
KEY[static-base]=$( { hash_files static lib/oci.py; sha256sum "$ROOT/etc/ssl/certs/ca-certificates.crt"; echo "$ROOT_STATE"; } | hash_text)
if ! layer_done static-base "${KEY[static-base]}"; then
  r=$WORK/static-base/root
  rm -rf "$WORK/static-base" && mkdir -p "$r/etc/ssl/certs" "$r/usr/share" "$r/tmp" "$r/root" "$r/home/nonroot" "$r/var"
  cp -r --preserve=mode,timestamps "$HERE/static/rootfs/." "$r/"
  cp "$ROOT/etc/ssl/certs/ca-certificates.crt" "$r/etc/ssl/certs/"
  cp -a "$ROOT/usr/share/zoneinfo" "$r/usr/share/"
  chmod 1777 "$r/tmp"; chmod 700 "$r/root" "$r/home/nonroot"; chown 65532:65532 "$r/home/nonroot"
  static_layer static-base "distroless-static-like base: passwd/group (nonroot 65532), CA certificates, tzdata"
fi
KEY[etcd]=$(cat "$BIN/etcd.key" "$BIN/etcdctl.key" "$BIN/etcdutl.key" "$HERE/lib/oci.py" | hash_text)
if ! layer_done etcd "${KEY[etcd]}"; then
  r=$WORK/etcd/root
  rm -rf "$WORK/etcd" && mkdir -p "$r/usr/local/bin" "$r/var/etcd" "$r/var/lib/etcd"
  cp "$BIN/etcd" "$BIN/etcdctl" "$BIN/etcdutl" "$r/usr/local/bin/"
  static_layer etcd "etcd, etcdctl, etcdutl v3.6.7 from their Go modules"
fi
KEY[coredns]=$(cat "$BIN/coredns.key" "$HERE/lib/oci.py" | hash_text)
if ! layer_done coredns "${KEY[coredns]}"; then
  r=$WORK/coredns/root
  rm -rf "$WORK/coredns" && mkdir -p "$r"
  cp "$BIN/coredns" "$r/coredns"
  setcap cap_net_bind_service=+ep "$r/coredns"
  static_layer coredns "CoreDNS v1.12.1 from its Go module, cap_net_bind_service=+ep"
fi
KEY[pause]=$(cat "$BIN/pause.key" "$HERE/lib/oci.py" | hash_text)
if ! layer_done pause "${KEY[pause]}"; then
  r=$WORK/pause/root
  rm -rf "$WORK/pause" && mkdir -p "$r"
  cp "$BIN/pause" "$r/pause"
  static_layer pause "pause (our own Go program)"
fi

# 3. versions for the image descriptions, then configs, manifests, the index and the archive
pkg() {  # package status-file -> version
  awk -v p="$1" '$1 == "Package:" { f = ($2 == p) } f && $1 == "Version:" { print $2; exit }' "$2"
}
DPKG=$ROOT/var/lib/dpkg/status
SPILO_DPKG=$OUT/spilo.dpkg-status
PG_DEB=$(pkg postgresql-17 "$DPKG")
$PY - "$OUT/versions.json" <<EOF
import json, sys
json.dump({
  'postgresql-17': '$PG_DEB', 'postgresql-17-upstream': '${PG_DEB%%-*}',
  'python3': '$(pkg python3 "$DPKG")', 'haproxy': '$(pkg haproxy "$DPKG")',
  'prometheus-postgres-exporter': '$(pkg prometheus-postgres-exporter "$DPKG")',
  'pgbouncer': '$(pkg pgbouncer "$DPKG")',
  'prometheus-pgbouncer-exporter': '$(pkg prometheus-pgbouncer-exporter "$DPKG")',
  'openssl': '$(pkg openssl "$DPKG")', 'curl': '$(pkg curl "$SPILO_DPKG")', 'jq': '$(pkg jq "$SPILO_DPKG")',
  'patroni': '$(sed -n 's/^patroni==\([^ ]*\).*/\1/p' "$HERE/spilo/requirements.txt")',
  'etcd': '$("$BIN/etcd" --version | sed -n 's/^etcd Version: //p')', 'etcd_sha': '$ETCD_SHA',
  'coredns': '$("$BIN/coredns" -version | sed -n 's/^CoreDNS-//p')', 'coredns_sha': '$COREDNS_SHA',
  'go': '$GO_VERSION',
}, open(sys.argv[1], 'w'), indent=1)
EOF
$PY - "$LAYERS" "$OUT/layers.json" <<'EOF'
import json, os, sys
layers = {f[:-5]: json.load(open(os.path.join(sys.argv[1], f))) for f in os.listdir(sys.argv[1]) if f.endswith('.json')}
json.dump(layers, open(sys.argv[2], 'w'), indent=1)
EOF
step $PY "$HERE/lib/oci.py" assemble "$HERE/images.json" "$OUT/layers.json" "$OUT/versions.json" "$LAYOUT" \
  "$OUT/images.json" "$OUT/images.list"
tar -C "$LAYOUT" -cf "$OUT/images.tar.new" oci-layout index.json blobs
mv "$OUT/images.tar.new" "$OUT/images.tar"
echo "$INPUTS" >"$OUT/stamp"

$PY - "$OUT/images.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
mb = lambda n: '{0:.0f} MB'.format(n / 1e6) if n >= 1e6 else '{0:.1f} MB'.format(n / 1e6)
for i in d['images']:
    print('  {0:<56} {1:>7} ({2} unpacked; layers {3})'.format(i['name'], mb(i['size']), mb(i['uncompressedSize']), '+'.join(i['layers'])))
    print('      ' + i['runs'])
shared = {n for i in d['images'] for n in i['layers'] if sum(n in j['layers'] for j in d['images']) > 1}
for n in sorted(shared):
    print('  shared layer {0}: {1} ({2} unpacked), stored and imported once'.format(n, mb(d['layers'][n]['size']), mb(d['layers'][n]['uncompressedSize'])))
EOF
echo "images: $OUT/images.tar ($(du -h "$OUT/images.tar" | cut -f1)), list $OUT/images.list; done in $(elapsed "$start") s"
