# syntax=docker/dockerfile:1
# vox in one image (seed phase 3): `vox`, `vox-whisper` and `vox-llm` built in release mode, the console's
# static build, and a small Debian runtime with espeak-ng (the local voice). The command picks the
# role: `up` (default), `bridge`, `core`, `dialler`, `check`, `migrate`. No Docker engine runs on
# our machines: CI checks this file with hadolint and the COPY sources against the tree
# (tests/e2e/deploy/containers.rs); docs/deploy.md says how to build and run it.

FROM rust:1.95-bookworm AS build
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

FROM node:20-bookworm-slim AS console
WORKDIR /console
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY console ./
RUN npm run build

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/vox --shell /usr/sbin/nologin vox
COPY --from=build /src/target/release/vox /src/target/release/vox-whisper /src/target/release/vox-llm /usr/local/bin/
COPY --from=console /console/dist /opt/vox/console
ENV CONSOLE_DIR=/opt/vox/console \
    VOXBRIDGE_HOST=0.0.0.0 \
    RUST_LOG=info
USER 10001:10001
WORKDIR /var/lib/vox
EXPOSE 8080 8091
ENTRYPOINT ["/usr/local/bin/vox"]
CMD ["up"]
