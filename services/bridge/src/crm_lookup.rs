//! CRM lookup at call start: what the operator's CRM knows about the caller, in the runtime config.
//!
//! A lookup belongs to a campaign or a bot (`crm.lookup.campaign.<id>`, `crm.lookup.bot.<id>` in
//! settings, set with `PUT /api/v1/crm/lookups/{scope}/{id}`, a `{url, secret}` like a webhook's);
//! a call asks its campaign's, else its bot's. When a worker fetches the call's runtime config, the
//! Backend POSTs `{call_id, bot_id, campaign_id, contact_id, phone, direction}` there, signed as CRM
//! pushes are (`X-Vox-Timestamp`, `X-Vox-Signature`: HMAC-SHA256 of `"<timestamp>.<body>"`),
//! through the guarded client (no redirects, no private address unless allowed). The reply must be
//! a JSON object of at most [`MAX_REPLY_BYTES`], within [`TIMEOUT`]. It becomes the config's
//! `contact.crm` and the prompt's `{{crm.<field>}}` variables. An answer is kept for [`CACHE_TTL`]
//! per lookup and number, so a number called again soon does not ask twice.
//!
//! A lookup that fails (times out, answers an error or something other than a JSON object) never
//! holds the call up: the call goes on without it, and the call's record says why (the
//! `crm_lookup` of its move to in progress).

use crate::crm::{Scope, Webhook, sign};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use store::{Call, Store};

/// Longest wait for the CRM's answer: a caller is on the line.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// Largest answer taken.
pub const MAX_REPLY_BYTES: usize = 64 << 10;
/// How long an answer is reused for the same lookup and number.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Answers kept at most; the oldest go first.
const CACHE_ENTRIES: usize = 10_000;

/// Where a lookup's settings live.
pub fn setting_key(scope: Scope, id: i64) -> String {
    format!("crm.lookup.{}.{id}", scope.as_str())
}

/// What a call's lookup came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// No lookup is configured for the call's campaign or bot, or there is no number to look up.
    NotAsked,
    /// The CRM's JSON object.
    Found(Map<String, Value>),
    /// Why the call goes on without it.
    Failed(String),
}

impl Outcome {
    /// What the call's record keeps of it.
    pub fn note(&self) -> Option<Value> {
        match self {
            Outcome::NotAsked => None,
            Outcome::Found(_) => Some(json!({"found": true})),
            Outcome::Failed(why) => Some(json!({"found": false, "error": why})),
        }
    }

    pub fn found(&self) -> Option<&Map<String, Value>> {
        match self {
            Outcome::Found(object) => Some(object),
            _ => None,
        }
    }
}

/// Answers kept, by the lookup's setting and the number, with when each came.
type Cache = HashMap<(String, String), (Instant, Map<String, Value>)>;

/// The guarded client lookups go through, and the answers kept.
#[derive(Debug)]
pub struct Lookups {
    client: egress::Egress,
    cache: parking_lot::Mutex<Cache>,
}

impl Lookups {
    pub fn new(allowed: egress::Allowed) -> Self {
        Self {
            client: egress::Egress::new(egress::Policy {
                allowed,
                max_reply_bytes: MAX_REPLY_BYTES,
                timeout: TIMEOUT,
            }),
            cache: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    /// The lookup for `call`, about `phone` (its contact's, else the caller's or the callee's).
    pub async fn for_call(
        &self,
        store: &dyn Store,
        call: &Call,
        contact_id: Option<i64>,
        phone: Option<&str>,
    ) -> Outcome {
        let Some(phone) = phone else {
            return Outcome::NotAsked;
        };
        let (target, lookup) = match configured(store, call).await {
            Ok(Some(found)) => found,
            Ok(None) => return Outcome::NotAsked,
            Err(error) => return Outcome::Failed(format!("the lookup's settings: {error}")),
        };
        let key = (target, phone.to_owned());
        if let Some(object) = self.cached(&key) {
            return Outcome::Found(object);
        }
        let body = json!({
            "call_id": call.id.0,
            "bot_id": call.bot_id.0,
            "campaign_id": call.campaign_id.map(|c| c.0),
            "contact_id": contact_id,
            "phone": phone,
            "direction": call.direction,
        });
        match self.ask(&lookup, &body).await {
            Ok(object) => {
                self.keep(key, object.clone());
                Outcome::Found(object)
            }
            Err(why) => {
                tracing::warn!(call = call.id.0, %why, "CRM lookup failed; the call goes on without it");
                Outcome::Failed(why)
            }
        }
    }

    async fn ask(&self, lookup: &Webhook, body: &Value) -> Result<Map<String, Value>, String> {
        let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        let timestamp = chrono::Utc::now().timestamp();
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("accept", "application/json".to_owned()),
            ("x-vox-timestamp", timestamp.to_string()),
            ("x-vox-signature", sign(&lookup.secret, timestamp, &body)),
        ];
        let reply = self
            .client
            .post(&lookup.url, &headers, body)
            .await
            .map_err(|error| format!("request failed: {error}"))?;
        if !(200..300).contains(&reply.status) {
            return Err(format!("the CRM answered HTTP {}", reply.status));
        }
        match serde_json::from_slice::<Value>(&reply.body) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(_) => Err("the CRM's answer is JSON but not an object".to_owned()),
            Err(_) => Err("the CRM's answer is not JSON".to_owned()),
        }
    }

    fn cached(&self, key: &(String, String)) -> Option<Map<String, Value>> {
        let cache = self.cache.lock();
        let (at, object) = cache.get(key)?;
        (at.elapsed() < CACHE_TTL).then(|| object.clone())
    }

    fn keep(&self, key: (String, String), object: Map<String, Value>) {
        let mut cache = self.cache.lock();
        cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        if cache.len() >= CACHE_ENTRIES
            && let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            cache.remove(&oldest);
        }
        cache.insert(key, (Instant::now(), object));
    }
}

/// The call's campaign's lookup, else its bot's, with the setting's key.
async fn configured(store: &dyn Store, call: &Call) -> store::Result<Option<(String, Webhook)>> {
    for (scope, id) in crate::crm::owners(call) {
        let key = setting_key(scope, id);
        if let Some(setting) = store.setting(&key).await?
            && let Ok(lookup) = serde_json::from_value::<Webhook>(setting.value)
        {
            return Ok(Some((key, lookup)));
        }
    }
    Ok(None)
}
