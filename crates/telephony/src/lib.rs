//! Carriers' wire protocols for the telephony edge: dial-out, webhook signatures, answer documents.
//!
//! One module per carrier, each written from the vendor's reference pages (cited in its files).
//! The Backend's edge uses the signatures, answer documents and status mapping; the dialler uses
//! the REST clients as `Carrier`s; the carrier emulators in `sim` sign and send what the vendor
//! sends. Nothing here stores anything: the edge keeps events, the dialler follows them.
//! `account` builds a saved account's client, whatever its carrier.

mod account;
pub mod exotel;
pub mod number;
mod pace;
pub mod plivo;
pub mod sip;
pub mod telnyx;
pub mod twilio;
pub mod vonage;
mod xml;

pub use account::{AccountCarrier, AccountConfig, client};
