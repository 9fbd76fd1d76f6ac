# ghcr.io/zalando/spilo-17:4.0-p3 stand-in (run by build.sh in a chroot over the base layer):
# Debian 13's PostgreSQL 17 and Python 3, Patroni 4.0.4 from PyPI (spilo/requirements.txt, by hash),
# curl and jq, user postgres 101:103 (member of root and ssl-cert) with Spilo's layout: PGHOME
# /home/postgres, PGDATA under /home/postgres/pgdata/pgroot, /run writable, Patroni's configuration
# /run/postgres.yml reached as $PGHOME/postgres.yml and as patronictl's default, /etc/passwd
# group-writable (launch.sh rewrites the postgres entry when run as another uid), and Spilo's
# /launch.sh with the configure step (/scripts/configure_spilo.py), the role-label callback and the
# on_role_change hook (spilo/rootfs, our own code).
set -eu
export DEBIAN_FRONTEND=noninteractive
apt_install() {
    if ! apt-get install -y -q --no-install-recommends "$@" >/tmp/apt.log 2>&1; then
        # the root's package lists may name versions the mirror no longer has
        apt-get update -q >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
        apt-get install -y -q --no-install-recommends "$@" >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
    fi
}
apt_install curl jq

# Patroni 4.0.4 from PyPI (build.sh downloaded the wheel, checked against the hash, to /tmp/wheels);
# Debian's pip installs it and goes again
dpkg-query -W -f '${Package}\n' | sort >/tmp/packages.before
apt_install python3-pip
pip install -q --no-index --find-links /tmp/wheels --no-deps --require-hashes -r /tmp/build/requirements.txt \
    --break-system-packages --root-user-action ignore
dpkg-query -W -f '${Package}\n' | sort >/tmp/packages.after
apt-get purge -y -q $(comm -13 /tmp/packages.before /tmp/packages.after) >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
rm -rf /root/.cache
test "$(patroni --version)" = "patroni 4.0.4"
test "$(command -v patroni)" = /usr/local/bin/patroni

# Spilo's postgres user: 101:103, in root and ssl-cert (Debian's postgresql-common made it 100:102 here)
python3 /tmp/lib/set-ids.py group postgres 103 group ssl-cert 102 \
    user postgres 101 postgres /home/postgres /bin/bash member root postgres member ssl-cert postgres

# Spilo's layout (its post_build.sh, our own steps)
mkdir -p /home/postgres/pgdata /home/postgres/.config/patroni /root/.config/patroni /run/postgresql
ln -sfn /run/postgres.yml /home/postgres/postgres.yml
ln -sfn /home/postgres/postgres.yml /home/postgres/.config/patroni/patronictl.yaml
ln -sfn /home/postgres/postgres.yml /root/.config/patroni/patronictl.yaml
chown -R postgres:postgres /home/postgres /run
chgrp -R 0 /home/postgres /run
chmod -R g=u /home/postgres /run
chmod 664 /etc/passwd
chmod o+r /etc/shadow
chmod 755 /launch.sh /scripts /scripts/*
