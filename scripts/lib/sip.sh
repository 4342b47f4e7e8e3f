# shellcheck shell=bash
# The SIP software `vox sip`'s tests call and answer with: SIPp (Debian's `sip-tester`).
# Installed from Debian's packages when missing and running as root.

sip_install() {
    if command -v sipp >/dev/null; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: SIPp is missing; install it (Debian: apt-get install sip-tester) or run as root" >&2
        return 69
    fi
    echo "==> installing SIPp from Debian's packages"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sip-tester >/dev/null
    command -v sipp >/dev/null || { echo "error: install of sip-tester failed" >&2; return 69; }
}
