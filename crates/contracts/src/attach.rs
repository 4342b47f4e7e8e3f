//! Contract 4, attach: `POST /attach` (Dialler → fleet, `Authorization: Bearer $VOXCORE_SECRET`).
//!
//! A free worker answers 202 with an [`AttachAccepted`]; a busy one answers 429 with an
//! [`crate::error::ErrorBody`] whose code is `fleet.capacity_exhausted`, and the dialler tries the
//! next worker.

use crate::{CallId, CampaignId, E164Number, runtime_config::CallDirection};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An answered call looking for a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttachRequest {
    pub call_id: CallId,
    pub direction: CallDirection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
    /// Carrier key (`twilio`, `plivo`, `exotel`, `vonage`, `telnyx`, `sim`).
    pub carrier: String,
    /// The carrier's id for this call leg.
    pub carrier_call_id: String,
    pub media_protocol: MediaProtocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<E164Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<E164Number>,
    pub answered_at: DateTime<Utc>,
    /// The carrier's answering-machine verdict, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amd: Option<AmdVerdict>,
    /// Whom the call is made for (the campaign's or the inbound number's client), for the
    /// capacity registry's client quotas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// The WebSocket media shape the call's audio will arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaProtocol {
    Twilio,
    Plivo,
    Exotel,
    Vonage,
    Telnyx,
    /// vox's own: JSON control messages and binary PCM frames (browser widget, PSTN simulator).
    Vox,
}

/// A carrier's answering-machine detection result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AmdVerdict {
    Human,
    Machine,
    Unknown,
}

/// 202: the slot is reserved; the media must connect to `media_url` before `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AttachAccepted {
    pub call_id: CallId,
    pub worker_id: String,
    /// A worker-specific WebSocket URL carrying a one-time token.
    pub media_url: String,
    pub expires_at: DateTime<Utc>,
}
