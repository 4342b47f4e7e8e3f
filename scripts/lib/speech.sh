# shellcheck shell=bash
# The local speech tools the build and the tests use: espeak-ng (the embedded default voice, and
# the speaker of the conversation tests), and cmake and clang, which build llama.cpp from the
# llama-cpp-2 crate's vendored sources. Installed from Debian's packages when missing and running
# as root.

speech_install() {
    if command -v espeak-ng >/dev/null && command -v cmake >/dev/null && [ -n "$(ls /usr/lib/llvm-*/lib/libclang*.so* 2>/dev/null)" ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: espeak-ng, cmake or libclang is missing; install them (Debian: apt-get install espeak-ng cmake clang libclang-dev) or run as root" >&2
        return 69
    fi
    echo "==> installing espeak-ng, cmake and clang from Debian's packages"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng cmake clang libclang-dev >/dev/null
    command -v espeak-ng >/dev/null && command -v cmake >/dev/null || { echo "error: install of espeak-ng, cmake, clang failed" >&2; return 69; }
}
