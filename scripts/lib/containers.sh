# shellcheck shell=bash
# The container image and the compose file, for real: podman (Debian's, with runc) builds the
# Dockerfile from a locally made Debian base (debootstrap, then `podman import`: Docker Hub cannot be
# reached) with the binaries and console this test run built (BINARIES=prebuilt), builds the
# dependencies' images from Debian's packages (tests/containers), brings deploy/compose up with
# docker-compose over podman's Docker API, runs a demo campaign through it to completed calls, and
# takes it down. Skipped, saying why, when no engine can run: not root and no podman.
#
# Podman schedules containers' health checks with systemd timers, and these machines run no
# systemd: while the compose file is up, a loop here runs each container's check every 2 s, as the
# timer would (compose waits on `service_healthy`).

CONTAINERS_DIR="${CARGO_TARGET_DIR:-$PWD/target}/containers"
CONTAINERS_BASE=localhost/vox-base:bookworm
CONTAINERS_PROJECT=voxtest
export CONTAINERS_CONF="$PWD/tests/containers/containers.conf"

# podman, runc and debootstrap from Debian's packages; false (with the reason said) when they
# cannot be had.
containers_install() {
    local missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    # Compose's services find each other by name: podman's CNI networks need the dnsname plugin,
    # which Debian's podman only recommends (a fresh machine without it cannot resolve `postgres`).
    [ -x /usr/lib/cni/dnsname ] || missing+=(golang-github-containernetworking-plugin-dnsname)
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "==> containers: SKIPPED: ${missing[*]} missing and not root to install them (Debian: apt-get install ${missing[*]})"
        return 1
    fi
    echo "==> installing ${missing[*]} from Debian's packages"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" uidmap slirp4netns fuse-overlayfs >/dev/null
}

# The base image: Debian bookworm (minbase) made here, kept in podman's storage between runs.
containers_base() {
    if podman image exists "$CONTAINERS_BASE"; then
        return 0
    fi
    echo "==> making the base image $CONTAINERS_BASE (debootstrap bookworm)"
    local rootfs="$CONTAINERS_DIR/rootfs"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$CONTAINERS_DIR/debootstrap.log" 2>&1 \
        || { tail -20 "$CONTAINERS_DIR/debootstrap.log" >&2; return 1; }
    tar -C "$rootfs" -c . | podman import --quiet - "$CONTAINERS_BASE" >/dev/null
    rm -rf "$rootfs"
}

# The dependencies' images (PostgreSQL, Redis, moto for S3) and vox's, from this run's build.
containers_images() {
    podman build --quiet --build-arg BASE="$CONTAINERS_BASE" -t localhost/vox-test-postgres tests/containers/postgres >/dev/null
    podman build --quiet --build-arg BASE="$CONTAINERS_BASE" -t localhost/vox-test-redis tests/containers/redis >/dev/null
    podman build --quiet --build-arg BASE="$CONTAINERS_BASE" -t localhost/vox-test-nginx tests/containers/nginx >/dev/null
    local s3="$CONTAINERS_DIR/s3"
    if [ ! -d "$s3/wheels" ]; then
        mkdir -p "$s3/wheels"
        python3 -m pip download --quiet -d "$s3/wheels" 'moto[server]==5.*'
    fi
    podman build --quiet --build-arg BASE="$CONTAINERS_BASE" -f tests/containers/s3/Containerfile -t localhost/vox-test-s3 "$s3" >/dev/null
    # vox's image from the binaries and console this run built: nothing compiles in a container.
    local context="$CONTAINERS_DIR/vox"
    rm -rf "$context"
    mkdir -p "$context/prebuilt/bin"
    local binary
    for binary in vox vox-whisper vox-llm; do
        ln -f "${CARGO_TARGET_DIR:-target}/debug/$binary" "$context/prebuilt/bin/$binary" 2>/dev/null \
            || cp "${CARGO_TARGET_DIR:-target}/debug/$binary" "$context/prebuilt/bin/$binary"
    done
    cp -r console/dist "$context/prebuilt/console"
    echo "==> building the image from the Dockerfile (BASE=$CONTAINERS_BASE, BINARIES=prebuilt)"
    podman build --quiet --build-arg BASE="$CONTAINERS_BASE" --build-arg BINARIES=prebuilt -f Dockerfile -t localhost/vox:test "$context" >/dev/null
    rm -rf "$context"
}

CONTAINERS_COMPOSE=(docker-compose -p "$CONTAINERS_PROJECT" -f deploy/compose/docker-compose.yml -f tests/containers/compose.test.yml)

containers_compose() {
    "${CONTAINERS_COMPOSE[@]}" "$@"
}

