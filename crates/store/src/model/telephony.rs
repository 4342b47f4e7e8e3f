//! Carrier accounts, and the carrier events the edge keeps before it acknowledges them.

use super::calls::Call;
use chrono::{DateTime, Utc};
use contracts::telephony::{CarrierAccountId, CarrierKind, SipTrunk};
use contracts::{CallId, E164Number};
use serde_json::Value;

/// A carrier account as an operator saves it. The secret is write-only: nothing reads it back
/// but [`crate::Store::carrier_account_secret`], which the edge and the dialler use to sign.
#[derive(Clone, PartialEq)]
pub struct NewCarrierAccount {
    pub carrier: CarrierKind,
    pub name: String,
    /// The carrier's public account id (Twilio's `AC…` Account SID).
    pub account_sid: String,
    /// What signs API requests and webhooks (Twilio's Auth Token). Required on create; `None` on
    /// update keeps the saved one.
    pub secret: Option<String>,
    /// The REST API's base URL; `None` is the carrier's own (an emulator's in `vox up` and tests).
    pub api_url: Option<String>,
    /// The numbers this account owns: caller IDs for campaigns, inbound numbers for routing.
    pub numbers: Vec<E164Number>,
    /// What the carrier's webhooks are verified with when it is not the secret (Telnyx's
    /// Ed25519 public key). Write-only like the secret; `None` on update keeps the saved one.
    pub webhook_key: Option<String>,
    /// A `sip` account's trunk settings (its password is the secret); `None` for other carriers.
    pub trunk: Option<SipTrunk>,
}

impl std::fmt::Debug for NewCarrierAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCarrierAccount")
            .field("carrier", &self.carrier)
            .field("name", &self.name)
            .field("account_sid", &self.account_sid)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("api_url", &self.api_url)
            .field("numbers", &self.numbers)
            .field(
                "webhook_key",
                &self.webhook_key.as_ref().map(|_| "<redacted>"),
            )
            .field("trunk", &self.trunk)
            .finish()
    }
}

/// A saved carrier account, without its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct CarrierAccount {
    pub id: CarrierAccountId,
    pub carrier: CarrierKind,
    pub name: String,
    pub account_sid: String,
    pub api_url: Option<String>,
    pub numbers: Vec<E164Number>,
    /// Whether a webhook key is saved (it is never read back but by the edge).
    pub webhook_key_set: bool,
    /// A `sip` account's trunk settings.
    pub trunk: Option<SipTrunk>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One webhook from a carrier, as received.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTelephonyEvent {
    pub carrier: CarrierKind,
    pub account_id: CarrierAccountId,
    /// Our call, once the edge knows which it is.
    pub call_id: Option<CallId>,
    /// The carrier's id for the call leg (Twilio's `CallSid`).
    pub carrier_call_id: String,
    /// What happened (`status.ringing`, `voice`, `amd`, …).
    pub event: String,
    /// The carrier's sequence number where it gives one, else 0: with the carrier call id and the
    /// event it makes a redelivery recognisable.
    pub sequence: i64,
    /// The webhook's parameters, kept for the call's history.
    pub payload: Value,
    pub received_at: DateTime<Utc>,
}

/// What keeping a carrier event did.
#[derive(Debug, Clone, PartialEq)]
pub struct TelephonyRecord {
    /// False when the same event was kept before (a redelivery): nothing else changed.
    pub new: bool,
    /// The call after the event's transition, when it moved; `None` when there was none to make,
    /// or it was stale (a late or out-of-order event).
    pub moved: Option<Call>,
}
