//! The `vox` binary's library.
//!
//! Configuration, telemetry and the subcommands, kept out of `main.rs` so tests reach them.

#![forbid(unsafe_code)]

pub mod check;
pub mod commands;
pub mod config;
pub mod demo;
mod legacy;
pub mod providers;
pub mod sip_gateway;
pub mod telemetry;
mod through;
pub mod up;

/// The build version, as `vox version` and the health endpoints report it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
