#!/usr/bin/env bash
# Renders haproxy.cfg.template to standard output from a fleets file (one "name address" a line).
#   FLEETS_FILE=/etc/haproxy/vox-fleets.txt [BIND=":443 ssl crt /etc/haproxy/certs/"] [MAXCONN=10000] deploy/haproxy/render.sh
# Exits 64 naming a bad line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fleets_file="${FLEETS_FILE:-/etc/haproxy/vox-fleets.txt}"
bind="${BIND:-:80}"
global_extra="${GLOBAL_EXTRA:-}"
maxconn="${MAXCONN:-10000}"
if ! [[ "$maxconn" =~ ^[1-9][0-9]*$ ]]; then
    echo "render.sh: MAXCONN must be a whole number, got '$maxconn'" >&2
    exit 64
fi

if [ ! -r "$fleets_file" ]; then
    echo "render.sh: the fleets file $fleets_file cannot be read (FLEETS_FILE names it)" >&2
    exit 64
fi

routes=""
servers=""
backends=""
count=0
line_no=0
declare -A seen=()
while IFS= read -r line || [ -n "$line" ]; do
    line_no=$((line_no + 1))
    line="${line%%#*}"
    read -r name address extra <<< "$line" || true
    [ -z "${name:-}" ] && continue
    if [ -n "${extra:-}" ] || [ -z "${address:-}" ]; then
        echo "render.sh: $fleets_file line $line_no: want \"name address\", got \"$line\"" >&2
        exit 64
    fi
    if ! [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]]; then
        echo "render.sh: $fleets_file line $line_no: fleet name \"$name\" may hold only letters, digits, '-' and '_'" >&2
        exit 64
    fi
    if ! [[ "$address" =~ ^[A-Za-z0-9.-]+:[0-9]{1,5}$ ]]; then
        echo "render.sh: $fleets_file line $line_no: address \"$address\" must be host:port" >&2
        exit 64
    fi
    if [ -n "${seen[$name]:-}" ]; then
        echo "render.sh: $fleets_file line $line_no: fleet \"$name\" is listed twice" >&2
        exit 64
    fi
    seen[$name]=1
    count=$((count + 1))
    routes+="    use_backend fleet_${name} if { path_beg /f/${name}/ }"$'\n'
    servers+="    server ${name} ${address} check inter 5s"$'\n'
    backends+="backend fleet_${name}"$'\n'
    backends+="    option httpchk GET /health/fleet"$'\n'
    backends+="    http-request replace-path /f/${name}(/.*) \\1"$'\n'
    backends+="    server ${name} ${address} check inter 5s"$'\n'$'\n'
done < "$fleets_file"

if [ "$count" -eq 0 ]; then
    echo "render.sh: $fleets_file lists no fleet" >&2
    exit 64
fi

while IFS= read -r line; do
    case "$line" in
        "@@FLEET_ROUTES@@") printf '%s' "$routes" ;;
        "@@ALL_FLEET_SERVERS@@") printf '%s' "$servers" ;;
        "@@FLEET_BACKENDS@@") printf '%s' "$backends" ;;
        "@@GLOBAL_EXTRA@@") [ -n "$global_extra" ] && printf '    %s\n' "$global_extra" ;;
        *)
            line="${line//@@BIND@@/$bind}"
            printf '%s\n' "${line//@@MAXCONN@@/$maxconn}"
            ;;
    esac
done < "$here/haproxy.cfg.template"
