#!/bin/bash
# Spilo's on_role_change hook, for the e2e stand-in of ghcr.io/zalando/spilo-17:4.0-p3 (our own code).
# Patroni runs: on_role_change.sh <HUMAN_ROLE> <callback...> on_role_change <role> <cluster>
# Like Spilo's: runs the callback (callback_role.py, or `true`), then on a promotion waits up to 30 s
# for the end of recovery and starts `vacuumdb -aZ` (ANALYZE every database) in the background.
# Spilo then runs its post_init.sh; this image has none (printed).
readonly HUMAN_ROLE=$1
shift

"$@"

if [[ "${*: -3:1}" == "on_role_change" && "${*: -2:1}" == "primary" ]]; then
    num=30
    while [[ $((num--)) -gt 0 ]]; do
        if [[ "$(psql -d postgres -tAc 'SELECT pg_catalog.pg_is_in_recovery()')" == "f" ]]; then
            vacuumdb -aZ > /dev/null 2>&1 &
            echo "on_role_change: spilo stand-in: Spilo's post_init.sh \"$HUMAN_ROLE\" not run (not in this image)" >&2
            exit 0
        fi
        sleep 1
    done
fi
