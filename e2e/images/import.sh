#!/usr/bin/env bash
# Imports the images e2e/images/build.sh built into one containerd, in the namespace the CRI plugin
# (so the kubelet) uses, k8s.io, under the exact names dist/ uses (docker.io/library/ for the short
# ones, as the kubelet normalises them), unpacked for the snapshotter the CRI plugin uses.
#
#   e2e/images/import.sh <containerd-address> [images.tar]
#
#   CONTAINERD_SNAPSHOTTER   the node's snapshotter (default overlayfs, the CRI plugin's default)
#   PG_HA_E2E_IMAGES         where build.sh put images.tar and images.json (default
#                            /var/cache/pg-ha-e2e/images)
#
# Fast when they are there: if every image already has the built manifest under its name and the
# snapshot of its top layer (chain id) exists, nothing is read. Otherwise the one archive is
# imported: its layers shared by several images (the Debian base) are stored and unpacked once.
# Exits non-zero, naming the image, if one is still missing afterwards.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 <containerd-address> [images.tar]" >&2
  exit 2
fi
start=$(date +%s.%N)
ADDRESS=$1
OUT=${PG_HA_E2E_IMAGES:-/var/cache/pg-ha-e2e/images}
TAR=${2:-$OUT/images.tar}
JSON=$(dirname "$TAR")/images.json
SNAPSHOTTER=${CONTAINERD_SNAPSHOTTER:-overlayfs}
CTR=(ctr --address "$ADDRESS" --namespace k8s.io)
[ -f "$TAR" ] && [ -f "$JSON" ] || { echo "import: no $TAR or $JSON: run e2e/images/build.sh" >&2; exit 1; }

# the images (ref, manifest digest, top chain id) that are not in this containerd as built
missing() {
  local images snapshots
  images=$("${CTR[@]}" images ls 2>/dev/null | awk 'NR > 1 { print $1, $3 }')
  snapshots=$("${CTR[@]}" snapshots --snapshotter "$SNAPSHOTTER" ls 2>/dev/null | awk 'NR > 1 { print $1 }')
  python3 - "$JSON" <<EOF
import json, sys
images = set(tuple(l.split()) for l in """$images""".splitlines() if l.strip())
snapshots = set("""$snapshots""".split())
for i in json.load(open(sys.argv[1]))['images']:
    if (i['ref'], i['manifest']) not in images or i['chainId'] not in snapshots:
        print(i['ref'])
EOF
}
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

todo=$(missing)
total=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["images"]))' "$JSON")
if [ -z "$todo" ]; then
  echo "import: all $total images present in $ADDRESS ($(elapsed "$start") s)"
  exit 0
fi
echo "import: $(echo "$todo" | wc -l) of $total images to import into $ADDRESS"
"${CTR[@]}" images import --snapshotter "$SNAPSHOTTER" "$TAR" >/dev/null
todo=$(missing)
if [ -n "$todo" ]; then
  echo "import: still missing in $ADDRESS after the import: $(echo "$todo" | tr '\n' ' ')" >&2
  exit 1
fi
echo "import: $total images imported into $ADDRESS ($(du -h "$TAR" | cut -f1) archive, $(elapsed "$start") s)"
