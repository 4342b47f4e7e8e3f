#!/usr/bin/env bash
# Installs release VERSION for each SERVICE and rolls a service back when its health check fails.
#
#   deploy/install.sh VERSION SERVICE…      (services: voxbridge voxcore voxdialler voxsip)
#
# The seeds' deploy step (check out, install, restart systemd, health check, roll back) for one
# vox binary: the release's files are copied once into $VOX_ROOT/releases/VERSION (from
# VOX_BUILD_DIR, target/release by default: vox, and vox-whisper and vox-llm when built; and the
# console's build from VOX_CONSOLE_DIST, console/dist by default, into console/, which the API
# host's nginx serves), then, one service at a time:
#   1. voxbridge only: `vox migrate` of the new release with voxbridge.env (migrations are
#      forward-compatible: the release before still runs on the migrated database);
#   2. <service>/previous becomes what ran, <service>/current the new release;
#   3. the service restarts (systemctl, or $VOX_DEPLOY_RESTART);
#   4. `vox check` must pass within VOX_DEPLOY_CHECK_SECONDS;
#   5. if it does not, current goes back to previous, the service restarts on it and is checked
#      again, and the script exits 1 naming the service (the services after it are not touched).
# Exit status: 0 installed; 1 a service was rolled back (or could not be); 64 bad input, nothing
# changed. See deploy/lib.sh for the layout and the settings.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=deploy/lib.sh
. "$here/lib.sh"

[ "$#" -ge 2 ] || usage_error "usage: deploy/install.sh VERSION SERVICE… (services: ${SERVICES[*]})"
version="$1"
shift
check_version_name "$version"
for service in "$@"; do check_service_name "$service"; done
build="${VOX_BUILD_DIR:-target/release}"
release="$VOX_ROOT/releases/$version"
if [ ! -d "$release" ]; then
    [ -x "$build/vox" ] || usage_error "no vox binary in $build (VOX_BUILD_DIR): build the release first"
    mkdir -p "$VOX_ROOT/releases"
    staging="$(mktemp -d "$VOX_ROOT/releases/.$version.XXXXXX")"
    mkdir -p "$staging/bin"
    for binary in vox vox-whisper vox-llm; do
        if [ -x "$build/$binary" ]; then cp "$build/$binary" "$staging/bin/"; fi
    done
    console="${VOX_CONSOLE_DIST:-console/dist}"
    if [ -f "$console/index.html" ]; then cp -R "$console" "$staging/console"; fi
    chmod 0755 "$staging"
    mv -T "$staging" "$release"
    echo "==> release $version installed in $release"
fi

for service in "$@"; do
    was="$(linked_version "$service" current)"
    if [ "$was" = "$version" ]; then
        echo "==> $service already runs $version"
        continue
    fi
    if [ "$service" = voxbridge ]; then
        echo "==> $service: migrating the database with $version"
        with_env voxbridge.env "$release/bin/vox" migrate ||
            { echo "error: $version's migration failed; $service still runs ${was:-nothing}" >&2; exit 1; }
    fi
    [ -n "$was" ] && point "$service" previous "$was"
    point "$service" current "$version"
    echo "==> $service: restarting on $version"
    if restart "$service" && healthy "$service"; then
        echo "==> $service runs $version (was ${was:-nothing}), and its health check passed"
        continue
    fi
    echo "error: $service failed its health check on $version" >&2
    if [ -z "$was" ]; then
        echo "error: $service had no earlier version to go back to" >&2
        exit 1
    fi
    point "$service" current "$was"
    echo "==> $service: rolling back to $was" >&2
    if restart "$service" && healthy "$service"; then
        echo "error: $service was rolled back to $was, which passed its health check" >&2
    else
        echo "error: $service was rolled back to $was, which does not pass its health check either" >&2
    fi
    exit 1
done