containers_stop() {
    [ -n "${CONTAINERS_API_PID:-}" ] || return 0
    containers_compose down -v --timeout 30 >/dev/null 2>&1 || true
    kill "$CONTAINERS_HEALTH_PID" "$CONTAINERS_API_PID" 2>/dev/null || true
    rm -rf "${CONTAINERS_SOCKET_DIR:-}"
    CONTAINERS_HEALTH_PID=
    CONTAINERS_API_PID=
}

# One shape of the compose file up, the demo campaign through it, and down again.
containers_phase() {
    local phase="$1" port="$2" status=0
    export COMPOSE_PROFILES="$phase,local-stt"
    containers_compose down -v >/dev/null 2>&1 || true
    case "$phase" in
        phase1) echo "==> compose up ($phase, podman): PostgreSQL, Redis, an S3 store, the Backend, the STT sidecar, a worker and the dialler" ;;
        phase2) echo "==> compose up ($phase, podman): the same with four single-call workers behind nginx (max_conns=1)" ;;
    esac
    if ! timeout 300 "${CONTAINERS_COMPOSE[@]}" up -d >"$CONTAINERS_DIR/compose-up.log" 2>&1; then
        tail -20 "$CONTAINERS_DIR/compose-up.log" >&2
        status=1
    fi
    if [ "$status" -eq 0 ]; then
        python3 tests/containers/demo.py --backend "http://127.0.0.1:$port" --project "$CONTAINERS_PROJECT" || status=$?
    fi
    if [ "$status" -ne 0 ]; then
        podman ps -a --format '{{.Names}} {{.Status}}' >&2
        local name
        for name in $(podman ps -a --format '{{.Names}}' --filter "label=com.docker.compose.project=$CONTAINERS_PROJECT"); do
            echo "--- ${name}'s log (last 15 lines) ---" >&2
            podman logs --tail 15 "$name" >&2 2>&1 || true
        done
    fi
    echo "==> compose down ($phase)"
    if ! timeout 120 "${CONTAINERS_COMPOSE[@]}" down -v --timeout 30 >"$CONTAINERS_DIR/compose-down.log" 2>&1; then
        tail -20 "$CONTAINERS_DIR/compose-down.log" >&2
        status=1
    fi
    if [ -n "$(podman ps --all --quiet --filter "label=com.docker.compose.project=$CONTAINERS_PROJECT")" ]; then
        echo "error: compose down left containers behind:" >&2
        podman ps --all --filter "label=com.docker.compose.project=$CONTAINERS_PROJECT" >&2
        status=1
    fi
    return "$status"
}

containers_test() {
    containers_install || return 0
    mkdir -p "$CONTAINERS_DIR"
    containers_base
    containers_images
    # podman's Docker API for docker-compose, and the health checks systemd would run.
    # Under /tmp: a Unix socket's path has at most 107 bytes, which a deep checkout can pass.
    CONTAINERS_SOCKET_DIR=$(mktemp -d /tmp/vox-podman.XXXXXX)
    local socket="$CONTAINERS_SOCKET_DIR/podman.sock"
    podman system service --time=0 "unix://$socket" >"$CONTAINERS_DIR/podman-service.log" 2>&1 &
    CONTAINERS_API_PID=$!
    # A check that fails (a service still starting) must not end the loop under `set -e`.
    (set +e
    while true; do
        for id in $(podman ps --quiet 2>/dev/null); do
            podman healthcheck run "$id" >/dev/null 2>&1 || true
        done
        sleep 2
    done) &
    CONTAINERS_HEALTH_PID=$!
    export DOCKER_HOST="unix://$socket"
    for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.1; done
    local port media
    port=$(free_port)
    media=$(free_port)
    export VOX_IMAGE=localhost/vox:test VOXBRIDGE_HOST_PORT="$port" VOXCORE_PUBLISH="127.0.0.1:$media" \
        JWT_SECRET=compose-test-jwt-secret-0123456789 VOXCORE_SECRET=compose-test-fleet-secret-0123456789 \
        MINIO_ROOT_PASSWORD=compose-test-s3-secret NGINX_IMAGE=localhost/vox-test-nginx \
        WHISPER_MODEL_DIR="${VOX_MODELS_DIR:-$PWD/target/models}/whisper" WHISPER_URL=http://whisper:8178/v1 \
        FLEET_LOCAL_PROVIDERS=whisper \
        VOX_TEST_POPULATION="$PWD/tests/containers/population.json" \
        VOXCORE_PUBLIC_URL=http://fleet:8091
    local status=0 phase
    for phase in phase1 phase2; do
        containers_phase "$phase" "$port" || { status=1; break; }
    done
    containers_stop
    unset DOCKER_HOST
    return "$status"
}
