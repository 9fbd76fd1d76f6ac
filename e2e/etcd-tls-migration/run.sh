#!/bin/bash
# The etcd part of moving a cluster made with plain etcd to TLS (docs/security.md), by hand on three
# local members of the e2e root's etcd 3.5 (127.77.0.1-3, ports 2379/2380/2382/8080): plain, then step 1
# (clients on http and https on one port, peers on http 2380 and https 2382; peer URLs moved to
# [https:2382, https:2380]), then step 2 (https only, peers on 2380, rolling; peer URLs cleaned), then
# a restart of every member. Peers check each other's certificate against the connection's source address,
# 127.0.0.1 for every loopback address here: the certificate names it. Prints each member's /health after every change. Run as root: bash run.sh
set -u
E=${PG_HA_E2E_ROOT:-/var/cache/pg-ha-e2e/trixie}/usr/bin/etcd; C=${PG_HA_E2E_ROOT:-/var/cache/pg-ha-e2e/trixie}/usr/bin/etcdctl
WORK=$(mktemp -d); cd "$WORK" || exit 1; echo "work dir $WORK"
trap 'for i in 1 2 3; do [ -f pid$i ] && kill $(cat pid$i) 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=ca \
  -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout tls.key -out tls.csr -subj /CN=etcd 2>/dev/null
printf 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.77.0.1,IP:127.77.0.2,IP:127.77.0.3,IP:127.0.0.1\n' > ext.cnf
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out tls.crt 2>/dev/null
ip() { echo 127.77.0.$1; }
IC="m1=http://127.77.0.1:2380,m2=http://127.77.0.2:2380,m3=http://127.77.0.3:2380"
start() { # i mode
  local i=$1 mode=$2 a=$(ip $1)
  local env=(ETCD_NAME=m$i ETCD_DATA_DIR=$WORK/d$i ETCD_INITIAL_CLUSTER=$IC ETCD_INITIAL_CLUSTER_STATE=new ETCD_INITIAL_ADVERTISE_PEER_URLS=http://$a:2380 ETCD_LISTEN_METRICS_URLS=http://$a:8080)
  case $mode in
    plain) env+=(ETCD_LISTEN_PEER_URLS=http://$a:2380 ETCD_LISTEN_CLIENT_URLS=http://$a:2379 ETCD_ADVERTISE_CLIENT_URLS=http://$a:2379);;
    mig) env+=(ETCD_LISTEN_PEER_URLS=http://$a:2380,https://$a:2382 ETCD_LISTEN_CLIENT_URLS=http://$a:2379,https://$a:2379 ETCD_ADVERTISE_CLIENT_URLS=http://$a:2379);;
    final) env+=(ETCD_LISTEN_PEER_URLS=https://$a:2380 ETCD_LISTEN_CLIENT_URLS=https://$a:2379 ETCD_ADVERTISE_CLIENT_URLS=https://$a:2379);;
  esac
  [ $mode != plain ] && env+=(ETCD_CERT_FILE=tls.crt ETCD_KEY_FILE=tls.key ETCD_PEER_CERT_FILE=tls.crt ETCD_PEER_KEY_FILE=tls.key ETCD_PEER_TRUSTED_CA_FILE=ca.crt ETCD_PEER_CLIENT_CERT_AUTH=true)
  env "${env[@]}" setsid $E >> log$i.$mode 2>&1 & echo $! > pid$i
}
stop() { kill $(cat pid$1); while kill -0 $(cat pid$1) 2>/dev/null; do sleep 0.1; done; }
health() { for i in 1 2 3; do printf "m$i:%s " "$(curl -s -m 2 http://$(ip $i):8080/health)"; done; echo; }
waitall() { for t in $(seq 1 60); do h=$(health); if [ $(grep -o '"health":"true"' <<<"$h" | wc -l) = 3 ]; then echo "  healthy after ${t}x0.5s: $h"; return; fi; sleep 0.5; done; echo "  NOT HEALTHY: $h"; }
for i in 1 2 3; do start $i plain; done; waitall
$C --endpoints=http://127.77.0.1:2379 put k v0 >/dev/null
echo "== migration mode, rolling"; for i in 3 2 1; do stop $i; start $i mig; waitall; done
$C --endpoints=http://127.77.0.1:2379 put k v1 >/dev/null && echo "  http write ok"
$C --endpoints=https://127.77.0.1:2379 --cacert=ca.crt put k v1b >/dev/null && echo "  https write ok"
echo "== member update peer URLs -> [https:2382, https:2380]"
for id in $($C --endpoints=http://127.77.0.1:2379 member list -w json | python3 -c 'import json,sys; [print("%x:%s"%(m["ID"],m["name"])) for m in json.load(sys.stdin)["members"]]'); do
  n=${id#*:}; i=${n#m}; $C --endpoints=http://127.77.0.1:2379 member update ${id%%:*} --peer-urls=https://$(ip $i):2382,https://$(ip $i):2380 >/dev/null && echo "  updated $n"
done
sleep 2; waitall; $C --endpoints=http://127.77.0.1:2379 member list
$C --endpoints=http://127.77.0.1:2379 put k v2 >/dev/null && echo "  write ok after update"
echo "== final mode, rolling"; for i in 3 2 1; do stop $i; start $i final; waitall; $C --endpoints=https://$(ip $i):2379 --cacert=ca.crt put k v3-$i >/dev/null && echo "  write via m$i ok"; done
echo "== member update peer URLs -> [https:2380]"
for id in $($C --endpoints=https://127.77.0.1:2379 --cacert=ca.crt member list -w json | python3 -c 'import json,sys; [print("%x:%s"%(m["ID"],m["name"])) for m in json.load(sys.stdin)["members"]]'); do
  n=${id#*:}; i=${n#m}; $C --endpoints=https://127.77.0.1:2379 --cacert=ca.crt member update ${id%%:*} --peer-urls=https://$(ip $i):2380 >/dev/null && echo "  updated $n"
done
sleep 2; waitall; $C --endpoints=https://127.77.0.1:2379 --cacert=ca.crt member list; $C --endpoints=https://127.77.0.1:2379 --cacert=ca.crt get k
echo "== restart all final once more"; for i in 3 2 1; do stop $i; start $i final; waitall; done
for i in 1 2 3; do stop $i; done
