#!/usr/bin/env bash
# Renders voxbridge-api.conf.template (the Backend API behind TLS) to standard output.
#   CERTIFICATE=/etc/ssl/vox.pem CERTIFICATE_KEY=/etc/ssl/vox.key [LISTEN=443] [SERVER_NAME=_] \
#   [UPSTREAM=127.0.0.1:8080] [CONSOLE_DIR=/opt/vox/voxbridge/current/console] deploy/nginx/render-api.sh
# LISTEN is nginx's listen address ("443", "10.0.0.2:443"); UPSTREAM is where `vox bridge`
# listens (VOXBRIDGE_HOST:VOXBRIDGE_PORT); CONSOLE_DIR is the console's build (deploy/install.sh
# puts it in each release). Exits 64 naming a bad value.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
certificate="${CERTIFICATE:-}"
key="${CERTIFICATE_KEY:-}"
listen="${LISTEN:-443}"
server_name="${SERVER_NAME:-_}"
upstream="${UPSTREAM:-127.0.0.1:8080}"
console="${CONSOLE_DIR:-/opt/vox/voxbridge/current/console}"

for name in CERTIFICATE CERTIFICATE_KEY CONSOLE_DIR; do
    value="${!name:-}"
    [ "$name" = CONSOLE_DIR ] && value="$console"
    if [[ "$value" != /* ]]; then
        echo "render-api.sh: $name must be an absolute path, got '${value}'" >&2
        exit 64
    fi
done
host_port='^([-A-Za-z0-9.]+|\[[0-9A-Fa-f:]+\]):[0-9]+$'
if ! [[ "$upstream" =~ $host_port ]]; then
    echo "render-api.sh: UPSTREAM must be host:port where vox bridge listens, got '${upstream}'" >&2
    exit 64
fi
for value in "$listen" "$server_name" "$certificate" "$key" "$console"; do
    if [[ "$value" == *";"* || "$value" == *" ssl"* || "$value" == *" "* && "$value" != "$listen" ]]; then
        echo "render-api.sh: LISTEN, SERVER_NAME, CONSOLE_DIR and the certificate paths must not contain ';', spaces or ' ssl', got '${value}'" >&2
        exit 64
    fi
done

while IFS= read -r line; do
    line="${line//@@LISTEN@@/$listen}"
    line="${line//@@SERVER_NAME@@/$server_name}"
    line="${line//@@CERTIFICATE@@/$certificate}"
    line="${line//@@CERTIFICATE_KEY@@/$key}"
    line="${line//@@UPSTREAM@@/$upstream}"
    line="${line//@@CONSOLE_DIR@@/$console}"
    printf '%s\n' "$line"
done < "$here/voxbridge-api.conf.template"
