//! What the `vox` process suites share.
//!
//! A platform of `vox` processes and the calls made through it.

pub mod calls;
pub mod platform;
