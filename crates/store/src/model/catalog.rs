//! What operators configure: versioned bots, campaigns and their contacts.

use chrono::{DateTime, Utc};
use contracts::calling_window::CallingWindows;
use contracts::runtime_config::BotSpec;
use contracts::{BotId, CampaignId, ContactId, E164Number, TimeZoneName, UserId};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq)]
pub struct NewBot {
    pub name: String,
    pub spec: BotSpec,
    pub created_by: Option<UserId>,
}

/// A bot; its configuration lives in numbered [`BotVersion`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bot {
    pub id: BotId,
    pub name: String,
    pub current_version: i64,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One saved configuration of a bot; never changed once written.
#[derive(Debug, Clone, PartialEq)]
pub struct BotVersion {
    pub bot_id: BotId,
    pub version: i64,
    pub spec: BotSpec,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// A campaign's life: `draft → running ⇄ paused → completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CampaignState {
    Draft,
    Running,
    Paused,
    Completed,
}

impl CampaignState {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Running => "running",
            CampaignState::Paused => "paused",
            CampaignState::Completed => "completed",
        }
    }

    pub fn can_move_to(self, next: CampaignState) -> bool {
        use CampaignState::*;
        matches!(
            (self, next),
            (Draft, Running)
                | (Running, Paused)
                | (Paused, Running)
                | (Running, Completed)
                | (Paused, Completed)
                | (Draft, Completed)
        )
    }
}

impl fmt::Display for CampaignState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CampaignState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            CampaignState::Draft,
            CampaignState::Running,
            CampaignState::Paused,
            CampaignState::Completed,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| format!("unknown campaign state {s:?}"))
    }
}

/// A campaign's configuration (everything but its state).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaign {
    pub name: String,
    pub bot_id: BotId,
    pub calling_windows: CallingWindows,
    /// Attempts per contact, at least 1.
    pub max_attempts: i64,
    /// Most calls in flight at once, at least 1.
    pub concurrency_cap: i64,
    /// Share of free slots against other campaigns, at least 1.
    pub weight: i64,
    /// Target abandon rate, a fraction in `[0, 1]`.
    pub abandon_target: f64,
    pub caller_id: Option<E164Number>,
    /// Pacing mode, retry policy and other settings the dialler reads.
    pub settings: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: CampaignId,
    pub state: CampaignState,
    pub config: NewCampaign,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A contact row as it arrives from an import: validated by the store before anything is written.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    /// Must already be E.164 (`+14155550123`).
    pub phone: String,
    /// An IANA zone name (`America/New_York`).
    pub timezone: String,
    pub variables: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactStatus {
    /// Waiting for its next attempt (due when `next_attempt_at` has passed).
    Pending,
    /// Held by a dialler until `lease_expires_at`.
    Leased,
    /// No more attempts: reached, exhausted or not callable.
    Done,
}

impl ContactStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactStatus::Pending => "pending",
            ContactStatus::Leased => "leased",
            ContactStatus::Done => "done",
        }
    }
}

impl FromStr for ContactStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(ContactStatus::Pending),
            "leased" => Ok(ContactStatus::Leased),
            "done" => Ok(ContactStatus::Done),
            other => Err(format!("unknown contact status {other:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub campaign_id: CampaignId,
    pub phone: E164Number,
    pub timezone: TimeZoneName,
    pub variables: Map<String, Value>,
    pub status: ContactStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
}

/// Filters for listing contacts of one campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFilter {
    pub status: Option<ContactStatus>,
    pub phone: Option<String>,
}

/// What happens to a contact after an attempt ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactNext {
    /// Try again no earlier than the given instant.
    RetryAt(DateTime<Utc>),
    /// No more attempts.
    Done,
}
