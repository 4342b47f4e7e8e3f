#!/usr/bin/env bash
# Puts SERVICE back on the version it ran before its last install, and checks its health.
#
#   deploy/rollback.sh SERVICE      (voxbridge voxcore voxdialler voxsip)
#
# <service>/current and <service>/previous swap, the service restarts and `vox check` must pass
# (deploy/lib.sh). The database is not migrated back: migrations are forward-compatible, so the
# earlier release runs on it. Exit status: 0 rolled back and healthy; 1 no earlier version (nothing
# changed) or the earlier version fails its health check; 64 bad input.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=deploy/lib.sh
. "$here/lib.sh"

[ "$#" -eq 1 ] || usage_error "usage: deploy/rollback.sh SERVICE (services: ${SERVICES[*]})"
service="$1"
check_service_name "$service"
now="$(linked_version "$service" current)"
before="$(linked_version "$service" previous)"
if [ -z "$before" ] || [ ! -d "$VOX_ROOT/releases/$before" ]; then
    echo "error: $service has no earlier version to roll back to (it runs ${now:-nothing}); nothing changed" >&2
    exit 1
fi
point "$service" current "$before"
[ -n "$now" ] && point "$service" previous "$now"
echo "==> $service: rolling back from ${now:-nothing} to $before"
if restart "$service" && healthy "$service"; then
    echo "==> $service runs $before, and its health check passed"
else
    echo "error: $service on $before does not pass its health check" >&2
    exit 1
fi
