//! Calls and their history.
//!
//! Leases that create attempts, transitions, events and the stale-call reaper.

use chrono::{DateTime, Utc};
use contracts::runtime_config::CallDirection;
use contracts::{
    BotId, CallId, CallOutcomeCode, CallState, CampaignId, ContactId, E164Number, TimeZoneName,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Ask for up to `limit` due contacts of a running campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRequest {
    pub campaign_id: CampaignId,
    /// Who holds the lease (a dialler instance id).
    pub owner: String,
    pub limit: u32,
    /// How long the lease lasts unless renewed.
    pub ttl: Duration,
    pub now: DateTime<Utc>,
    /// The leader's fence; when set, the lease is refused unless it is still the valid leader.
    pub fence: Option<Fence>,
}

/// One leased contact and the call attempt created for it (state `leased`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub contact_id: ContactId,
    pub call_id: CallId,
    pub phone: E164Number,
    pub timezone: TimeZoneName,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub expires_at: DateTime<Utc>,
}

/// The holder and fencing token of a leader lease, carried by every fenced write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub holder: String,
    pub token: i64,
}

/// An inbound or web call, created by the Backend when it arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCall {
    pub direction: CallDirection,
    pub bot_id: BotId,
    pub campaign_id: Option<CampaignId>,
    pub contact_id: Option<ContactId>,
    pub from: Option<E164Number>,
    pub to: Option<E164Number>,
    /// `queued` or `answered`.
    pub state: CallState,
    /// The call's own template variables (an on-demand call's); empty for the rest.
    pub variables: serde_json::Map<String, Value>,
    /// The id the call's channel gives it, when known at creation (a website widget's call).
    pub carrier_call_id: Option<String>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: CallId,
    pub direction: CallDirection,
    pub campaign_id: Option<CampaignId>,
    pub contact_id: Option<ContactId>,
    pub bot_id: BotId,
    pub bot_version: i64,
    pub attempt: i64,
    pub state: CallState,
    pub outcome: Option<CallOutcomeCode>,
    pub from: Option<E164Number>,
    pub to: Option<E164Number>,
    pub carrier_call_id: Option<String>,
    pub worker_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub state_changed_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The call result document (contract 2) once the worker delivered it.
    pub result: Option<Value>,
    pub disposition: Option<String>,
}

/// Move a call from the state it is expected to be in to the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub call_id: CallId,
    pub from: CallState,
    pub to: CallState,
    pub outcome: Option<CallOutcomeCode>,
    pub detail: Option<Value>,
    pub at: DateTime<Utc>,
    pub carrier_call_id: Option<String>,
    pub worker_id: Option<String>,
}

impl Transition {
    pub fn new(call_id: CallId, from: CallState, to: CallState, at: DateTime<Utc>) -> Self {
        Self {
            call_id,
            from,
            to,
            outcome: None,
            detail: None,
            at,
            carrier_call_id: None,
            worker_id: None,
        }
    }

    pub fn with_outcome(mut self, outcome: CallOutcomeCode) -> Self {
        self.outcome = Some(outcome);
        self
    }
}

/// One appended row of a call's history.
#[derive(Debug, Clone, PartialEq)]
pub struct CallEvent {
    pub id: i64,
    pub call_id: CallId,
    /// `None` for the event that created the call.
    pub from_state: Option<CallState>,
    pub to_state: CallState,
    pub outcome: Option<CallOutcomeCode>,
    pub detail: Option<Value>,
    pub at: DateTime<Utc>,
}

/// Filters for the call log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    pub campaign_id: Option<CampaignId>,
    pub contact_id: Option<ContactId>,
    pub state: Option<CallState>,
    pub direction: Option<CallDirection>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub bot_id: Option<BotId>,
    pub outcome: Option<CallOutcomeCode>,
    pub disposition: Option<String>,
    /// The callee's or the caller's number (E.164).
    pub phone: Option<String>,
    /// Words anywhere in the call's result (transcript, analysis), case-insensitive.
    pub text: Option<String>,
}

/// How long a call may sit in each live state before the reaper ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReapPolicy {
    pub now: DateTime<Utc>,
    pub deadlines: Vec<(CallState, Duration)>,
}

impl ReapPolicy {
    /// Seed defaults: short deadlines before the conversation, `in_progress_timeout` during it.
    pub fn standard(now: DateTime<Utc>, in_progress_timeout: Duration) -> Self {
        let minutes = |n: u64| Duration::from_secs(n * 60);
        Self {
            now,
            deadlines: vec![
                (CallState::Leased, minutes(5)),
                (CallState::Dialing, minutes(5)),
                (CallState::Ringing, minutes(5)),
                (CallState::Answered, minutes(2)),
                (CallState::Attaching, minutes(2)),
                (CallState::InProgress, in_progress_timeout),
            ],
        }
    }
}

/// How many calls the reaper ended, by the state they were stuck in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReapReport {
    pub reaped: BTreeMap<&'static str, u64>,
}

impl ReapReport {
    pub fn total(&self) -> u64 {
        self.reaped.values().sum()
    }
}

/// What a worker needs to run one call, read in one query (the runtime config's source).
#[derive(Debug, Clone, PartialEq)]
pub struct CallRuntime {
    pub call: Call,
    pub bot_name: String,
    pub spec: contracts::runtime_config::BotSpec,
    /// The contact's id, number and variables, for campaign calls.
    pub contact: Option<(ContactId, E164Number, serde_json::Map<String, Value>)>,
    /// The call's own variables (an on-demand call's); they win over the contact's.
    pub variables: serde_json::Map<String, Value>,
}
