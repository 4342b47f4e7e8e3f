//! Fixtures shared by the tests of several crates, so none is copied or included by path.
//!
//! Without features it is small: where the test models and the workspace's binaries are
//! ([`paths`]), the local STT sidecar started once per test process ([`whisper`]), and a bare
//! HTTP/1.1 client for loopback requests ([`http`]). The `platform` feature adds a running
//! Backend and fleet worker on loopback and the bots the end-to-end suites call
//! ([`platform`], [`bots`]); only `tests/e2e` and the crates whose tests start a platform use it.

#![allow(
    missing_debug_implementations,
    reason = "fixtures hold stores, tasks and folders that tests never print"
)]

pub mod http;
pub mod paths;
pub mod whisper;

#[cfg(feature = "platform")]
pub mod bots;
#[cfg(feature = "platform")]
pub mod platform;
