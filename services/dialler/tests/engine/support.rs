//! Fixtures: a seeded running campaign, a scripted carrier, and fake fleet workers.
//!
//! The carrier records what it is asked and lets the test play its events; the workers speak the
//! attach and fleet-health contracts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, TimeZone, Utc};
use contracts::attach::{AttachAccepted, AttachRequest, MediaProtocol};
use contracts::health::FleetHealth;
use contracts::{CallId, CampaignId};
use dialler::carrier::{Carrier, CarrierError, Dial};
use dialler::engine::{Engine, EngineConfig};
use dialler::fleet::FleetClient;
use parking_lot::Mutex;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use store::Store;

pub(crate) use store::both_backends;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

pub fn secs(s: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(s)
}

/// A running campaign with `contacts` due contacts (no calling windows), `max_attempts` 3.
pub async fn campaign(store: &dyn Store, contacts: usize) -> CampaignId {
    named_campaign(store, "Reminders", contacts).await
}

/// `campaign`, named `name` (campaign names are unique).
pub async fn named_campaign(store: &dyn Store, name: &str, contacts: usize) -> CampaignId {
    let spec = serde_json::from_value(json!({
        "language": "en-US",
        "system_prompt": "You remind people.",
        "stt": {"provider": "whisper"},
        "llm": {"provider": "llama"},
        "tts": {"provider": "espeak"}
    }))
    .unwrap();
    store::testing::running_campaign(store, name, spec, contacts, 3, 100).await
}

/// What the scripted carrier was asked.
#[derive(Debug, Default)]
pub struct CarrierLog {
    pub placed: Vec<Dial>,
    pub connected: Vec<(CallId, String)>,
    pub played: Vec<(CallId, String)>,
    pub canceled: Vec<CallId>,
}

/// A carrier that places nothing anywhere: it logs requests, refuses the numbers in `invalid` and
/// rate-limits the next `rate_limited` placements.
#[derive(Debug, Default)]
pub struct ScriptedCarrier {
    pub log: Mutex<CarrierLog>,
    pub invalid: Mutex<HashSet<String>>,
    /// The next this-many placements are refused as rate-limited.
    pub rate_limited: Mutex<u32>,
    /// How long a placement takes after the carrier has heard of it (logged it).
    pub place_delay: Mutex<Duration>,
}

#[async_trait::async_trait]
impl Carrier for ScriptedCarrier {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn media_protocol(&self) -> MediaProtocol {
        MediaProtocol::Vox
    }

    async fn place(&self, dial: Dial) -> Result<String, CarrierError> {
        {
            let mut limited = self.rate_limited.lock();
            if *limited > 0 {
                *limited -= 1;
                return Err(CarrierError::RateLimited("1 call per second".into()));
            }
        }
        if self.invalid.lock().contains(dial.to.as_str()) {
            return Err(CarrierError::InvalidNumber(format!(
                "{} is unallocated",
                dial.to.as_str()
            )));
        }
        let id = format!("SIM{}", dial.call_id.0);
        self.log.lock().placed.push(dial);
        let delay = *self.place_delay.lock();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(id)
    }

    async fn cancel(&self, call_id: CallId) -> Result<(), CarrierError> {
        self.log.lock().canceled.push(call_id);
        Ok(())
    }

    async fn connect(&self, call_id: CallId, media_url: &str) -> Result<(), CarrierError> {
        self.log
            .lock()
            .connected
            .push((call_id, media_url.to_owned()));
        Ok(())
    }

    async fn play_and_hang_up(&self, call_id: CallId, message: &str) -> Result<(), CarrierError> {
        self.log.lock().played.push((call_id, message.to_owned()));
        Ok(())
    }
}

/// A fake fleet worker: `free` slots; attach takes one or answers 429.
#[derive(Debug)]
pub struct FakeWorker {
    pub id: String,
    pub free: Mutex<u32>,
    pub attached: Mutex<Vec<AttachRequest>>,
    /// Answers every attach 502, as a worker that cannot reach the Backend does.
    pub failing: Mutex<bool>,
}

async fn fleet_health(State(w): State<Arc<FakeWorker>>) -> Json<FleetHealth> {
    let free = *w.free.lock();
    Json(FleetHealth {
        workers: vec![],
        workers_up: 1,
        workers_down: 0,
        worker_calls: 0,
        worker_max: free,
        fleet_available: free,
    })
}

async fn attach(State(w): State<Arc<FakeWorker>>, Json(request): Json<AttachRequest>) -> Response {
    if *w.failing.lock() {
        return (
            StatusCode::BAD_GATEWAY,
            Json(json!({"code": "fleet.config_unavailable", "message": "the Backend is down"})),
        )
            .into_response();
    }
    let mut free = w.free.lock();
    if *free == 0 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"error": {"code": "fleet.capacity_exhausted", "message": "full"}})),
        )
            .into_response();
    }
    *free -= 1;
    let call_id = request.call_id;
    w.attached.lock().push(request);
    (
        StatusCode::ACCEPTED,
        Json(AttachAccepted {
            call_id,
            worker_id: w.id.clone(),
            media_url: format!("ws://{}/ws/vox/token-{}", w.id, call_id.0),
            expires_at: Utc::now() + chrono::Duration::seconds(30),
        }),
    )
        .into_response()
}

/// Starts a fake worker with `free` slots; returns it and its base URL.
pub async fn worker(id: &str, free: u32) -> (Arc<FakeWorker>, String) {
    let worker = Arc::new(FakeWorker {
        id: id.to_owned(),
        free: Mutex::new(free),
        attached: Mutex::new(Vec::new()),
        failing: Mutex::new(false),
    });
    let app = Router::new()
        .route("/health/fleet", get(fleet_health))
        .route("/attach", post(attach))
        .with_state(worker.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (worker, url)
}

/// An engine over `store` with the scripted carrier and the given fleet URLs.
pub fn engine(
    store: Arc<dyn Store>,
    owner: &str,
    fleet: Vec<String>,
) -> (Engine, Arc<ScriptedCarrier>, Arc<FleetClient>) {
    engine_over(
        store,
        owner,
        FleetClient::new(fleet, "secret".into(), Duration::from_secs(5)),
    )
}

/// An engine over `store` with the scripted carrier and the given fleet client.
pub fn engine_over(
    store: Arc<dyn Store>,
    owner: &str,
    fleet: FleetClient,
) -> (Engine, Arc<ScriptedCarrier>, Arc<FleetClient>) {
    engine_configured(store, EngineConfig::new(owner), fleet)
}

/// An engine with `config`, the scripted carrier and the given fleet client.
pub fn engine_configured(
    store: Arc<dyn Store>,
    config: EngineConfig,
    fleet: FleetClient,
) -> (Engine, Arc<ScriptedCarrier>, Arc<FleetClient>) {
    let carrier = Arc::new(ScriptedCarrier::default());
    let fleet = Arc::new(fleet);
    let engine = Engine::new(store, carrier.clone(), fleet.clone(), config);
    (engine, carrier, fleet)
}
