# shellcheck shell=bash
# Throwaway S3-compatible server for tests: moto's server (PyPI) on a free loopback port.
# Source this file, then call `s3_start`; it exports VOX_TEST_S3_ENDPOINT. `s3_stop` ends it.

s3_start() {
    if ! command -v moto_server >/dev/null 2>&1; then
        command -v pip3 >/dev/null 2>&1 || { echo "error: moto_server is missing and there is no pip3 to install it" >&2; return 69; }
        echo "==> installing moto[server] from PyPI (the S3 test server)"
        pip3 install --quiet 'moto[server]==5.*' >/dev/null || { echo "error: pip3 install moto[server] failed" >&2; return 69; }
        hash -r
    fi
    local port
    port=$(free_port)
    S3_LOG=$(mktemp /tmp/vox-s3.XXXXXX.log)
    moto_server -H 127.0.0.1 -p "$port" >"$S3_LOG" 2>&1 &
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
