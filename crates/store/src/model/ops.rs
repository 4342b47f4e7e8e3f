//! Operations data: DNC, settings, the CRM outbox, the audit log, the dialler's leader lease.

use chrono::{DateTime, Utc};
use contracts::{CallId, CampaignId, E164Number, UserId};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DncEntry {
    pub phone: E164Number,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: String,
    pub value: Value,
    pub updated_by: Option<UserId>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewCrmDelivery {
    pub call_id: CallId,
    /// Which CRM integration receives it.
    pub target: String,
    pub payload: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CrmDelivery {
    pub id: i64,
    pub call_id: CallId,
    pub target: String,
    pub payload: Value,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Try again at the given instant.
    RetryAt {
        at: DateTime<Utc>,
        error: String,
    },
    /// Give up.
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// `user:<id>`, `api_key:<id>` or `system`.
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub detail: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub detail: Option<Value>,
    pub at: DateTime<Utc>,
}

/// A held leader lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderLease {
    pub holder: String,
    pub fencing_token: i64,
    pub expires_at: DateTime<Utc>,
}

/// The dialler's last pacing decision for a campaign, as the leader `holder` wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct PacingRecord {
    pub campaign_id: CampaignId,
    pub holder: String,
    /// The dialler's decision document (`contracts::api::PacingDecision`).
    pub decision: Value,
    pub decided_at: DateTime<Utc>,
}
