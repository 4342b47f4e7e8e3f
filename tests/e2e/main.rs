//! The end-to-end suites in one test binary.
//!
//! The fleet worker, the PSTN simulator's campaigns and callers, `vox sip` with SIPp and baresip, `vox up`,
//! the deployment, and the kill tests (every process killed mid-campaign).
//!
//! Each starts real parts on loopback: the Backend, fleet workers, the local STT sidecar, `vox`
//! processes, nginx, HAProxy, redis-server, PostgreSQL. They share one process, so the STT
//! sidecar starts once for all of them; the `vox` and `vox-whisper` binaries come from the same
//! `cargo test --workspace` build (`test_support::paths::binary`).

mod deploy;
mod kill;
mod sim;
mod sip;
mod softphone;
mod support;
mod up;
mod worker;
