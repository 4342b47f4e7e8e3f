# syntax=docker/dockerfile:1
# vox in one image (seed phase 3): `vox`, `vox-whisper` and `vox-llm` built in release mode, the console's
# static build, and a small Debian runtime with espeak-ng (the local voice). The command picks the
# role: `up` (default), `bridge`, `core`, `dialler`, `check`, `migrate`. docs/deploy.md says how to
# build and run it. CI checks it with hadolint and builds it for real with podman
# (scripts/lib/containers.sh): from a locally made Debian base and with the binaries the test run
# built (BINARIES=prebuilt), so nothing compiles inside a container there.
#
# Build arguments: BASE, the runtime's Debian bookworm image; RUST_IMAGE and NODE_IMAGE, the
# build stages'; BINARIES, where vox comes from: `build` (compiled here) or `prebuilt` (the build
# context's prebuilt/bin/{vox,vox-whisper,vox-llm} and prebuilt/console, made elsewhere on bookworm).
ARG BASE=debian:bookworm-slim
ARG RUST_IMAGE=rust:1.95-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim
ARG BINARIES=build

FROM ${RUST_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake clang libclang-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY services ./services
COPY bench ./bench
COPY tests/e2e ./tests/e2e
COPY xtask ./xtask
RUN cargo build --release --locked -p vox -p whisper-server -p llm-server

FROM ${NODE_IMAGE} AS console
WORKDIR /console
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY console ./
RUN npm run build

FROM scratch AS binaries-build
COPY --from=build /src/target/release/vox /src/target/release/vox-whisper /src/target/release/vox-llm /bin/
COPY --from=console /console/dist /console

FROM scratch AS binaries-prebuilt
COPY prebuilt/bin /bin
COPY prebuilt/console /console

# hadolint ignore=DL3006
FROM binaries-${BINARIES} AS binaries

# hadolint ignore=DL3006
FROM ${BASE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/vox --shell /usr/sbin/nologin vox
COPY --from=binaries /bin/ /usr/local/bin/
COPY --from=binaries /console /opt/vox/console
ENV CONSOLE_DIR=/opt/vox/console \
    VOXBRIDGE_HOST=0.0.0.0 \
    RUST_LOG=info
USER 10001:10001
WORKDIR /var/lib/vox
EXPOSE 8080 8091
ENTRYPOINT ["/usr/local/bin/vox"]
CMD ["up"]
