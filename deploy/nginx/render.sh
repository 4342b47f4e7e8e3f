#!/usr/bin/env bash
# Renders voxcore-fleet.conf.template for a fleet host to standard output.
#   WORKERS=16 [LISTEN=80] [SERVER_NAME=_] [SOCKET_PATTERN=/run/vox/voxcore_%i.sock] deploy/nginx/render.sh
# LISTEN is nginx's listen argument ("443 ssl", "127.0.0.1:8091"); %i in SOCKET_PATTERN is the
# worker's index, as in voxcore@%i.service. ADDRESS_PATTERN (host:port with %i, e.g.
# voxcore-%i:8091) puts the workers on TCP instead of Unix sockets: the compose file's phase 2
# (deploy/compose/phase2-nginx.conf is rendered so). Exits 64 naming a bad value.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
workers="${WORKERS:-}"
listen="${LISTEN:-80}"
server_name="${SERVER_NAME:-_}"
pattern="${SOCKET_PATTERN:-/run/vox/voxcore_%i.sock}"
address="${ADDRESS_PATTERN:-}"

if ! [[ "$workers" =~ ^[1-9][0-9]*$ ]]; then
    echo "render.sh: WORKERS must be a whole number of workers (1 or more), got '${workers}'" >&2
    exit 64
fi
if [[ "$pattern" != *%i* ]]; then
    echo "render.sh: SOCKET_PATTERN must contain %i (the worker index), got '${pattern}'" >&2
    exit 64
fi
if [ -n "$address" ] && ! [[ "$address" =~ ^[A-Za-z0-9._%-]+:[0-9]+$ && "$address" == *%i* ]]; then
    echo "render.sh: ADDRESS_PATTERN must be host:port containing %i (the worker index), got '${address}'" >&2
    exit 64
fi
if [[ "$listen" == *";"* || "$server_name" == *";"* ]]; then
    echo "render.sh: LISTEN and SERVER_NAME must not contain ';'" >&2
    exit 64
fi

upstream=""
routes=""
for i in $(seq 1 "$workers"); do
    if [ -n "$address" ]; then
        server="${address//%i/$i}"
        target="http://${server}/"
    else
        server="unix:${pattern//%i/$i}"
        target="http://${server}:/"
    fi
    upstream+="    server ${server} max_conns=1 max_fails=0;"$'\n'
    routes+="    location /w/${i}/ {"$'\n'
    routes+="        proxy_pass ${target};"$'\n'
    routes+="        proxy_http_version 1.1;"$'\n'
    routes+="        proxy_set_header Upgrade \$http_upgrade;"$'\n'
    routes+="        proxy_set_header Connection \$connection_upgrade;"$'\n'
    routes+="        proxy_read_timeout 3600s;"$'\n'
    routes+="        proxy_send_timeout 3600s;"$'\n'
    routes+="    }"$'\n'
done

while IFS= read -r line; do
    case "$line" in
        "@@UPSTREAM_SERVERS@@") printf '%s' "$upstream" ;;
        "@@WORKER_ROUTES@@") printf '%s' "$routes" ;;
        *)
            line="${line//@@LISTEN@@/$listen}"
            line="${line//@@SERVER_NAME@@/$server_name}"
            line="${line//@@WORKERS@@/$workers}"
            printf '%s\n' "$line"
            ;;
    esac
done < "$here/voxcore-fleet.conf.template"
