//! The `Carrier` interface.
//!
//! What the dialler needs from a telephony provider (place, cancel, events, AMD, media).
//!
//! It is a crate of its own so the dialler, the PSTN simulator and the carriers to come depend on
//! this small interface rather than on one another.
//!
//! It is shaped after a REST dial-out such as Twilio's `Calls` resource: placing a call returns
//! at once; progress (ringing, answered with an optional AMD verdict, ended with a reason) arrives
//! later as events (webhooks for a real carrier), which the carrier pushes into the
//! `CarrierEvent` channel it was built with; on answer the dialler tells it where to stream the
//! media (the worker's `media_url` from attach) or to play a message and hang up.

use chrono::{DateTime, Utc};
use contracts::attach::{AmdVerdict, MediaProtocol};
use contracts::{CallId, CallOutcomeCode, CampaignId, E164Number};
use std::time::Duration;

/// One outbound call to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    pub call_id: CallId,
    /// The campaign it dials for (a simulator picks the campaign's population by it); `None` for
    /// a call placed on demand.
    pub campaign_id: Option<CampaignId>,
    pub to: E164Number,
    pub from: Option<E164Number>,
    /// How long it may ring before the carrier gives up (never under 15 s).
    pub ring_timeout: Duration,
    /// Ask the carrier for answering-machine detection.
    pub detect_machine: bool,
}

/// What a carrier reports about a call it placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarrierEvent {
    Ringing {
        call_id: CallId,
        at: DateTime<Utc>,
    },
    Answered {
        call_id: CallId,
        at: DateTime<Utc>,
        /// The carrier's machine detection, when it ran one.
        amd: Option<AmdVerdict>,
    },
    /// The edge gave the answered call to a worker (carriers that attach at answer).
    Connected {
        call_id: CallId,
        at: DateTime<Utc>,
    },
    /// The call is over at the carrier: never answered, failed, or hung up after answer.
    Ended {
        call_id: CallId,
        at: DateTime<Utc>,
        /// Why, when it ended before a worker had it (`dial.busy`, `dial.no_answer`, …).
        outcome: CallOutcomeCode,
        detail: String,
    },
}

impl CarrierEvent {
    pub fn call_id(&self) -> CallId {
        match self {
            Self::Ringing { call_id, .. }
            | Self::Answered { call_id, .. }
            | Self::Connected { call_id, .. }
            | Self::Ended { call_id, .. } => *call_id,
        }
    }
}

/// A carrier refused or failed a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// The number cannot be called (malformed, unallocated): never retried.
    #[error("the carrier refused the number: {0}")]
    InvalidNumber(String),
    /// Too many calls per second or concurrent calls on the trunk: try later.
    #[error("the carrier is rate-limiting: {0}")]
    RateLimited(String),
    /// The carrier failed for now (a 5xx) without placing the call: try later.
    #[error("the carrier is unavailable: {0}")]
    Unavailable(String),
    /// The call is not known to the carrier (ended already).
    #[error("the carrier does not know call {0}")]
    UnknownCall(CallId),
    #[error("the carrier failed: {0}")]
    Failed(String),
    /// The carrier has no such verb (Exotel cannot cancel, hang up or transfer a call).
    #[error("the carrier cannot do that: {0}")]
    Unsupported(String),
}

impl CarrierError {
    /// The stable outcome code a call gets when placing it failed this way.
    pub fn outcome(&self) -> CallOutcomeCode {
        match self {
            Self::InvalidNumber(_) => CallOutcomeCode::DialInvalidNumber,
            Self::RateLimited(_)
            | Self::Unavailable(_)
            | Self::UnknownCall(_)
            | Self::Failed(_)
            | Self::Unsupported(_) => CallOutcomeCode::DialFailed,
        }
    }
}

/// A telephony provider the dialler places calls through.
#[async_trait::async_trait]
pub trait Carrier: Send + Sync + std::fmt::Debug + 'static {
    /// The carrier key of attach requests (`twilio`, `sim`, …).
    fn name(&self) -> &'static str;
    /// The media shape its answered calls stream in.
    fn media_protocol(&self) -> MediaProtocol;
    /// True for carriers behind the Backend's telephony edge: the edge attaches an answered call
    /// to a worker itself (and enforces the 2-second rule there), and the dialler follows the
    /// call's moves in the store (`Connected`, `Ended`) instead of attaching it.
    fn attaches_at_answer(&self) -> bool {
        false
    }
    /// Follows a call another dialler placed, known to the carrier as `carrier_call_id`, so it
    /// can be canceled or hung up from here.
    fn follow(&self, _call_id: CallId, _carrier_call_id: &str) {}
    /// Places the call; returns the carrier's id for it. Progress comes as events.
    async fn place(&self, dial: Dial) -> Result<String, CarrierError>;
    /// Stops a call that has not been answered.
    async fn cancel(&self, call_id: CallId) -> Result<(), CarrierError>;
    /// Streams an answered call's media to a worker.
    async fn connect(&self, call_id: CallId, media_url: &str) -> Result<(), CarrierError>;
    /// Plays `message` to an answered call and hangs up (the abandon message, a voicemail drop).
    async fn play_and_hang_up(&self, call_id: CallId, message: &str) -> Result<(), CarrierError>;
}
