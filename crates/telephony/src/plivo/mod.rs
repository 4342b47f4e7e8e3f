//! Plivo Voice: webhook signatures (V3) so far; the REST carrier, answer XML and statuses follow.
//!
//! Reference: <https://www.plivo.com/docs/voice/concepts/signature-validation>.

pub mod signature;
