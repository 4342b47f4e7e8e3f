//! What the `vox` process suites share.
//!
//! A platform of `vox` processes, the calls made through it, and a campaign's calls.

pub mod calls;
pub mod campaign;
pub mod platform;
