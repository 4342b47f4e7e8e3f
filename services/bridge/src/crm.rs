//! CRM push: finished call records go to the operator's webhook through an outbox.
//!
//! The `crm_deliveries` outbox: each push signed, retried with backoff, dead-lettered after
//! [`MAX_ATTEMPTS`].
//!
//! A webhook belongs to a campaign or a bot (`crm.webhook.campaign.<id>`, `crm.webhook.bot.<id>`
//! in settings); a call's record goes to its campaign's webhook, else its bot's. Each request
//! carries `X-Vox-Timestamp` (Unix seconds) and `X-Vox-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of `"<timestamp>.<body>"` with the webhook's secret.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use store::{Call, DeliveryOutcome, NewCrmDelivery, Store};

/// Attempts before a delivery is dead-lettered (`failed`).
pub const MAX_ATTEMPTS: i64 = 8;
/// How long one sender holds a claimed delivery.
const CLAIM: Duration = Duration::from_secs(60);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const BATCH: u32 = 32;

/// Whose webhook: a campaign's or a bot's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Campaign,
    Bot,
}

impl Scope {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scope::Campaign => "campaign",
            Scope::Bot => "bot",
        }
    }
}

/// Where a webhook's settings live, and the delivery target naming it (`campaign:5`).
pub fn setting_key(scope: Scope, id: i64) -> String {
    format!("crm.webhook.{}.{id}", scope.as_str())
}

fn target(scope: Scope, id: i64) -> String {
    format!("{}:{id}", scope.as_str())
}

/// A configured webhook.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
pub struct Webhook {
    /// Where results are POSTed: an http(s) URL, not a private address unless allowed.
    #[schemars(regex(pattern = contracts::shape::HTTP_URL))]
    pub url: String,
    /// What signs each delivery (X-Vox-Signature): at least 16 characters.
    #[schemars(length(min = 16))]
    pub secret: String,
}

async fn webhook(store: &dyn Store, scope: Scope, id: i64) -> store::Result<Option<Webhook>> {
    let setting = store.setting(&setting_key(scope, id)).await?;
    Ok(setting.and_then(|s| serde_json::from_value(s.value).ok()))
}

async fn webhook_for_target(store: &dyn Store, target: &str) -> store::Result<Option<Webhook>> {
    let Some((scope, id)) = target.split_once(':') else {
        return Ok(None);
    };
    let scope = match scope {
        "campaign" => Scope::Campaign,
        "bot" => Scope::Bot,
        _ => return Ok(None),
    };
    match id.parse() {
        Ok(id) => webhook(store, scope, id).await,
        Err(_) => Ok(None),
    }
}

/// Whose CRM settings a call uses, in order: its campaign's, then its bot's.
pub(crate) fn owners(call: &Call) -> impl Iterator<Item = (Scope, i64)> {
    call.campaign_id
        .map(|id| (Scope::Campaign, id.0))
        .into_iter()
        .chain(std::iter::once((Scope::Bot, call.bot_id.0)))
}

/// Queues the call's record for its campaign's webhook, else its bot's; nothing when neither has one.
pub async fn enqueue_for_call(store: &dyn Store, call: &Call, payload: Value) -> store::Result<()> {
    for (scope, id) in owners(call) {
        if webhook(store, scope, id).await?.is_some() {
            let delivery = NewCrmDelivery {
                call_id: call.id,
                target: target(scope, id),
                payload,
            };
            store.enqueue_crm_delivery(delivery, Utc::now()).await?;
            return Ok(());
        }
    }
    Ok(())
}

/// `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>").
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Exponential backoff from 30 s, capped at an hour, with ±20 % jitter.
pub fn backoff(attempts: i64) -> chrono::Duration {
    let exponent = u32::try_from(attempts.clamp(0, 7)).unwrap_or(7);
    let base = (30_i64 * 2_i64.pow(exponent)).min(3600);
    let jitter = rand::random_range(0.8..1.2);
    chrono::Duration::milliseconds((base as f64 * 1000.0 * jitter) as i64)
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub delivered: u32,
    pub retrying: u32,
    pub dead: u32,
}

/// Sends every due delivery once, as of `now`.
pub async fn deliver_due(
    store: &dyn Store,
    client: &egress::Egress,
    now: DateTime<Utc>,
) -> store::Result<Pass> {
    let mut pass = Pass::default();
    let claimed = store.claim_crm_deliveries(now, BATCH, CLAIM).await?;
    // Sent at once, not one after another: a pass lasts one request's timeout at most, well
    // inside the claim, so no other sender takes a delivery this one is still sending, and one
    // dead endpoint does not hold the others back (L6).
    let sends = claimed.iter().map(|delivery| async move {
        let outcome = match webhook_for_target(store, &delivery.target).await? {
            None => DeliveryOutcome::Failed {
                error: format!("no webhook is configured for {}", delivery.target),
            },
            Some(webhook) => {
                match send(client, &webhook, delivery.id, &delivery.payload, now).await {
                    Ok(()) => DeliveryOutcome::Delivered,
                    Err(error) if delivery.attempts + 1 >= MAX_ATTEMPTS => {
                        DeliveryOutcome::Failed { error }
                    }
                    Err(error) => DeliveryOutcome::RetryAt {
                        at: now + backoff(delivery.attempts),
                        error,
                    },
                }
            }
        };
        Ok::<_, store::StoreError>((delivery.id, outcome))
    });
    for sent in futures_util::future::join_all(sends).await {
        let (id, outcome) = sent?;
        match &outcome {
            DeliveryOutcome::Delivered => pass.delivered += 1,
            DeliveryOutcome::RetryAt { .. } => pass.retrying += 1,
            DeliveryOutcome::Failed { error } => {
                tracing::warn!(delivery = id, %error, "CRM delivery dead-lettered");
                pass.dead += 1;
            }
        }
        store.record_crm_attempt(id, outcome, now).await?;
    }
    Ok(pass)
}

/// One signed POST through the guarded client (no redirects, no private addresses unless
/// allowed); the error says what happened, never the transport's internals (M9).
async fn send(
    client: &egress::Egress,
    webhook: &Webhook,
    delivery: i64,
    payload: &Value,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let body = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
    let timestamp = now.timestamp();
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("x-vox-timestamp", timestamp.to_string()),
        ("x-vox-signature", sign(&webhook.secret, timestamp, &body)),
        // The same on every retry of a delivery: receivers drop what they already took.
        ("x-vox-delivery-id", delivery.to_string()),
    ];
    let reply = client
        .post(&webhook.url, &headers, body)
        .await
        .map_err(|error| format!("request failed: {error}"))?;
    let status = reqwest::StatusCode::from_u16(reply.status).unwrap_or_default();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("webhook answered {status}"))
    }
}

/// The guarded client CRM webhooks go through.
pub fn client(allowed: egress::Allowed) -> egress::Egress {
    egress::Egress::new(egress::Policy {
        allowed,
        max_reply_bytes: 64 << 10,
        timeout: REQUEST_TIMEOUT,
    })
}

/// Runs [`deliver_due`] every `interval` until the task is dropped.
pub async fn periodic(store: Arc<dyn Store>, interval: Duration, client: egress::Egress) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = deliver_due(&*store, &client, Utc::now()).await {
            tracing::error!(%error, "CRM delivery pass failed");
        }
    }
}
