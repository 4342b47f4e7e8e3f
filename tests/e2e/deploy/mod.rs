//! The deployment, tested with the real programs in one test binary.
//!
//! Nginx and HAProxy rendered from `deploy/`, the systemd units and configuration reference, the
//! container files, and the capacity registry over Debian's redis-server.

mod api_tls;
mod configuration;
mod containers;
mod haproxy;
mod install;
mod nginx;
mod registry;
