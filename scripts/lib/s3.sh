# shellcheck shell=bash
# Throwaway S3-compatible server for tests: moto's server (PyPI) on a free loopback port.
# Source this file, then call `s3_start`; it exports VOX_TEST_S3_ENDPOINT. `s3_stop` ends it.

# The moto_server to run: one on PATH, else one installed into a virtualenv under target/.
moto_command() {
    if command -v moto_server >/dev/null 2>&1; then
        command -v moto_server
        return 0
    fi
    local venv="${CARGO_TARGET_DIR:-target}/moto-venv"
    if [ ! -x "$venv/bin/moto_server" ]; then
        echo "==> installing moto[server] from PyPI into $venv (the S3 test server)" >&2
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
                apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            fi
            rm -rf "$venv"
            python3 -m venv "$venv" >/dev/null || { echo "error: cannot create a Python virtualenv (install python3-venv)" >&2; return 69; }
        fi
        "$venv/bin/pip" install --quiet 'moto[server]==5.*' >/dev/null || { echo "error: pip install moto[server] failed" >&2; return 69; }
    fi
    echo "$venv/bin/moto_server"
}

s3_start() {
    local moto
    moto=$(moto_command) || return $?
    local port
    port=$(free_port)
    S3_LOG=$(mktemp /tmp/vox-s3.XXXXXX.log)
    "$moto" -H 127.0.0.1 -p "$port" >"$S3_LOG" 2>&1 &
    S3_PID=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            export VOX_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
            echo "==> S3 test server (moto) on 127.0.0.1:$port"
            return 0
        fi
        sleep 0.1
    done
    cat "$S3_LOG" >&2
    echo "error: the S3 test server did not start" >&2
    return 70
}

s3_stop() {
    [ -n "${S3_PID:-}" ] || return 0
    kill "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
    rm -f "${S3_LOG:-}"
    S3_PID=""
}
