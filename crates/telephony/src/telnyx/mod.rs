//! Telnyx's Call Control wire protocol, from its reference pages: signatures, causes, AMD.
//!
//! Reference: <https://developers.telnyx.com/docs/voice/programmable-voice/receiving-webhooks>.
//! Issue 22's next slices add the REST `Carrier` and the call-control flow.

pub mod signature;
pub mod status;
