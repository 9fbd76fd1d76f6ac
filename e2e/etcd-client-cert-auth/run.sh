#!/bin/bash
# What etcd 3.5 (the e2e root's) does with --client-cert-auth and authentication on, by hand on one
# local member (127.77.1.1:2379, metrics 8080): who a request acts as, over the JSON gateway (Patroni,
# the etcd access Job, curl) and over gRPC (etcdctl). Certificates as the secrets Job makes them: a CA,
# the server certificate (CN etcd, serverAuth+clientAuth), the clients' certificate (CN pg-ha-etcd-client,
# clientAuth). Users root and patroni (role: read/write /service/pg-ha/ only). Run: bash run.sh
set -u
R=${PG_HA_E2E_ROOT:-/var/cache/pg-ha-e2e/trixie}; E=$R/usr/bin/etcd; C=$R/usr/bin/etcdctl
WORK=$(mktemp -d); cd "$WORK" || exit 1; echo "work dir $WORK"
trap '[ -f pid ] && kill $(cat pid) 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
ec() { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $1.key -out $1.csr -subj "$2" 2>/dev/null; }
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=ca \
  -addext basicConstraints=critical,CA:TRUE 2>/dev/null
ec tls /CN=etcd; printf 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.77.1.1,IP:127.0.0.1\n' > srv.cnf
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile srv.cnf -out tls.crt 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > cli.cnf
# the clients' certificate without a common name (O=pg-ha-etcd-client), and one with CN pg-ha-etcd-client
ec client /O=pg-ha-etcd-client; openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile cli.cnf -out client.crt 2>/dev/null
ec cn /CN=pg-ha-etcd-client; openssl x509 -req -in cn.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile cli.cnf -out cn.crt 2>/dev/null
# a certificate of another CA: refused like none
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key -out other.crt -days 1 -subj /CN=root 2>/dev/null
A=127.77.1.1
# passwords made up for this run
RP=$(openssl rand -hex 12); PP=$(openssl rand -hex 12)
ETCD_NAME=m1 ETCD_DATA_DIR=$WORK/d ETCD_LISTEN_CLIENT_URLS=https://$A:2379 ETCD_ADVERTISE_CLIENT_URLS=https://$A:2379 \
  ETCD_LISTEN_PEER_URLS=http://$A:2380 ETCD_INITIAL_ADVERTISE_PEER_URLS=http://$A:2380 ETCD_INITIAL_CLUSTER=m1=http://$A:2380 \
  ETCD_LISTEN_METRICS_URLS=http://$A:8080 ETCD_CERT_FILE=tls.crt ETCD_KEY_FILE=tls.key ETCD_TRUSTED_CA_FILE=ca.crt ETCD_CLIENT_CERT_AUTH=true \
  setsid $E >> log 2>&1 & echo $! > pid
for t in $(seq 1 40); do curl -s -m 1 http://$A:8080/health | grep -q true && break; sleep 0.25; done
echo "health (plain listener, no certificate): $(curl -s -m 2 http://$A:8080/health)"
G="$C --endpoints=https://$A:2379 --cacert=ca.crt --cert=client.crt --key=client.key"
$G user add root:$RP >/dev/null && $G user grant-role root root >/dev/null
$G role add patroni >/dev/null && $G role grant-permission patroni --prefix=true readwrite /service/pg-ha/ >/dev/null
$G user add patroni:$PP >/dev/null && $G user grant-role patroni patroni >/dev/null
$G --user root:$RP put /service/pg-ha/leader pg-ha-0 >/dev/null; $G --user root:$RP put /other x >/dev/null
$G auth enable
b64() { printf %s "$1" | base64 -w0; }
RANGE="{\"key\":\"$(b64 /)\",\"range_end\":\"$(b64 0)\"}"; RANGE=${RANGE/$(b64 0)/AA==}
cu() { curl -sS -m 5 --cacert ca.crt "$@" 2>&1 | head -c 300; echo; }
echo "== JSON gateway (Patroni, the etcd access Job)"
echo "-- no client certificate, root's password: "; cu -X POST -d "{\"name\":\"root\",\"password\":\"$RP\"}" https://$A:2379/v3/auth/authenticate
echo "-- a certificate of another CA (CN root): "; cu --cert other.crt --key other.key -X POST -d "{\"name\":\"root\",\"password\":\"$RP\"}" https://$A:2379/v3/auth/authenticate
echo "-- certificate WITH a common name + patroni's password: "; cu --cert cn.crt --key cn.key -X POST -d "{\"name\":\"patroni\",\"password\":\"$PP\"}" https://$A:2379/v3/auth/authenticate
echo "-- client certificate, no token, range of everything: "; cu --cert client.crt --key client.key -X POST -d "$RANGE" https://$A:2379/v3/kv/range
T=$(curl -s --cacert ca.crt --cert client.crt --key client.key -X POST -d "{\"name\":\"patroni\",\"password\":\"$PP\"}" https://$A:2379/v3/auth/authenticate | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
echo "-- client certificate + patroni's token, range of everything: "; cu --cert client.crt --key client.key -H "Authorization: $T" -X POST -d "$RANGE" https://$A:2379/v3/kv/range
echo "-- client certificate + patroni's token, its leader key: "; cu --cert client.crt --key client.key -H "Authorization: $T" -X POST -d "{\"key\":\"$(b64 /service/pg-ha/leader)\"}" https://$A:2379/v3/kv/range
echo "-- client certificate + patroni's token, put /other: "; cu --cert client.crt --key client.key -H "Authorization: $T" -X POST -d "{\"key\":\"$(b64 /other)\",\"value\":\"$(b64 y)\"}" https://$A:2379/v3/kv/put
echo "== gRPC (etcdctl)"
echo "-- certificate WITH CN pg-ha-etcd-client, no user (the CN is the user, which does not exist): "; $C --endpoints=https://$A:2379 --cacert=ca.crt --cert=cn.crt --key=cn.key get / --prefix 2>&1 | tail -1
echo "-- client certificate without a CN, no user: "; $G get / --prefix 2>&1 | head -3
echo "-- client certificate, --user patroni, get /other: "; $G --user patroni:$PP get /other 2>&1 | head -3
echo "-- client certificate, --user patroni, get its leader key: "; $G --user patroni:$PP get /service/pg-ha/leader 2>&1 | head -3
echo "-- the member's own certificate (CN etcd), --user root, member list: "; $C --endpoints=https://$A:2379 --cacert=ca.crt --cert=tls.crt --key=tls.key --user root:$RP member list 2>&1 | tail -1
echo "-- no client certificate, --user root: "; $C --endpoints=https://$A:2379 --cacert=ca.crt --user root:$RP --dial-timeout=3s get /other 2>&1 | head -3
echo "== etcd's log about refused handshakes:"; grep -o '"msg":"rejected connection[^}]*' log | head -3
