#!/bin/sh
# pg.sh -- a throwaway PostgreSQL cluster for tests and the local stack.
#   pg.sh start DIR PORT   initialise (if needed) and start; prints the DSN
#   pg.sh stop DIR         fast shutdown; a pid file whose server is gone
#                          (killed with -9) is removed
# The cluster listens on 127.0.0.1 only, trusts local connections, and
# trades durability for speed (fsync off): it holds nothing worth keeping.
set -eu
cmd=$1
dir=$(realpath -m "$2")
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$PGBIN" ] || { echo "pg.sh: PostgreSQL server not installed (run scripts/deps.sh)" >&2; exit 1; }

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
    port=$3
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        mkdir -p "$dir"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
        as_owner "$PGBIN/initdb" -D "$dir/data" -A trust -U herald -E UTF8 \
            --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    psql -q "postgresql://herald@127.0.0.1:$port/postgres" -tAc \
        "select 1 from pg_database where datname='herald'" | grep -q 1 ||
        psql -q "postgresql://herald@127.0.0.1:$port/postgres" -c "create database herald" >/dev/null
    echo "postgresql://herald@127.0.0.1:$port/herald"
    ;;
stop)
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    # gone, or a zombie nobody reaped (a container's init may not)
    pid=$(head -n 1 "$dir/data/postmaster.pid")
    state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
    if [ -z "$state" ] || [ "$state" = Z ] ||
        ! as_owner "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        rm -f "$dir/data/postmaster.pid"
        exit 0
    fi
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
    ;;
*)
    echo "usage: pg.sh start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
