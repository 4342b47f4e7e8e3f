//! The store's domain types.
//!
//! What callers pass in (`New*`) and get back; no serde derives, the wire types are in `contracts`.

mod calls;
mod catalog;
mod identity;
mod knowledge;
mod ops;
mod reports;
mod telephony;

pub use calls::*;
pub use catalog::*;
pub use identity::*;
pub use knowledge::*;
pub use ops::*;
pub use reports::*;
pub use telephony::*;

use chrono::{DateTime, TimeZone, Utc};

/// Keyset pagination: newest first, `after` is the last id of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub after: Option<i64>,
}

impl Page {
    /// The largest page a caller may ask for.
    pub const MAX_LIMIT: u32 = 1000;

    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }
}

impl Default for Page {
    fn default() -> Self {
        Self::first(50)
    }
}

/// One page of results and where the next one starts (`None` on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_after: Option<i64>,
}

/// Stored form of an instant: Unix epoch milliseconds.
pub(crate) fn to_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}
