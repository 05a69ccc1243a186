#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the Jobs tests: Debian's server binaries, loopback only, a free
# port, password authentication (scram-sha-256), data in a temporary folder.
#
#   eval "$(Tests/Jobs/postgres.sh start)"   starts it; prints the exports the tests read:
#       DFGAZE_TEST_POSTGRES_URL=postgres://dfgaze@127.0.0.1:PORT/dfgaze_test
#       DFGAZE_JOBS_DATABASE_PASSWORD=...   DFGAZE_TEST_POSTGRES_DIR=...
#   Tests/Jobs/postgres.sh stop [DIR]        stops it and deletes its folder (DIR defaults to
#                                            $DFGAZE_TEST_POSTGRES_DIR)
# As root the server runs as the 'postgres' user (the Debian package creates it).
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x $bin/initdb ]] || { echo "postgres.sh: no PostgreSQL server (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
    dir=$(mktemp -d /tmp/dfgaze-pg.XXXXXX)
    chmod 755 "$dir"
    password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$password" >"$dir/pwfile"
    [[ $(id -u) -eq 0 ]] && chown -R postgres:postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U dfgaze --auth=scram-sha-256 --pwfile="$dir/pwfile" -E UTF8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pwfile"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    PGPASSWORD=$password "$bin/createdb" -h 127.0.0.1 -p "$port" -U dfgaze dfgaze_test
    echo "export DFGAZE_TEST_POSTGRES_URL=postgres://dfgaze@127.0.0.1:$port/dfgaze_test"
    echo "export DFGAZE_JOBS_DATABASE_PASSWORD=$password"
    echo "export DFGAZE_TEST_POSTGRES_DIR=$dir"
    ;;
stop)
    dir=${2:-${DFGAZE_TEST_POSTGRES_DIR:-}}
    [[ -n $dir && -d $dir/data ]] || exit 0
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
