#!/bin/sh
# Entrypoint of the haproxy:3.3.1 stand-in (our own, same behaviour as the official image's):
# options alone mean `haproxy <options>`; `haproxy ...` runs as `haproxy -W -db ...` (master-worker
# mode, reloadable with SIGUSR2, in the foreground); anything else runs as given.
set -e
case "$1" in
    -*) set -- haproxy "$@" ;;
esac
if [ "$1" = haproxy ]; then
    shift
    set -- haproxy -W -db "$@"
fi
exec "$@"
