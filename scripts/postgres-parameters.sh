#!/usr/bin/env bash
# Regenerates lib/components/postgres/postgresql-17-parameters.json, the list of PostgreSQL 17's
# parameters that POSTGRES_PARAMETERS / patroni.parameters names are checked against, from
# `postgres --describe-config` of the test bed's PostgreSQL 17 (Debian 13's package).
#
#   bash scripts/postgres-parameters.sh                  # the bed's root, built by scripts/e2e-install.sh
#   POSTGRES_ROOT=/ bash scripts/postgres-parameters.sh  # a host with postgresql-17 installed
#
# postgres refuses to run as root, so it runs as the root's `postgres` user (chroot + setpriv).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${POSTGRES_ROOT:-$(ls -d /var/cache/pg-ha-e2e/trixie* 2>/dev/null | head -1)}
bin=/usr/lib/postgresql/17/bin/postgres
[ -n "$root" ] && [ -x "$root$bin" ] || { echo "no PostgreSQL 17 at ${root:-<none>}$bin (run scripts/e2e-install.sh or set POSTGRES_ROOT)" >&2; exit 1; }
run() {
  if [ "$(id -u)" = 0 ]; then chroot "$root" setpriv --reuid=postgres --regid=postgres --init-groups "$bin" "$@"
  else "$root$bin" "$@"; fi
}
version=$(run --version)
run --describe-config | python3 -c '
import json, sys
version = sys.argv[1]
parameters = {}
for line in sys.stdin:
    fields = line.rstrip("\n").split("\t")
    name, context, group, vartype = fields[:4]
    parameters[name] = {"context": context, "type": vartype.lower()}
source = json.dumps(version + ", postgres --describe-config (scripts/postgres-parameters.sh)")
rows = ["  %s: %s" % (json.dumps(n), json.dumps(p)) for n, p in sorted(parameters.items(), key=lambda i: i[0].lower())]
print("{\n\"source\": %s,\n\"parameters\": {\n%s\n}\n}" % (source, ",\n".join(rows)))
' "$version" > lib/components/postgres/postgresql-17-parameters.json
echo "wrote lib/components/postgres/postgresql-17-parameters.json ($version)"
