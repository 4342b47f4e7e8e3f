#!/usr/bin/env bash
# Adds a fleet host to the ingress, config only: appends it to the fleets file, renders the
# configuration, checks it with `haproxy -c`, installs it and reloads HAProxy. Nothing changes when
# any step fails (the fleets file and the installed configuration are restored).
#   deploy/haproxy/add-fleet.sh NAME HOST:PORT
# Settings: FLEETS_FILE (/etc/haproxy/vox-fleets.txt), HAPROXY_CFG (/etc/haproxy/haproxy.cfg),
# RELOAD (the reload command, default "systemctl reload haproxy"), BIND, MAXCONN and GLOBAL_EXTRA as render.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$#" -ne 2 ]; then
    echo "usage: add-fleet.sh NAME HOST:PORT" >&2
    exit 64
fi
name="$1"
address="$2"
fleets_file="${FLEETS_FILE:-/etc/haproxy/vox-fleets.txt}"
config="${HAPROXY_CFG:-/etc/haproxy/haproxy.cfg}"
reload="${RELOAD:-systemctl reload haproxy}"
haproxy="$(command -v haproxy || echo /usr/sbin/haproxy)"

if ! [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]]; then
    echo "add-fleet.sh: fleet name \"$name\" may hold only letters, digits, '-' and '_'" >&2
    exit 64
fi
if ! [[ "$address" =~ ^[A-Za-z0-9.-]+:[0-9]{1,5}$ ]]; then
    echo "add-fleet.sh: address \"$address\" must be host:port (the fleet host's nginx)" >&2
    exit 64
fi

if [ -f "$fleets_file" ] && awk -v n="$name" '{sub(/#.*/, "")} $1 == n {found = 1} END {exit !found}' "$fleets_file"; then
    echo "add-fleet.sh: fleet \"$name\" is already in $fleets_file" >&2
    exit 64
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -f "$fleets_file" ]; then cp "$fleets_file" "$work/fleets.txt"; else : > "$work/fleets.txt"; fi
printf '%s %s\n' "$name" "$address" >> "$work/fleets.txt"
# render.sh validates the name and the address (exit 64 naming them).
FLEETS_FILE="$work/fleets.txt" "$here/render.sh" > "$work/haproxy.cfg"
if ! "$haproxy" -c -q -f "$work/haproxy.cfg"; then
    echo "add-fleet.sh: the rendered configuration does not pass haproxy -c; nothing changed" >&2
    exit 65
fi
[ -f "$config" ] && cp "$config" "$work/previous.cfg"
cp "$work/haproxy.cfg" "$config"
if ! sh -c "$reload"; then
    echo "add-fleet.sh: reloading HAProxy failed; the previous configuration is back" >&2
    if [ -f "$work/previous.cfg" ]; then cp "$work/previous.cfg" "$config"; fi
    exit 70
fi
cp "$work/fleets.txt" "$fleets_file"
echo "fleet $name ($address) added; list https://<ingress>/f/$name in the Backend's fleets and the dialler's FLEET_URLS"
