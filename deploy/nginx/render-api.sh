#!/usr/bin/env bash
# Renders voxbridge-api.conf.template (the Backend API behind TLS) to standard output.
#   CERTIFICATE=/etc/ssl/vox.pem CERTIFICATE_KEY=/etc/ssl/vox.key [LISTEN=443] [SERVER_NAME=_] \
#   [UPSTREAM=127.0.0.1:8080] deploy/nginx/render-api.sh
# LISTEN is nginx's listen address ("443", "10.0.0.2:443"); UPSTREAM is where `vox bridge`
# listens (VOXBRIDGE_HOST:VOXBRIDGE_PORT). Exits 64 naming a bad value.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
certificate="${CERTIFICATE:-}"
key="${CERTIFICATE_KEY:-}"
listen="${LISTEN:-443}"
server_name="${SERVER_NAME:-_}"
upstream="${UPSTREAM:-127.0.0.1:8080}"

for name in CERTIFICATE CERTIFICATE_KEY; do
    value="${!name:-}"
    if [[ "$value" != /* ]]; then
        echo "render-api.sh: $name must be the absolute path of a PEM file, got '${value}'" >&2
        exit 64
    fi
done
host_port='^([-A-Za-z0-9.]+|\[[0-9A-Fa-f:]+\]):[0-9]+$'
if ! [[ "$upstream" =~ $host_port ]]; then
    echo "render-api.sh: UPSTREAM must be host:port where vox bridge listens, got '${upstream}'" >&2
    exit 64
fi
for value in "$listen" "$server_name" "$certificate" "$key"; do
    if [[ "$value" == *";"* || "$value" == *" ssl"* ]]; then
        echo "render-api.sh: LISTEN, SERVER_NAME and the certificate paths must not contain ';' or ' ssl', got '${value}'" >&2
        exit 64
    fi
done

while IFS= read -r line; do
    line="${line//@@LISTEN@@/$listen}"
    line="${line//@@SERVER_NAME@@/$server_name}"
    line="${line//@@CERTIFICATE@@/$certificate}"
    line="${line//@@CERTIFICATE_KEY@@/$key}"
    line="${line//@@UPSTREAM@@/$upstream}"
    printf '%s\n' "$line"
done < "$here/voxbridge-api.conf.template"
