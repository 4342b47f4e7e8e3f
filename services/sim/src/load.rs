//! The load generator (`vox sim`).
//!
//! Simulated callers ring an inbound number, the Backend routes each to its bot, the fleet takes it
//! (next worker on 429), and a simulated caller talks to the bot over the `vox` media protocol in
//! real time; a report of what the callers heard comes back.
//!
//! Each call takes one of two ways (`Route`):
//! - **Straight to the fleet**, the way a carrier's inbound call does: `GET /api/v1/config?to=…&from=…`
//!   with the fleet secret creates the call record (the number must be routed to a bot),
//!   `POST /attach` reserves a worker slot, and the caller connects to the media URL the attach
//!   returned over the `vox` media protocol.
//! - **Through the Twilio emulator** (`vox sim --carrier twilio`): the emulator rings the number,
//!   posts its signed voice webhook to the Backend's telephony edge, which routes and attaches the
//!   call, and the caller talks over Twilio's media stream. Through the Telnyx emulator
//!   (`--carrier telnyx`) alike: `call.initiated`, the edge's `answer` and `streaming_start`;
//!   through the Plivo emulator (`--carrier plivo`), the application's answer URL and a `<Stream>`;
//!   through the Vonage emulator (`--carrier vonage`), the answer URL and a `connect` NCCO;
//!   through the Exotel emulator (`--carrier exotel`), the flow's Voicebot applet URL.
//!
//! The Backend gets every result from the workers as usual, so the console shows the calls.

use crate::callee::{self, Part};
use crate::persona::Persona;
use crate::population::Population;
use chrono::Utc;
use contracts::E164Number;
use contracts::attach::{AttachRequest, MediaProtocol};
use contracts::runtime_config::{CallDirection, RuntimeConfig};
use fleet_client::{AttachError, FleetClient};
use parking_lot::Mutex;
use providers::tts::espeak::EspeakTts;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long a caller waits for a free worker slot before the call counts as failed.
const SLOT_WAIT: Duration = Duration::from_secs(15);

/// Which way the calls reach the bots.
#[derive(Debug, Clone)]
pub enum Route {
    /// Straight to the fleet, the call record opened with the fleet secret.
    Fleet(Arc<FleetClient>),
    /// Rung through the Twilio emulator at the number's webhooks (the telephony edge's).
    Twilio {
        emulator: Arc<crate::TwilioEmulator>,
        voice_url: String,
        status_callback: String,
    },
    /// Rung through the Telnyx emulator, whose application webhook is the telephony edge's.
    Telnyx(Arc<crate::TelnyxEmulator>),
    /// Rung through the Plivo emulator at the application's answer and hang-up URLs.
    Plivo {
        emulator: Arc<crate::PlivoEmulator>,
        answer_url: String,
        hangup_url: String,
    },
    /// Rung through the Vonage emulator at the application's answer and event URLs.
    Vonage {
        emulator: Arc<crate::VonageEmulator>,
        answer_url: String,
        event_url: String,
    },
    /// Rung through the Exotel emulator, whose ExoPhone runs the Voicebot flow.
    Exotel {
        emulator: Arc<crate::ExotelEmulator>,
        flow: crate::ExotelFlow,
    },
}

