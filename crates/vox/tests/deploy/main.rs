//! The deployment, tested with the real programs in one test binary: nginx and HAProxy rendered from `deploy/`, the systemd units and configuration reference, the container files, and the capacity registry over Debian's redis-server.

#[path = "../support/mod.rs"]
mod support;

mod configuration;
mod containers;
mod haproxy;
mod nginx;
mod registry;
