#!/usr/bin/env bash
# Regenerates lib/components/postgres/postgresql-17-parameters.json, the list of PostgreSQL 17's
# parameters that POSTGRES_PARAMETERS / patroni.parameters names and values are checked against:
# each name's context and type from `postgres --describe-config`, and its unit, range and (for an
# enum) accepted values from pg_settings of a throwaway cluster in single-user mode (no server, no
# port), of the test bed's PostgreSQL 17 (Debian 13's package).
#
#   bash scripts/postgres-parameters.sh                  # the bed's root, built by scripts/e2e-install.sh
#   POSTGRES_ROOT=/ bash scripts/postgres-parameters.sh  # a host with postgresql-17 installed
#
# postgres refuses to run as root, so it runs as the root's `postgres` user (chroot + setpriv).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${POSTGRES_ROOT:-$(ls -d /var/cache/pg-ha-e2e/trixie* 2>/dev/null | head -1)}
bindir=/usr/lib/postgresql/17/bin
[ -n "$root" ] && [ -x "$root$bindir/postgres" ] || { echo "no PostgreSQL 17 at ${root:-<none>}$bindir/postgres (run scripts/e2e-install.sh or set POSTGRES_ROOT)" >&2; exit 1; }
run() {
  if [ "$(id -u)" = 0 ]; then chroot "$root" setpriv --reuid=postgres --regid=postgres --init-groups "$bindir/$1" "${@:2}"
  else "$root$bindir/$1" "${@:2}"; fi
}
# The throwaway cluster's directory: $data as the programs see it, $here as this script does.
if [ "$(id -u)" = 0 ]; then
  data=$(chroot "$root" mktemp -d /tmp/pg-ha-parameters-XXXXXX)
  chroot "$root" chown postgres: "$data"
  here=$root$data
else
  data=$(mktemp -d)
  here=$data
fi
trap 'rm -rf "$here"' EXIT
version=$(run postgres --version)
run postgres --describe-config > "$here/describe-config.tsv"
run initdb --pgdata="$data/cluster" --no-sync --auth=trust > /dev/null
echo "SELECT json_object_agg(name, json_build_object('unit', unit, 'min', min_val, 'max', max_val, 'values', enumvals)) FROM pg_settings" \
  | run postgres --single -D "$data/cluster" -j postgres > "$here/pg_settings.out" 2>/dev/null
python3 - "$version" "$here/describe-config.tsv" "$here/pg_settings.out" <<'PY' > lib/components/postgres/postgresql-17-parameters.json
import json, re, sys
version, tsv, out = sys.argv[1:4]
settings = json.loads(re.search(r'1: json_object_agg = "(.*)"\t\(typeid', open(out).read()).group(1))
def number(text, vartype):
    return int(text) if vartype == 'integer' else float(text)
parameters = {}
for line in open(tsv):
    name, context, group, vartype = line.rstrip("\n").split("\t")[:4]
    vartype = vartype.lower()
    entry = {"context": context, "type": vartype}
    extra = settings.get(name, {})
    if extra.get("unit"): entry["unit"] = extra["unit"]
    if vartype in ("integer", "real") and extra.get("min") is not None:
        entry["min"] = number(extra["min"], vartype)
        entry["max"] = number(extra["max"], vartype)
    if vartype == "enum" and extra.get("values"): entry["values"] = extra["values"]
    parameters[name] = entry
source = json.dumps(version + ", postgres --describe-config and pg_settings (scripts/postgres-parameters.sh)")
rows = ["  %s: %s" % (json.dumps(n), json.dumps(p)) for n, p in sorted(parameters.items(), key=lambda i: i[0].lower())]
print("{\n\"source\": %s,\n\"parameters\": {\n%s\n}\n}" % (source, ",\n".join(rows)))
PY
echo "wrote lib/components/postgres/postgresql-17-parameters.json ($version)"
