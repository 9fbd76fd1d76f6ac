#!/usr/bin/env bash
# Proves the images build.sh built: starts a throwaway containerd (own --root, --state and address
# under /tmp, the CRI plugin's sandbox_image set to the pause image), imports them with import.sh
# (twice: the second must be the fast no-op), then runs each image with ctr as dist/ runs it: its
# entrypoint, dist/'s user (runAsUser:runAsGroup, supplementary groups from the image's /etc/group
# as the CRI plugin adds them), a read-only root filesystem where dist/ asks for one. It checks the
# versions the programs print and the tools dist/ relies on, and runs them together in one network
# namespace: etcd 3.6.7 as 65532, Spilo's entrypoint bootstrapping a primary on it as 101:103 with its
# role-label callback PATCHing a stand-in API server (test/mock-apiserver.py) at the fixed
# https://kubernetes.default.svc.cluster.local with the ServiceAccount token and CA, the exporter
# scraping it, the init Job's tools reaching it, PgBouncer and its exporter, HAProxy's Prometheus
# endpoint, CoreDNS on port 53 as nonroot, pause. Prints one line per check; exits 1 if any failed.
# Every process it starts (containerd, shims, containers) and every directory, mount and namespace
# it creates is gone when it exits.
#
#   sudo e2e/images/check.sh        (after e2e/images/build.sh)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${PG_HA_E2E_IMAGES:-/var/cache/pg-ha-e2e/images}
JSON=$OUT/images.json
RUNAS=$OUT/bin/runas
[ "$(id -u)" = 0 ] || { echo "check: must run as root" >&2; exit 1; }
[ -f "$JSON" ] && [ -x "$RUNAS" ] || { echo "check: run e2e/images/build.sh first" >&2; exit 1; }
start=$(date +%s)

D=$(mktemp -d /tmp/pgha-images-check.XXXXXX)
SOCK=$D/containerd.sock
CTR=(ctr --address "$SOCK" --namespace k8s.io)
CONTAINERD_PID=
BACKGROUND=()
PASS=0
FAIL=0

