# shellcheck shell=bash
# A compilation cache shared by every checkout on this machine: sccache (Debian's package) wraps
# rustc and the C/C++ compilers CMake runs for llama.cpp and whisper.cpp, so a clean clone
# recompiles only what changed since any earlier build here. The cache lives in sccache's own
# directory (~/.cache/sccache, SCCACHE_DIR to move it), never in the checkout.
# VOX_BUILD_CACHE=off builds without it; a cache that cannot start is reported and skipped,
# never a failed build.

build_cache() {
    if [ "${VOX_BUILD_CACHE:-on}" = "off" ]; then
        echo "==> build cache off (VOX_BUILD_CACHE=off)"
        return 0
    fi
    if ! command -v sccache >/dev/null; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "note: sccache is not installed; building without a compilation cache (Debian: apt-get install sccache)" >&2
            return 0
        fi
        echo "==> installing sccache from Debian's packages"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sccache >/dev/null ||
            { echo "note: sccache did not install; building without a compilation cache" >&2; return 0; }
    fi
    # A server of vox's own (its port), so a server another project started with other
    # settings is never the one used; it stops by itself after ten idle minutes.
    export SCCACHE_SERVER_PORT="${SCCACHE_SERVER_PORT:-4231}"
    export SCCACHE_CACHE_SIZE="${SCCACHE_CACHE_SIZE:-12G}"
    if ! sccache --start-server >/dev/null 2>&1 && ! sccache --show-stats >/dev/null 2>&1; then
        echo "note: sccache's server did not start; building without a compilation cache" >&2
        return 0
    fi
    sccache --zero-stats >/dev/null 2>&1 || true
    export RUSTC_WRAPPER=sccache
    export CMAKE_C_COMPILER_LAUNCHER=sccache CMAKE_CXX_COMPILER_LAUNCHER=sccache
    echo "==> build cache: sccache (${SCCACHE_DIR:-~/.cache/sccache}, up to $SCCACHE_CACHE_SIZE)"
}

# One line of what the cache did for this build: compilations served from it, compiled and
# stored, and passed through (the workspace's own crates, compiled by clippy-driver).
build_cache_report() {
    [ "${RUSTC_WRAPPER:-}" = "sccache" ] || return 0
    sccache --show-stats 2>/dev/null | awk '
        /^Cache hits  / { hits = $NF }
        /^Cache misses  / { miss = $NF }
        /^Non-cacheable calls/ { pass = $NF }
        END { if (hits != "") printf "==> build cache: %s compilations from the cache, %s compiled into it, %s passed through\n", hits, miss, pass }'
}
