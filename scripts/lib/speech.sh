# shellcheck shell=bash
# The local speech tools the tests use: espeak-ng (the embedded default voice, and the speaker of
# the conversation tests). Installed from Debian's packages when missing and running as root.

speech_install() {
    if command -v espeak-ng >/dev/null; then return 0; fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: espeak-ng is missing; install it (Debian: apt-get install espeak-ng) or run as root" >&2
        return 69
    fi
    echo "==> installing espeak-ng from Debian's packages"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null
    command -v espeak-ng >/dev/null || { echo "error: espeak-ng install failed" >&2; return 69; }
}