cleanup() {
  trap - EXIT INT TERM
  if [ -n "$CONTAINERD_PID" ] && kill -0 "$CONTAINERD_PID" 2>/dev/null; then
    for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
    sleep 1
    for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks delete -f "$t" >/dev/null 2>&1; done
    for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do "${CTR[@]}" containers delete "$c" >/dev/null 2>&1; done
  fi
  for p in "${BACKGROUND[@]}"; do kill "$p" 2>/dev/null; done
  if [ -n "$CONTAINERD_PID" ]; then
    kill "$CONTAINERD_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$CONTAINERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$CONTAINERD_PID" 2>/dev/null
  fi
  # shims this containerd started (their command line names our socket): by pid
  for p in $(grep -l -a -F "$SOCK" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do kill -9 "$p" 2>/dev/null; done
  grep -F " $D/" /proc/mounts | awk '{ print $2 }' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$D"
  echo "check: cleaned up ($D, containerd $CONTAINERD_PID)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { PASS=$((PASS + 1)); echo "PASS $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $1"; }
first() { tr '\n' ' ' | sed 's/  */ /g' | cut -c1-"${1:-110}"; }
# check NAME REGEX OUTPUT: PASS when OUTPUT matches REGEX (grep -E), the matching line shown
check() {
  local line
  line=$(printf '%s\n' "$3" | grep -E -m1 -- "$2")
  if [ -n "$line" ]; then pass "$1: $(printf '%s' "$line" | first)"; else fail "$1: expected /$2/, got: $(printf '%s' "$3" | first 300)"; fi
}
ref() { python3 -c 'import json,sys; print(next(i["ref"] for i in json.load(open(sys.argv[1]))["images"] if i["name"] == sys.argv[2]))' "$JSON" "$1"; }
N=0
# run IMAGE-NAME USER|- [ctr run options...] -- ARGV...   (USER -: the image's own user, ARGV as given)
run() {
  local image user opts=()
  image=$(ref "$1"); user=$2; shift 2
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  N=$((N + 1))
  if [ "$user" = - ]; then
    timeout 120 "${CTR[@]}" run --rm "${NS[@]}" "${opts[@]}" "$image" "check-$N" "$@" 2>&1
  else
    timeout 120 "${CTR[@]}" run --rm "${NS[@]}" --mount "type=bind,src=$RUNAS,dst=/.check/runas,options=rbind:ro" \
      "${opts[@]}" "$image" "check-$N" /.check/runas "$user" "$@" 2>&1
  fi
}
# start NAME IMAGE-NAME USER|- [options...] -- ARGV...: as run, in the background (log $D/NAME.log)
start_bg() {
  local name=$1; shift
  N=$((N + 1))
  local image user opts=()
  image=$(ref "$1"); user=$2; shift 2
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  if [ "$user" = - ]; then
    "${CTR[@]}" run --rm "${NS[@]}" "${opts[@]}" "$image" "$name" "$@" >"$D/$name.log" 2>&1 &
  else
    "${CTR[@]}" run --rm "${NS[@]}" --mount "type=bind,src=$RUNAS,dst=/.check/runas,options=rbind:ro" \
      "${opts[@]}" "$image" "$name" /.check/runas "$user" "$@" >"$D/$name.log" 2>&1 &
  fi
  BACKGROUND+=($!)
  eval "PID_$(echo "$name" | tr - _)=$!"
}
# stop NAME SIGNAL: signal the container, wait for it (up to 60 s); its exit status in STOPPED
stop_bg() {
  local pid
  pid=$(eval echo "\$PID_$(echo "$1" | tr - _)")
  "${CTR[@]}" tasks kill -s "$2" "$1" >/dev/null 2>&1
  for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then STOPPED="still running after 60 s"; return; fi
  wait "$pid"; STOPPED=$?
}
in_net() { nsenter --net="$D/net" "$@"; }
wait_for() {  # seconds command...: until the command succeeds
  local s=$1; shift
  for _ in $(seq $((s * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  return 1
}
tcp_open() { in_net bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# --- a throwaway containerd, the pod's namespaces --------------------------------------------------
cat >"$D/config.toml" <<EOF
version = 2
root = "$D/root"
state = "$D/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
EOF
containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 &
CONTAINERD_PID=$!
wait_for 20 "${CTR[@]}" version || { fail "containerd did not start: $(tail -5 "$D/containerd.log")"; exit 1; }
echo "check: containerd $(containerd --version | awk '{ print $3 }') (pid $CONTAINERD_PID) at $SOCK"
touch "$D/net" "$D/uts"
unshare --net="$D/net" --uts="$D/uts" sh -c 'ip link set lo up && hostname pg-check-0'
printf '127.0.0.1 localhost\n127.0.0.1 kubernetes.default.svc.cluster.local kubernetes.default.svc\n' >"$D/hosts"
chmod 644 "$D/hosts"
# the pod's network and UTS namespaces, and /etc/hosts as the kubelet mounts it into every container
NS=(--with-ns "network:$D/net" --with-ns "uts:$D/uts" --mount "type=bind,src=$D/hosts,dst=/etc/hosts,options=rbind:ro")

# --- import ----------------------------------------------------------------------------------------
out=$(bash "$HERE/import.sh" "$SOCK" 2>&1)
check "import into an empty containerd" '^import: [0-9]+ images imported' "$out"
out=$(bash "$HERE/import.sh" "$SOCK" 2>&1)
check "import again (already there: no-op)" '^import: all [0-9]+ images present' "$out"
listed=$("${CTR[@]}" images ls -q)
for name in $(python3 -c 'import json,sys; [print(i["name"]) for i in json.load(open(sys.argv[1]))["images"]]' "$JSON"); do
  r=$(ref "$name")
  if printf '%s\n' "$listed" | grep -qxF "$r"; then pass "$name: registered in k8s.io as $r"; else fail "$name: $r not in k8s.io"; fi
done
labels=$("${CTR[@]}" images ls | grep -c 'io.cri-containerd.image=managed')
check "the CRI plugin sees them (io.cri-containerd.image=managed)" '^[1-9]' "$labels"

ROFS=(--read-only --mount "type=tmpfs,src=tmpfs,dst=/tmp,options=rw:nosuid:nodev:mode=1777")

# --- etcd ------------------------------------------------------------------------------------------
E=quay.io/coreos/etcd:v3.6.7
check "$E: etcd --version (CMD /usr/local/bin/etcd, as 65532)" '^etcd Version: 3\.6\.7$' "$(run $E 65532:65532 "${ROFS[@]}" -- /usr/local/bin/etcd --version)"
check "$E: etcdctl version" '^etcdctl version: 3\.6\.7$' "$(run $E 65532:65532 "${ROFS[@]}" -- /usr/local/bin/etcdctl version)"
check "$E: etcdutl version" '^etcdutl version: 3\.6\.7$' "$(run $E 65532:65532 "${ROFS[@]}" -- /usr/local/bin/etcdutl version)"
check "$E: Git SHA stamped" '^Git SHA: e838ef116$' "$(run $E 65532:65532 "${ROFS[@]}" -- /usr/local/bin/etcd --version)"
check "$E: no shell (distroless-like)" 'no such file|not found' "$(run $E 65532:65532 "${ROFS[@]}" -- /bin/sh -c true)"
start_bg etcd $E 65532:65532 "${ROFS[@]}" --mount "type=tmpfs,src=tmpfs,dst=/var/lib/etcd,options=rw:uid=65532:gid=65532:mode=0700" \
  --env ETCD_NAME=pg-check-etcd --env ETCD_DATA_DIR=/var/lib/etcd/data --env ETCD_LISTEN_METRICS_URLS=http://127.0.0.1:8080 -- /usr/local/bin/etcd
if wait_for 30 in_net curl -sf http://127.0.0.1:8080/readyz; then
  pass "$E: etcd serves as 65532 on a read-only root (/readyz: $(in_net curl -s http://127.0.0.1:8080/readyz))"
else
  fail "$E: etcd not ready: $(tail -3 "$D/etcd.log" | first 300)"
fi
check "$E: etcdctl endpoint health in the running container" 'is healthy' "$(timeout 30 "${CTR[@]}" tasks exec --exec-id health etcd /usr/local/bin/etcdctl endpoint health 2>&1)"

# --- Spilo -----------------------------------------------------------------------------------------
S=ghcr.io/zalando/spilo-17:4.0-p3
check "$S: python3 (Jobs: as 65534, read-only root)" '^Python 3\.13' "$(run $S 65534:65534 "${ROFS[@]}" -- python3 --version)"
check "$S: the Jobs' modules import (as 65534)" '^ok$' "$(run $S 65534:65534 "${ROFS[@]}" -- python3 -c 'import base64, ipaddress, json, secrets, ssl, subprocess, tempfile, urllib.request, yaml, psycopg2, etcd; print("ok")')"
check "$S: openssl makes a certificate in /tmp (the secrets Job, as 65534)" '^made$' "$(run $S 65534:65534 "${ROFS[@]}" -- /bin/sh -c 'cd /tmp && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=x -keyout k -out c 2>/dev/null && echo made')"
check "$S: curl" '^curl 8\.' "$(run $S 101:103 -- curl --version)"
check "$S: jq" '^jq-1\.' "$(run $S 101:103 -- jq --version)"
check "$S: patronictl" 'patronictl version 4\.0\.4' "$(run $S 101:103 -- patronictl version)"
check "$S: patroni" '^patroni 4\.0\.4$' "$(run $S 101:103 -- patroni --version)"
check "$S: psql on PATH" '^psql \(PostgreSQL\) 17\.' "$(run $S 101:103 -- psql --version)"
check "$S: postgres -C works in a temporary data dir (the converge Job, as 101, read-only root)" '^16384$' \
  "$(run $S 101:103 "${ROFS[@]}" -- /bin/sh -c 'd=$(mktemp -d) && echo "shared_buffers = 128MB" > $d/postgresql.conf && /usr/lib/postgresql/17/bin/postgres -D $d -C shared_buffers 2>/dev/null')"
check "$S: user postgres 101:103 in root and ssl-cert" 'uid=101\(postgres\) gid=103\(postgres\) groups=103\(postgres\),0\(root\),102\(ssl-cert\)' "$(run $S 101:103 -- id)"
check "$S: PGHOME, PGDATA, RW_DIR as Spilo's, PGHOME 101:0 g=u, /etc/passwd 664" '^/home/postgres /home/postgres/pgdata/pgroot/data /run 101:0:775 664$' \
  "$(run $S 101:103 -- /bin/sh -c 'echo $PGHOME $PGDATA $RW_DIR $(stat -c %u:%g:%a /home/postgres) $(stat -c %a /etc/passwd)')"
# ctr's default spec mounts a tmpfs on /run, the CRI plugin's does not (oci.WithoutRunMount): the
# image's /run is what a pod sees, so it is read from the layer here
spilo_layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"]["spilo"]["digest"].split(":")[1])' "$JSON")
check "$S: /run in the image is postgres's, group root, g=u" '^drwxrwxr-x 101/0 .* run/$' \
  "$(zstd -dc "$OUT/oci/blobs/sha256/$spilo_layer" | tar -tvf - | grep ' run/$')"
# the image's /run for the pod's Spilo container below, in place of ctr's root-owned tmpfs
RUN_AS_IMAGE=(--mount "type=tmpfs,src=tmpfs,dst=/run,options=rw:nosuid:nodev:uid=101:gid=0:mode=0775")
check "$S: default command /launch.sh (image config)" '"/bin/sh","/launch.sh","init"' \
  "$(python3 -c 'import json,sys; print(json.dumps([i for i in json.load(open(sys.argv[1]))["images"] if i["name"]==sys.argv[2]][0]["cmd"], separators=(",",":")))' "$JSON" "$S")"

# the pod's ServiceAccount and a stand-in API server at kubernetes.default.svc.cluster.local
mkdir -p "$D/sa" "$D/api" "$D/pki"
# a CA as Kubernetes makes one (key usage keyCertSign): Python 3.13 in the Jobs refuses a CA without it
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=check-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign -keyout "$D/pki/ca.key" -out "$D/sa/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout "$D/api/server.key" -out "$D/pki/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:kubernetes.default.svc.cluster.local,DNS:kubernetes.default.svc\n' >"$D/pki/ext"
openssl x509 -req -in "$D/pki/server.csr" -CA "$D/sa/ca.crt" -CAkey "$D/pki/ca.key" -CAcreateserial -days 1 \
  -extfile "$D/pki/ext" -out "$D/api/server.crt" 2>/dev/null
TOKEN=check-token-$RANDOM$RANDOM
printf '%s' "$TOKEN" >"$D/sa/token"
printf 'checkns' >"$D/sa/namespace"
cp "$HERE/test/mock-apiserver.py" "$D/api/"
chmod 644 "$D/sa/"* "$D/api/"*
start_bg api $S 0:0 --mount "type=bind,src=$D/api,dst=/api,options=rbind:rw" -- python3 /api/mock-apiserver.py /api/server.crt /api/server.key "$TOKEN" /api/requests.log
wait_for 20 tcp_open 443 || fail "mock API server did not start: $(cat "$D/api.log")"

# throwaway credentials of this run
SUPERUSER_PW=su-$RANDOM$RANDOM
STANDBY_PW=st-$RANDOM$RANDOM
REST_PW=api-$RANDOM$RANDOM
SPILO_CONFIGURATION='bootstrap:
  dcs: {"ttl": 30, "loop_wait": 10, "retry_timeout": 10, "postgresql": {"parameters": {"max_connections": 100}}}
restapi:
  authentication:
    username: patroni
    password: "'$REST_PW'"'
start_bg spilo $S 101:103 "${RUN_AS_IMAGE[@]}" --memory-limit 1073741824 \
  --mount "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:noexec:nodev" \
  --mount "type=tmpfs,src=tmpfs,dst=/home/postgres/pgdata,options=rw:uid=101:gid=103:mode=0775" \
  --mount "type=bind,src=$D/sa,dst=/var/run/secrets/kubernetes.io/serviceaccount,options=rbind:ro" \
  --env SCOPE=pg-check --env PGVERSION=17 --env ETCD3_HOSTS=127.0.0.1:2379 --env POD_IP=127.0.0.1 \
  --env POD_NAMESPACE=checkns --env HOSTNAME=pg-check-0 --env KUBERNETES_SERVICE_HOST=10.96.0.1 \
  --env KUBERNETES_SERVICE_PORT=443 --env PGUSER_SUPERUSER=postgres --env "PGPASSWORD_SUPERUSER=$SUPERUSER_PW" \
  --env PGUSER_STANDBY=standby --env "PGPASSWORD_STANDBY=$STANDBY_PW" --env "SPILO_CONFIGURATION=$SPILO_CONFIGURATION" \
  -- /bin/sh /launch.sh init
if wait_for 120 in_net curl -sf http://127.0.0.1:8008/primary; then
  pass "$S: /launch.sh (as 101:103) bootstrapped a primary on etcd 3.6.7: $(in_net curl -s http://127.0.0.1:8008/patroni | python3 -c 'import json,sys; d=json.load(sys.stdin); print("role", d["role"], "state", d["state"], "patroni", d["patroni"]["version"], "server", d["server_version"])')"
else
  fail "$S: no primary after 120 s: $(tail -15 "$D/spilo.log" | first 1500)"
fi
log=$(cat "$D/spilo.log")
check "$S: the entrypoint drops Spilo-only libraries (printed)" 'spilo stand-in: shared_preload_libraries .*not packaged in Debian 13: bg_mon,pgextwlist,pg_auth_mon,set_user,timescaledb,pg_cron,pg_stat_kcache' "$log"
conf=$(timeout 30 "${CTR[@]}" tasks exec --exec-id conf spilo /bin/cat /run/postgres.yml 2>&1)
check "$S: ETCD3_HOSTS -> etcd3.hosts in /run/postgres.yml" "^  - 127\.0\.0\.1:2379$" "$conf"
check "$S: SPILO_CONFIGURATION merged (REST API authentication)" '^    username: patroni$' "$conf"
check "$S: the role-label callback is Spilo's" "on_start: python3 /scripts/callback_role.py" "$conf"
check "$S: patronictl list inside the pod (its default config)" 'pg-check-0 .*(Leader|Primary).*running' \
  "$(timeout 30 "${CTR[@]}" tasks exec --exec-id list --user 101 spilo /usr/bin/env HOME=/home/postgres patronictl list 2>&1)"
check "$S: the server has the self-signed certificate and TLS on" '^on spilo\.example\.org$' \
  "$(timeout 30 "${CTR[@]}" tasks exec --exec-id ssl --user 101 spilo /bin/sh -c 'echo $(psql -h /run/postgresql -U postgres -d postgres -tAc "show ssl") $(openssl x509 -noout -subject -in /run/certs/server.crt | sed "s/.*CN *= *//")' 2>&1)"
if wait_for 30 grep -q '"spilo-role": "primary"' "$D/api/requests.log"; then
  r=$(grep '"spilo-role": "primary"' "$D/api/requests.log" | head -1)
  check "$S: callback PATCHed its pod's spilo-role=primary at kubernetes.default.svc.cluster.local (token, CA verified)" \
    '"method": "PATCH", "path": "/api/v1/namespaces/checkns/pods/pg-check-0", "contentType": "application/strategic-merge-patch\+json", "authOk": true' "$r"
else
  fail "$S: no spilo-role=primary PATCH: $(cat "$D/api/requests.log" 2>/dev/null | first 400) $(grep -i callback "$D/spilo.log" | tail -2 | first 800)"
fi

# the entrypoint's configuration = the TypeScript model's (e2e/images/test/spilo-config.ts, of which
# it is a port), for dist/'s Spilo container and for one with more of Spilo's variables set
REPO=$(cd "$HERE/../.." && pwd)
if [ -x "$REPO/node_modules/.bin/tsx" ]; then
  touch "$D/uts-parity"
  unshare --uts="$D/uts-parity" hostname pg-ha-0
  for case in default more; do
    extra=()
    [ $case = more ] && extra=(ALLOW_NOSSL=true PGUSER_ADMIN=admin2 PGPASSWORD_ADMIN=x 'ETCD3_HOSTS="h1:2379","h2:2379"' \
      RESTAPI_CONNECT_ADDRESS=pg.example:8008 INITDB_LOCALE=de_DE APIPORT=8009 PGPORT=5433 HUMAN_ROLE=humans)
    mem=$(cd "$REPO" && node_modules/.bin/tsx e2e/images/test/spilo-parity.ts dist/pg-ha.k8s.yaml "$D/parity-$case" "${extra[@]}" 2>&1) ||
      { fail "$S: spilo-parity.ts ($case): $mem"; continue; }
    mapfile -d '' envs < <(python3 -c 'import json,sys; [sys.stdout.write("--env\0%s=%s\0" % kv) for kv in json.load(open(sys.argv[1])).items()]' "$D/parity-$case/env.json")
    # the CRI plugin mounts the container's cgroup at /sys/fs/cgroup (Spilo sizes memory from it); ctr does not
    run $S 101:103 --with-ns "uts:$D/uts-parity" --memory-limit "$mem" "${envs[@]}" \
      --mount "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:noexec:nodev" \
      -- /bin/sh -c 'python3 /scripts/configure_spilo.py --print --json --as-spilo 2>/tmp/err || { cat /tmp/err; exit 1; }' >"$D/parity-$case/actual.json"
    check "$S: entrypoint config = spilo-config.ts's ($case: dist/'s Spilo env${extra:+ + ${extra[*]}})" '^same' \
      "$(python3 "$HERE/test/compare-config.py" "$D/parity-$case/expected.json" "$D/parity-$case/actual.json" 2>&1 || head -c 600 "$D/parity-$case/actual.json")"
  done
else
  echo "SKIP $S: entrypoint config vs spilo-config.ts (no node_modules: run npm ci)"
fi

# --- clients of that primary: the exporter, the init Job's tools --------------------------------
X=prometheuscommunity/postgres-exporter:v0.18.1
check "$X: /bin/postgres_exporter --version (as 65534)" 'postgres_exporter, version 0\.17\.1' "$(run $X 65534:65534 "${ROFS[@]}" -- /bin/postgres_exporter --version)"
start_bg exporter $X - --read-only --env "DATA_SOURCE_URI=127.0.0.1:5432/postgres?sslmode=disable" --env DATA_SOURCE_USER=postgres \
  --env "DATA_SOURCE_PASS=$SUPERUSER_PW" -- /bin/postgres_exporter --web.listen-address=:9187 --web.telemetry-path=/metrics
if wait_for 30 in_net curl -sf http://127.0.0.1:9187/metrics; then
  check "$X: entrypoint as the image's user nobody, read-only root, scrapes Spilo" '^pg_up 1' "$(in_net curl -s http://127.0.0.1:9187/metrics)"
else
  fail "$X: no /metrics: $(tail -3 "$D/exporter.log" | first 300)"
fi
check "$X: runs as 65534" '^65534$' "$(timeout 30 "${CTR[@]}" tasks exec --exec-id id exporter /bin/sh -c 'id -u' 2>&1)"

A=postgres:17-alpine
check "$A: psql, pg_isready on PATH as 70:70, read-only root" '^70:70 psql \(PostgreSQL\) 17\..* pg_isready \(PostgreSQL\) 17' \
  "$(run $A 70:70 "${ROFS[@]}" -- /bin/sh -c 'echo $(id -u):$(id -g) $(psql --version) $(pg_isready --version)')"
check "$A: no curl (as the official image)" '^no curl$' "$(run $A 70:70 "${ROFS[@]}" -- /bin/sh -c 'command -v curl || echo no curl')"
check "$A: pg_isready reaches Spilo" 'accepting connections' "$(run $A 70:70 "${ROFS[@]}" -- pg_isready -h 127.0.0.1 -p 5432)"
check "$A: psql over TLS to Spilo (sslmode=require)" '^t$' \
  "$(run $A 70:70 "${ROFS[@]}" --env "PGPASSWORD=$SUPERUSER_PW" -- psql "host=127.0.0.1 user=postgres dbname=postgres sslmode=require" -tAc 'select ssl from pg_stat_ssl where pid = pg_backend_pid()')"

# --- PgBouncer and its exporter --------------------------------------------------------------------
B=ghcr.io/cloudnative-pg/pgbouncer:1.25.2
mkdir -p "$D/pgbouncer"
cat >"$D/pgbouncer/pgbouncer.ini" <<EOF
[databases]
postgres = host=127.0.0.1 port=5432
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = 6432
unix_socket_dir =
auth_type = trust
auth_file = /etc/pgbouncer/userlist.txt
admin_users = pgbouncer
stats_users = pgbouncer
ignore_startup_parameters = extra_float_digits
EOF
printf '"pgbouncer" ""\n' >"$D/pgbouncer/userlist.txt"
chmod 644 "$D/pgbouncer/"*
check "$B: pgbouncer --version" '^PgBouncer 1\.24\.1' "$(run $B 998:996 "${ROFS[@]}" -- pgbouncer --version)"
check "$B: the pooler's start.sh tools as 998:996 (sh, openssl EC key in its run dir)" '^998:996 made$' \
  "$(run $B 998:996 --read-only --mount "type=tmpfs,src=tmpfs,dst=/run/pooler,options=rw:uid=998:gid=996:mode=0700" -- /bin/sh -c 'cd /run/pooler && openssl req -new -x509 -days 1 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj /CN=x -keyout tls.key -out tls.crt 2>/dev/null && echo $(id -u):$(id -g) made')"
start_bg pgbouncer $B - --read-only --mount "type=bind,src=$D/pgbouncer,dst=/etc/pgbouncer,options=rbind:ro" --
if wait_for 20 tcp_open 6432; then
  pass "$B: image entrypoint ./entrypoint.sh as its user pgbouncer listens on 6432 (uid $(timeout 30 "${CTR[@]}" tasks exec --exec-id id pgbouncer /bin/sh -c 'id -u' 2>&1))"
else
  fail "$B: pgbouncer not listening: $(tail -3 "$D/pgbouncer.log" | first 300)"
fi
P=prometheuscommunity/pgbouncer-exporter:v0.12.1
check "$P: /bin/pgbouncer_exporter --version (as 65534)" 'pgbouncer_exporter, version 0\.10\.2' "$(run $P 65534:65534 "${ROFS[@]}" -- /bin/pgbouncer_exporter --version)"
start_bg pgbexporter $P - --read-only --env 'PGBOUNCER_EXPORTER_CONNECTION_STRING=postgres://pgbouncer:@127.0.0.1:6432/pgbouncer?sslmode=disable' -- /bin/pgbouncer_exporter
if wait_for 30 in_net curl -sf http://127.0.0.1:9127/metrics; then
  check "$P: reads PGBOUNCER_EXPORTER_CONNECTION_STRING, scrapes PgBouncer" '^pgbouncer_up 1' "$(in_net curl -s http://127.0.0.1:9127/metrics)"
else
  fail "$P: no /metrics: $(tail -3 "$D/pgbexporter.log" | first 300)"
fi

# --- HAProxy ---------------------------------------------------------------------------------------
H=haproxy:3.3.1
check "$H: version through the entrypoint (as 99:99)" '^HAProxy version 3\.0\.' "$(run $H 99:99 "${ROFS[@]}" -- docker-entrypoint.sh haproxy -vv)"
check "$H: built with the Prometheus exporter (dist/'s /metrics)" 'prometheus-exporter' "$(run $H 99:99 "${ROFS[@]}" -- haproxy -vv)"
mkdir -p "$D/haproxy"
cat >"$D/haproxy/haproxy.cfg" <<EOF
global
  log stdout format raw local0
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend metrics
  bind :8404
  http-request use-service prometheus-exporter if { path /metrics }
listen primary
  mode tcp
  bind :5000
  server pg 127.0.0.1:5432 check
EOF
chmod 644 "$D/haproxy/haproxy.cfg"
start_bg haproxy $H - --read-only --mount "type=bind,src=$D/haproxy,dst=/usr/local/etc/haproxy,options=rbind:ro" --
if wait_for 20 in_net curl -sf http://127.0.0.1:8404/metrics; then
  check "$H: entrypoint + CMD as the image's user haproxy, read-only root: /metrics" '^haproxy_process_' "$(in_net curl -s http://127.0.0.1:8404/metrics)"
else
  fail "$H: no /metrics: $(tail -3 "$D/haproxy.log" | first 300)"
fi
check "$H: master-worker (-W -db) as uid 99" '^99 .*haproxy -W -db -f /usr/local/etc/haproxy/haproxy.cfg' \
  "$(timeout 30 "${CTR[@]}" tasks exec --exec-id ps haproxy /bin/sh -c 'echo $(id -u) $(tr "\0" " " </proc/1/cmdline)' 2>&1)"
stop_bg haproxy SIGUSR1
check "$H: stops on SIGUSR1 (its STOPSIGNAL)" '^0$' "$STOPPED"

# --- pause, CoreDNS --------------------------------------------------------------------------------
Z=registry.k8s.io/pause:3.10
check "$Z: /pause -v" '^pause 3\.10' "$(run $Z - -- /pause -v)"
start_bg pause $Z - --
sleep 1
check "$Z: runs as 65535 (image user)" '^65535$' "$(awk '/^Uid:/ { print $2 }' /proc/"$("${CTR[@]}" tasks ls | awk '$1 == "pause" { print $2 }')"/status 2>&1)"
stop_bg pause SIGTERM
check "$Z: exits 0 on SIGTERM" '^0$' "$STOPPED"

C=registry.k8s.io/coredns/coredns:v1.12.1
check "$C: /coredns -version" '^CoreDNS-1\.12\.1$' "$(run $C - "${ROFS[@]}" -- /coredns -version)"
mkdir -p "$D/coredns"
printf '.:53 {\n  whoami\n  health 127.0.0.1:8081\n}\n' >"$D/coredns/Corefile"
chmod 644 "$D/coredns/Corefile"
start_bg coredns $C - --read-only --mount "type=bind,src=$D/coredns,dst=/etc/coredns,options=rbind:ro" -- /coredns -conf /etc/coredns/Corefile
if wait_for 20 in_net curl -sf http://127.0.0.1:8081/health && tcp_open 53; then
  pass "$C: as nonroot (uid $(awk '/^Uid:/ { print $2 }' /proc/"$("${CTR[@]}" tasks ls | awk '$1 == "coredns" { print $2 }')"/status)) binds port 53 (cap_net_bind_service file capability), /health OK"
else
  fail "$C: not serving: $(tail -3 "$D/coredns.log" | first 300)"
fi

# --- graceful stop of the Spilo pod: on_stop removes the label ---------------------------------
stop_bg spilo SIGTERM
check "$S: SIGTERM stops Patroni and PostgreSQL, exit status" '^0$' "$STOPPED"
check "$S: on_stop removed the spilo-role label" '"spilo-role": null' "$(cat "$D/api/requests.log")"

echo "check: $PASS passed, $FAIL failed in $(($(date +%s) - start)) s"
[ "$FAIL" = 0 ]
