#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests that need one, and prints its URL.
#   scripts/pg-test-server.sh start DIR   -> prints postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/pg-test-server.sh stop DIR
# Uses Debian's postgresql package (installed by .ci/run when missing). As root, the server runs
# as the `postgres` user, since PostgreSQL refuses to run as root.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?data directory}
port=${PGTEST_PORT:-54329}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2; exit 3; }
as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}
case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_pg "'$bin/initdb' -D '$dir' -A trust -U postgres" > "$dir.initdb.log" 2>&1
    fi
    as_pg "'$bin/pg_ctl' -D '$dir' -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c max_connections=200\" -l '$dir/server.log' -w start" >&2
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_pg "'$bin/pg_ctl' -D '$dir' -m fast -w stop" >&2 || true
    ;;
esac
