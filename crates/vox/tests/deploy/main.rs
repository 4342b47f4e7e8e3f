//! The deployment, tested with the real programs in one test binary: nginx and HAProxy rendered from `deploy/`, the systemd units and configuration reference, and the container files.

#[path = "../support/mod.rs"]
mod support;

mod configuration;
mod containers;
mod haproxy;
mod nginx;
