#!/bin/sh
# Does Spilo's cron still fire the backup entry when the container runs as uid 101 with
# allowPrivilegeEscalation: false (no_new_privs) and every capability dropped?
#
# Reproduces what the image does, with Debian's cron (the package Spilo's Ubuntu base ships):
#   - Spilo's cron_unprivileged.c (zalando/spilo, postgres-appliance/) built the way its
#     Dockerfile builds it (gcc -s -shared -fPIC), preloaded as runit/cron/run does when uid != 0;
#   - /etc/passwd's postgres line rewritten to the running uid:gid (launch.sh), /etc/shadow
#     readable (post_build.sh: chmod o+r), /run writable by postgres (post_build.sh chown),
#     /var/spool/cron -> /run/cron with crontabs mode 1730 (post_build.sh, setup_runit_cron);
#   - the crontab written by `crontab -u postgres -` as configure_spilo.py's setup_crontab does,
#     with the shape of its backup line: "<BACKUP_SCHEDULE> envdir <WALE_ENV_DIR> <script> <PGDATA>".
# The backup script is a stand-in that records who ran it (WAL-G is in neither Debian nor npm), and
# envdir (daemontools) is a two-line stand-in. A control run without the preload shows it matters.
# Needs root (to enter the uid and a private mount namespace), gcc, apt-get (downloads the cron
# package only; nothing is installed). Takes about one minute (cron fires at a minute boundary).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SPILO_SOURCE=${SPILO_SOURCE:?set SPILO_SOURCE to a checkout of zalando/spilo (postgres-appliance/cron_unprivileged.c)}
W=$(mktemp -d /tmp/pgha-cron-XXXXXX)
chmod 755 "$W"
trap 'rm -rf "$W"' EXIT

# Debian's cron, unpacked (not installed).
(cd "$W" && apt-get download -q cron >/dev/null 2>&1 && dpkg-deb -x cron_*.deb pkg)
echo "cron package: $(ls "$W"/cron_*.deb | xargs -n1 basename)"
gcc -s -shared -fPIC -o "$W/cron_unprivileged.so" "$SPILO_SOURCE/postgres-appliance/cron_unprivileged.c"
chmod 755 "$W/cron_unprivileged.so"

for mode in preload control; do
  d="$W/$mode"
  mkdir -p "$d/run/cron/crontabs" "$d/scripts" "$d/env" "$d/bin"
  # launch.sh: the postgres entry names the running uid and gid
  sed -e 's/^postgres:x:[^:]*:[^:]*:/postgres:x:101:103:/' /etc/passwd > "$d/passwd"
  grep -q '^postgres:' "$d/passwd" || echo 'postgres:x:101:103::/home/postgres:/bin/bash' >> "$d/passwd"
  cp /etc/shadow "$d/shadow"; chmod 644 "$d/shadow"
  grep -q '^postgres:' "$d/shadow" || echo 'postgres:*:19000:0:99999:7:::' >> "$d/shadow"
  cat > "$d/scripts/postgres_backup.sh" <<EOF
#!/bin/sh
# stand-in for Spilo's /scripts/postgres_backup.sh: record who ran it, with which privileges
{ echo "fired uid=\$(id -u) gid=\$(id -g) args=\$*"; grep -E '^(NoNewPrivs|CapEff|CapBnd):' /proc/self/status; } >> $d/run/fired
EOF
  printf '#!/bin/sh\n# stand-in for daemontools envdir: the directory is empty here\nshift; exec "$@"\n' > "$d/bin/envdir"
  chmod 755 "$d/scripts/postgres_backup.sh" "$d/bin/envdir"
  chown -R 101:103 "$d/run" "$d/scripts"
  chmod 1730 "$d/run/cron/crontabs"
done

run() { # mode, LD_PRELOAD value
  d="$W/$1"
  unshare --mount --propagation private -- /bin/sh -c '
    d=$0 w=$1 preload=$2
    mount --bind "$d/passwd" /etc/passwd && mount --bind "$d/shadow" /etc/shadow
    mount --bind "$d/run" /run
    mkdir -p /var/spool/cron && mount --bind "$d/run/cron" /var/spool/cron
    as101="setpriv --reuid=101 --regid=103 --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all"
    # configure_spilo.py setup_crontab: crontab -u postgres - (backup line as write_crontab builds it)
    printf "PATH=$d/bin:/usr/bin:/bin\n* * * * * envdir \"/run/etc/wal-e.d/env\" $d/scripts/postgres_backup.sh \"/home/postgres/pgdata/pgroot/data\"\n\n" \
      | $as101 "$w/pkg/usr/bin/crontab" -u postgres - 2>&1 | sed "s/^/crontab: /"
    ls -l /var/spool/cron/crontabs | sed "s/^/spool: /"
    # runit/cron/run: exec env -i LD_PRELOAD=$LD_PRELOAD /usr/sbin/cron -f
    exec $as101 env -i LD_PRELOAD=$preload "$w/pkg/usr/sbin/cron" -f -L 15
  ' "$d" "$W" "$2" > "$d/cron.log" 2>&1 &
  echo $! > "$d/pid"
}
run preload "$W/cron_unprivileged.so"
run control ""

# until the next minute boundary has passed, plus a few seconds for the job
sleep $((62 - $(date +%S | sed 's/^0//') + 3))
for mode in preload control; do kill "$(cat "$W/$mode/pid")" 2>/dev/null || true; done
wait 2>/dev/null || true

status=0
for mode in preload control; do
  echo "== $mode (LD_PRELOAD $( [ $mode = preload ] && echo cron_unprivileged.so || echo none))"
  sed 's/^/  log: /' "$W/$mode/cron.log"
  if [ -f "$W/$mode/run/fired" ]; then sed 's/^/  job: /' "$W/$mode/run/fired"; else echo "  job: did not fire"; fi
done
if grep -q 'fired uid=101 gid=103' "$W/preload/run/fired" 2>/dev/null && grep -q 'NoNewPrivs:.*1' "$W/preload/run/fired"; then
  echo "PASS the backup entry fires as uid 101 under no_new_privs with cron_unprivileged.so"
else
  echo "FAIL the backup entry did not fire with cron_unprivileged.so"; status=1
fi
if [ -f "$W/control/run/fired" ]; then echo "NOTE without the preload the entry fired too"; else echo "PASS without the preload it does not fire (the preload is what makes it work)"; fi
exit $status
