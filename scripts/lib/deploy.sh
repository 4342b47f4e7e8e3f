# shellcheck shell=bash
# What the deployment tests run for real: Debian's nginx and HAProxy (deploy/nginx, deploy/haproxy)
# and systemd-analyze (deploy/systemd), installed from Debian's packages when missing and running
# as root. The tests start their own instances on loopback; nothing is enabled or started here.

deploy_install() {
    local missing=()
    [ -x /usr/sbin/nginx ] || missing+=(nginx)
    [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
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
    for service in nginx haproxy; do
        if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
            systemctl stop "$service" || true
        fi
    done
}
