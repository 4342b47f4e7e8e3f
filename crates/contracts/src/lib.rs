//! Wire types shared by every vox service and the console.
//!
//! The only serde types that cross a process.
//!
//! The five contracts (DESIGN.md §2) live here:
//! 1. runtime config ([`runtime_config`]), fetched by a fleet worker for one call;
//! 2. call result ([`call_result`]), posted back by the worker when the call ends;
//! 3. the shared database (the `store` crate; its values use [`call_state`] and [`outcome`]);
//! 4. attach ([`attach`]), the dialler handing an answered call to a worker;
//! 5. the console's API, whose health payloads are in [`health`].
//!
//! ## Design Notes
//! Changes are additive only: new optional fields, new enum variants that old readers tolerate
//! through `#[serde(other)]` where it matters. Every type derives `JsonSchema` so the console's
//! TypeScript types are generated from [`schema::export_all`], never written twice by hand.
//! This crate has no tokio, axum or sqlx: it is plain data and pure validation.

#![forbid(unsafe_code)]

pub mod api;
pub mod attach;
pub mod call_result;
pub mod call_state;
pub mod calling_window;
pub mod error;
pub mod health;
pub mod ids;
pub mod local_services;
pub mod outcome;
pub mod phone;
pub mod runtime_config;
pub mod schema;
pub mod shape;
pub mod telephony;
pub mod time_zone;

pub use call_state::CallState;
pub use ids::{BotId, CallId, CampaignId, ContactId, UserId};
pub use outcome::CallOutcomeCode;
pub use phone::E164Number;
pub use time_zone::TimeZoneName;
