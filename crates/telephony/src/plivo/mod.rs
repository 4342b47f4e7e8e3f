//! Plivo Voice: V3 webhook signatures and answer XML so far; the REST carrier and statuses follow.
//!
//! References: <https://www.plivo.com/docs/voice/concepts/signature-validation>,
//! <https://www.plivo.com/docs/voice/xml/audio-streaming>.

pub mod signature;
pub mod xml;
