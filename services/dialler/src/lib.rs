//! The dialler (`vox dialler`): how many calls each running campaign places per tick, and how the fleet's slots are shared.
//!
//! This is the pure decision core, with no I/O and no clock of its own (time is passed in, in
//! seconds), so the production loop and the pacing benchmark's discrete-event simulation run the
//! same code: `pacing` (the state-aware predictive pacer, progressive and fixed-ratio modes, the
//! abandon feedback and the legal-window guard) and `fair_share` (weighted shares of slots).

pub mod fair_share;
pub mod pacing;
