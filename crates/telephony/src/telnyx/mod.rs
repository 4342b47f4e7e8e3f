//! Telnyx's Call Control wire protocol, from its reference pages: webhook signatures so far.
//!
//! Reference: <https://developers.telnyx.com/docs/voice/programmable-voice/receiving-webhooks>.
//! Issue 22's next slices add the REST `Carrier`, the call-control flow and the status mapping.

pub mod signature;
