//! Telnyx's Call Control wire protocol, from its reference pages: webhooks, signatures, causes.
//!
//! Reference: <https://developers.telnyx.com/docs/voice/programmable-voice/receiving-webhooks>.
//! Issue 22's next slices add the REST `Carrier` and the call-control flow.

pub mod events;
pub mod signature;
pub mod status;
