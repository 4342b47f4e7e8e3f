# shellcheck shell=bash
# The console's checks: its dependencies from the npm registry (exactly the lockfile's), ESLint and
# Prettier (npm run lint), the type check and production build (API types generated from the Backend's OpenAPI document), the Vitest
# unit tests, and the end-to-end test in Debian's Chromium against a real `vox bridge`. Chromium is
# installed from Debian's packages when missing and running as root.

console_install() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "error: Node.js and npm are needed for the console (Debian: apt-get install nodejs npm)" >&2
        return 69
    fi
    if command -v chromium >/dev/null; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: chromium is missing; install it (Debian: apt-get install chromium) or run as root" >&2
        return 69
    fi
    echo "==> installing chromium from Debian's packages"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    command -v chromium >/dev/null || { echo "error: install of chromium failed" >&2; return 69; }
}

# The console's build, before the Rust tests: `vox up`'s end-to-end test checks it is served.
console_build() {
    echo "==> console: npm ci, lint (ESLint, Prettier), build"
    (
        cd console
        npm ci --no-audit --no-fund --loglevel=error
        npm run --silent lint
        npm run --silent build
    )
}

console_test() {
    echo "==> console: unit tests, end-to-end in Chromium"
    # target/debug/vox comes from scripts/test's one build of the tests and their binaries.
    [ -x target/debug/vox ] || { echo "error: target/debug/vox is not built (cargo test --workspace --no-run)" >&2; return 70; }
    [ -f console/dist/index.html ] || { echo "error: the console is not built (console_build)" >&2; return 70; }
    (
        cd console
        npm test --silent
        CHROMIUM="$(command -v chromium)" VOX_BIN="$PWD/../target/debug/vox" npm run --silent e2e
    )
}
