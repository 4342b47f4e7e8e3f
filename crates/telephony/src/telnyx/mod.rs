//! Telnyx Call Control: the REST commands, typed webhooks, their signatures, causes and state.
//!
//! Reference: <https://developers.telnyx.com/docs/voice/programmable-voice/receiving-webhooks>
//! and the pages each module cites.

pub mod events;
mod rest;
pub mod signature;
pub mod state;
pub mod status;

pub use rest::{API_URL, TelnyxCarrier, TelnyxConfig, webhook_url};
