# shellcheck shell=bash
# What deploy/install.sh and deploy/rollback.sh share: the layout, the service names, restarting
# a service and checking its health.
#
# Layout (VOX_ROOT, /opt/vox by default):
#   releases/<VERSION>/bin/vox …     one directory per installed version, never changed once made
#   <service>/current -> ../releases/<VERSION>    what the service's systemd units run
#   <service>/previous -> ../releases/<VERSION>   what it ran before, for a rollback
# Services: voxbridge (voxbridge.service and its cleanup), voxcore (every voxcore@N), voxdialler
# (voxdialler.service and its health check), voxsip. Each one has its own links, so rolling one
# back leaves the others where they are.
#
# Settings (environment):
#   VOX_ROOT                 the layout's root (/opt/vox)
#   VOX_ETC                  where the services' env files are (/etc/vox): <service>.env, and
#                            voxcheck.env for `vox check`
#   VOX_DEPLOY_RESTART       a command run as `$VOX_DEPLOY_RESTART SERVICE` instead of systemctl
#                            (a host without systemd; the tests)
#   VOX_DEPLOY_CHECK_SECONDS how long a restarted service has to pass `vox check` (30)

VOX_ROOT="${VOX_ROOT:-/opt/vox}"
VOX_ETC="${VOX_ETC:-/etc/vox}"
VOX_DEPLOY_CHECK_SECONDS="${VOX_DEPLOY_CHECK_SECONDS:-30}"
SERVICES=(voxbridge voxcore voxdialler voxsip)

# Exit 64 (EX_USAGE) with a message: bad input changes nothing.
usage_error() {
    echo "error: $*" >&2
    exit 64
}

check_service_name() {
    local name="$1" known
    for known in "${SERVICES[@]}"; do
        [ "$name" = "$known" ] && return 0
    done
    usage_error "unknown service '$name' (one of: ${SERVICES[*]})"
}

check_version_name() {
    [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$ ]] ||
        usage_error "'$1' is not a version name (letters, digits, '.', '_', '+', '-'; 64 at most)"
}

# The version a service's link points at, or nothing.
linked_version() {
    local link="$VOX_ROOT/$1/$2"
    [ -L "$link" ] || return 0
    basename "$(readlink "$link")"
}

# Points <service>/<link> at releases/<version>, atomically (a new link renamed over the old).
point() {
    local service="$1" link="$2" version="$3"
    mkdir -p "$VOX_ROOT/$service"
    ln -sfn "../releases/$version" "$VOX_ROOT/$service/.$link.new"
    mv -Tf "$VOX_ROOT/$service/.$link.new" "$VOX_ROOT/$service/$link"
}

# Restarts every unit of a service.
restart() {
    local service="$1"
    if [ -n "${VOX_DEPLOY_RESTART:-}" ]; then
        $VOX_DEPLOY_RESTART "$service"
        return
    fi
    case "$service" in
        voxcore) systemctl restart 'voxcore@*' ;;
        *) systemctl restart "$service" ;;
    esac
}

# Runs the service's current binary with the env file `name` loaded (when there is one).
with_env() {
    local file="$VOX_ETC/$1"
    shift
    (
        if [ -f "$file" ]; then
            set -a
            # shellcheck disable=SC1090
            . "$file"
            set +a
        fi
        exec "$@"
    )
}

# `vox check` with voxcheck.env until it passes or VOX_DEPLOY_CHECK_SECONDS are over: what that
# file names (the Backend's VOXBRIDGE_URL, the fleets' FLEET_URLS), the dialler only when it is the
# service deployed, and `vox sip` when it is.
healthy() {
    local service="$1" waited=0
    local vox="$VOX_ROOT/$service/current/bin/vox"
    local flags=()
    case "$service" in
        voxdialler) ;;
        voxsip) flags=(--skip-dialler --sip) ;;
        *) flags=(--skip-dialler) ;;
    esac
    while true; do
        if with_env voxcheck.env "$vox" check "${flags[@]}" >/dev/null 2>"$VOX_ROOT/$service/.check.log"; then
            return 0
        fi
        if [ "$waited" -ge "$VOX_DEPLOY_CHECK_SECONDS" ]; then
            sed 's/^/    /' "$VOX_ROOT/$service/.check.log" >&2
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
}
