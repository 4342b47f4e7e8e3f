//! The dialler (`vox dialler`).
//!
//! Paces running campaigns, leases contacts, places calls through a carrier and attaches the
//! answered ones to free fleet workers.
//!
//! `pacing` (the state-aware predictive pacer, progressive and fixed-ratio modes, the abandon
//! feedback and the legal-window guard) and `fair_share` (weighted shares of slots) are pure and
//! clock-free, so the loop and the pacing benchmark's discrete-event simulation run the same
//! code. `engine` is the loop body (`tick()` and carrier events, time passed in); `carrier` (the
//! `carrier` crate, re-exported) is the interface a telephony provider implements; `fleet` (the
//! `fleet-client` crate, re-exported) reaches the workers; `health` serves
//! `/health` and `/metrics`.

pub use ::carrier;
pub mod engine;
pub mod fair_share;
pub use fleet_client as fleet;
pub mod health;
pub mod pacing;