impl From<Arc<FleetClient>> for Route {
    fn from(fleet: Arc<FleetClient>) -> Self {
        Self::Fleet(fleet)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The Backend's base URL (`VOXBRIDGE_URL`).
    pub bridge_url: String,
    /// The fleet secret (`VOXCORE_SECRET`).
    pub secret: String,
    /// The inbound number the callers dial; it must be routed to a bot.
    pub number: E164Number,
    /// How many calls in all, and at most how many at once.
    pub calls: usize,
    pub concurrency: usize,
    /// What callers say (`script`) and when they give up (`hang_up_after_secs`).
    pub population: Population,
}

/// Why the generator cannot start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error("{field} must be at least 1")]
    Zero { field: &'static str },
    #[error("the population is unusable: {0}")]
    Population(#[from] crate::population::PopulationError),
    #[error("the number {0:?} is not an E.164 number (+ and 8 to 15 digits)")]
    Number(String),
}

/// The number to ring, from what an operator typed.
pub fn number(text: &str) -> Result<E164Number, LoadError> {
    E164Number::parse(text).map_err(|_| LoadError::Number(text.to_owned()))
}

/// What the callers saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    pub calls: usize,
    /// Calls that reached a worker's media socket.
    pub connected: usize,
    /// Calls the bot ended (rather than the caller giving up).
    pub ended_by_bot: usize,
    pub failed: usize,
    /// The first few failures, for the operator.
    pub errors: Vec<String>,
    /// Seconds from the answer to the bot's first audio, per call that heard it: from the
    /// runtime-config request (straight to the fleet) or the voice webhook (through Twilio), so
    /// the call's routing, the worker's reservation and the media connection are in it.
    pub first_audio_secs: Vec<f64>,
    /// Seconds each connected call lasted.
    pub call_secs: Vec<f64>,
    pub lines_said: usize,
    /// Calls in which the caller spoke over the bot, and the clears the workers sent back.
    pub barge_ins: usize,
    pub clears: usize,
    pub wall_secs: f64,
}

impl LoadReport {
    /// The `q` quantile (0–1) of `values`, when there are any.
    pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let index = ((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        Some(sorted[index])
    }
}

/// What one caller does: waits for the bot's greeting rather than saying hello, unless the
/// population answers with a line.
fn caller(config: &LoadConfig, persona: Option<Arc<Persona>>) -> Part {
    let mut part = config
        .population
        .person_part(persona, rand::random::<f64>());
    if !config.population.answer_with.trim().is_empty() {
        part.lines.remove(0);
        part.speak_first = false;
    }
    part
}

/// One call's way: the Backend's call record, a worker, the conversation.
async fn one_call(
    config: &LoadConfig,
    http: &reqwest::Client,
    route: &Route,
    voice: &EspeakTts,
    persona: Option<Arc<Persona>>,
    index: usize,
) -> Result<callee::Conversation, String> {
    let from = format!("+1202555{:04}", index % 10_000);
    // The call is answered now: its record is opened, a worker reserved, the media connected.
    let answered = Instant::now();
    let fleet = match route {
        Route::Fleet(fleet) => fleet,
        Route::Twilio {
            emulator,
            voice_url,
            status_callback,
        } => {
            let inbound = crate::Inbound {
                from,
                to: config.number.as_str().to_owned(),
                voice_url: voice_url.clone(),
                status_callback: Some(status_callback.clone()),
            };
            return emulator.ring(inbound, caller(config, persona)).await;
        }
        Route::Telnyx(emulator) => {
            let inbound = crate::TelnyxInbound {
                from,
                to: config.number.as_str().to_owned(),
            };
            return emulator.ring(inbound, caller(config, persona)).await;
        }
        Route::Plivo {
            emulator,
            answer_url,
            hangup_url,
        } => {
            let inbound = crate::PlivoInbound {
                from: telephony::number::digits(&from).to_owned(),
                to: telephony::number::digits(config.number.as_str()).to_owned(),
                answer_url: answer_url.clone(),
                hangup_url: Some(hangup_url.clone()),
            };
            return emulator.ring(inbound, caller(config, persona)).await;
        }
        Route::Vonage {
            emulator,
            answer_url,
            event_url,
        } => {
            let inbound = crate::VonageInbound {
                from: telephony::number::digits(&from).to_owned(),
                to: telephony::number::digits(config.number.as_str()).to_owned(),
                answer_url: answer_url.clone(),
                event_url: Some(event_url.clone()),
            };
            return emulator.ring(inbound, caller(config, persona)).await;
        }
        Route::Exotel { emulator, flow } => {
            let inbound = crate::ExotelInbound {
                from,
                to: config.number.as_str().to_owned(),
                flow: flow.clone(),
            };
            return emulator.ring(inbound, caller(config, persona)).await;
        }
    };
    let runtime: RuntimeConfig = http
        .get(format!(
            "{}/api/v1/config?to={}&from={}",
            config.bridge_url.trim_end_matches('/'),
            config.number.as_str().replace('+', "%2B"),
            from.replace('+', "%2B")
        ))
        .bearer_auth(&config.secret)
        .send()
        .await
        .map_err(|e| format!("the Backend did not answer: {e}"))?
        .error_for_status()
        .map_err(|e| format!("the Backend refused the call: {e}"))?
        .json()
        .await
        .map_err(|e| format!("the Backend's runtime config was unreadable: {e}"))?;
    let request = AttachRequest {
        call_id: runtime.call_id,
        direction: CallDirection::Inbound,
        campaign_id: None,
        carrier: "sim".to_owned(),
        carrier_call_id: format!("SIM-LOAD-{}", runtime.call_id.0),
        media_protocol: MediaProtocol::Vox,
        from: E164Number::parse(&from).ok(),
        to: Some(config.number.clone()),
        answered_at: Utc::now(),
        amd: None,
        client: None,
    };
    // Like a carrier's queue: a full fleet is asked again until a slot frees or the wait is over.
    let deadline = Instant::now() + SLOT_WAIT;
    let accepted = loop {
        match fleet.attach(&request).await {
            Ok(accepted) => break accepted,
            Err(AttachError::NoCapacity { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(format!("call {}: {e}", runtime.call_id)),
        }
    };
    let before_media = answered.elapsed().as_secs_f64();
    let mut talk = callee::converse(&accepted.media_url, caller(config, persona), voice)
        .await
        .map_err(|e| format!("call {}: {e}", runtime.call_id))?;
    talk.first_bot_audio_secs = talk.first_bot_audio_secs.map(|secs| secs + before_media);
    Ok(talk)
}

/// Runs the calls, `concurrency` at a time, the `route`'s way; `progress` sees the report after
/// each call ends.
pub async fn run(
    config: LoadConfig,
    route: impl Into<Route>,
    progress: impl Fn(&LoadReport) + Send + Sync + 'static,
) -> Result<LoadReport, LoadError> {
    if config.calls == 0 {
        return Err(LoadError::Zero { field: "calls" });
    }
    if config.concurrency == 0 {
        return Err(LoadError::Zero {
            field: "concurrency",
        });
    }
    config.population.validate()?;
    let route = route.into();
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let gate = Arc::new(tokio::sync::Semaphore::new(config.concurrency));
    let report = Arc::new(Mutex::new(LoadReport {
        calls: config.calls,
        ..LoadReport::default()
    }));
    let progress = Arc::new(progress);
    let config = Arc::new(config);
    let voice = EspeakTts::default();
    let persona = config
        .population
        .persona
        .clone()
        .map(|c| Arc::new(Persona::new(c)));
    let mut tasks = Vec::with_capacity(config.calls);
    for index in 0..config.calls {
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break;
        };
        let persona = persona.clone();
        let (config, http, route, voice, report, progress) = (
            config.clone(),
            http.clone(),
            route.clone(),
            voice.clone(),
            report.clone(),
            progress.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let began = Instant::now();
            let outcome = one_call(&config, &http, &route, &voice, persona, index).await;
            drop(permit);
            let snapshot = {
                let mut r = report.lock();
                match outcome {
                    Ok(talk) => {
                        r.connected += 1;
                        r.ended_by_bot += usize::from(talk.ended_by_worker);
                        r.lines_said += talk.lines_said;
                        r.barge_ins += usize::from(talk.barged_in);
                        r.clears += talk.clears;
                        r.call_secs.push(began.elapsed().as_secs_f64());
                        if let Some(first) = talk.first_bot_audio_secs {
                            r.first_audio_secs.push(first);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "a simulated call failed");
                        r.failed += 1;
                        if r.errors.len() < 5 {
                            r.errors.push(error);
                        }
                    }
                }
                r.clone()
            };
            progress(&snapshot);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let mut done = report.lock().clone();
    done.wall_secs = started.elapsed().as_secs_f64();
    Ok(done)
}
