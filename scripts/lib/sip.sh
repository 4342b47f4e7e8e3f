# shellcheck shell=bash
# The SIP software `vox sip`'s tests call and answer with: SIPp (Debian's `sip-tester`), Kamailio
# (a registrar and proxy with digest auth), baresip (a softphone playing and recording audio, in
# a network namespace made with iproute2's `ip netns`).
# Installed from Debian's packages when missing and running as root.

sip_install() {
    local missing=()
    command -v sipp >/dev/null || missing+=(sip-tester)
    command -v kamailio >/dev/null || [ -x /usr/sbin/kamailio ] || missing+=(kamailio)
    command -v baresip >/dev/null || missing+=(baresip-core)
    # baresip's tests run it in a network namespace (ip netns).
    command -v ip >/dev/null || missing+=(iproute2)
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: ${missing[*]} missing; install them (Debian: apt-get install ${missing[*]}) or run as root" >&2
        return 69
    fi
    echo "==> installing ${missing[*]} from Debian's packages"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    command -v sipp >/dev/null && [ -x /usr/sbin/kamailio ] && command -v baresip >/dev/null && command -v ip >/dev/null \
        || { echo "error: install of ${missing[*]} failed" >&2; return 69; }
}
