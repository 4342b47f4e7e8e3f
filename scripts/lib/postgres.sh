# shellcheck shell=bash
# Throwaway PostgreSQL for tests and benchmarks: installs it when missing (as root, from Debian's
# packages), starts a cluster in a temporary folder on a free loopback port, and stops it on exit.
# Source this file, then call `pg_start`; it exports VOX_TEST_DATABASE_URL.

pg_bin_dir() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    return 1
}

pg_install() {
    if pg_bin_dir >/dev/null; then return 0; fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: PostgreSQL server binaries are missing; install them (Debian: apt-get install postgresql) or run as root" >&2
        return 69
    fi
    echo "==> installing PostgreSQL from Debian's packages"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pg_bin_dir >/dev/null || { echo "error: PostgreSQL install failed" >&2; return 69; }
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local port attempt
    for attempt in $(seq 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
    done
    echo "error: no free loopback port found after $attempt tries" >&2
    return 1
}

# Runs a command as the cluster's owner: root cannot run postgres itself.
pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_stop() {
    [ -n "${PG_DIR:-}" ] || return 0
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=""
}

pg_start() {
    pg_install || return $?
    PG_BIN=$(pg_bin_dir)
    PG_DIR=$(mktemp -d /tmp/vox-pg.XXXXXX)
    chmod 755 "$PG_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
    local port user
    port=$(free_port)
    user=$(if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi)
    pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$user" --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; return 70; }
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c max_connections=300 -c shared_buffers=256MB" \
        start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 70; }
    export VOX_TEST_DATABASE_URL="postgres://$user@127.0.0.1:$port/postgres"
    echo "==> PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $PG_DIR)"
}
