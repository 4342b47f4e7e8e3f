//! `SimCarrier`: the PSTN simulator as a `Carrier`. Each placed dial gets a fate from the population; ringing, answers (with the carrier's AMD verdict when enabled), busy, failures and ring-outs arrive as carrier events on the clock; an answered call connected to a worker runs a simulated callee over the `vox` media protocol.

use crate::callee::{self, Part};
use crate::population::{Fate, Population};
use chrono::Utc;
use contracts::attach::{AmdVerdict, MediaProtocol};
use contracts::{CallId, CallOutcomeCode};
use dialler::carrier::{Carrier, CarrierError, CarrierEvent, Dial};
use parking_lot::Mutex;
use providers::tts::espeak::EspeakTts;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What an answered simulated call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answered {
    Person,
    Voicemail,
}

#[derive(Debug)]
struct SimCall {
    /// The task that rings the call (aborted on cancel) or, once connected, runs the callee.
    task: JoinHandle<()>,
    answered: Option<Answered>,
}

/// Running totals, for the load generator's report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SimStats {
    pub placed: u64,
    pub answered: u64,
    pub voicemail: u64,
    pub busy: u64,
    pub failed: u64,
    pub no_answer: u64,
    pub connected: u64,
    pub conversations_done: u64,
    pub lines_said: u64,
    pub media_errors: u64,
    /// Voicemails the bot spoke a message into.
    pub voicemail_messages: u64,
}

/// The simulated carrier.
pub struct SimCarrier {
    population: Population,
    events: mpsc::UnboundedSender<CarrierEvent>,
    rng: Mutex<StdRng>,
    calls: Arc<Mutex<HashMap<CallId, SimCall>>>,
    voice: EspeakTts,
    persona: Option<Arc<crate::Persona>>,
    pub stats: Arc<Mutex<SimStats>>,
}

impl std::fmt::Debug for SimCarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCarrier")
            .field("population", &self.population)
            .field("calls", &self.calls.lock().len())
            .finish_non_exhaustive()
    }
}

impl SimCarrier {
    /// A carrier over `population`, seeded for repeatable runs; events go to `events`.
    pub fn new(
        population: Population,
        seed: u64,
        events: mpsc::UnboundedSender<CarrierEvent>,
    ) -> Self {
        let persona = population
            .persona
            .clone()
            .map(|c| Arc::new(crate::Persona::new(c)));
        Self {
            population,
            events,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            calls: Arc::new(Mutex::new(HashMap::new())),
            voice: EspeakTts::default(),
            persona,
            stats: Arc::new(Mutex::new(SimStats::default())),
        }
    }

    /// Stops every simulated call at once, as when the process hosting the simulator dies: rings
    /// stop and connected callees drop their media; no events follow.
    pub fn crash(&self) {
        for (_, call) in self.calls.lock().drain() {
            call.task.abort();
        }
    }

    fn emit(events: &mpsc::UnboundedSender<CarrierEvent>, event: CarrierEvent) {
        let _ = events.send(event);
    }

    fn ended(
        events: &mpsc::UnboundedSender<CarrierEvent>,
        call_id: CallId,
        outcome: CallOutcomeCode,
        detail: &str,
    ) {
        Self::emit(
            events,
            CarrierEvent::Ended {
                call_id,
                at: Utc::now(),
                outcome,
                detail: detail.to_owned(),
            },
        );
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

#[async_trait::async_trait]
impl Carrier for SimCarrier {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn media_protocol(&self) -> MediaProtocol {
        MediaProtocol::Vox
    }

    async fn place(&self, dial: Dial) -> Result<String, CarrierError> {
        let ring_timeout = dial.ring_timeout.as_secs_f64();
        let fate = self.population.draw(&mut *self.rng.lock(), ring_timeout);
        let call_id = dial.call_id;
        let events = self.events.clone();
        let stats = self.stats.clone();
        let calls = self.calls.clone();
        let amd = self.population.carrier_amd;
        let patience = secs(self.population.patience_secs);
        stats.lock().placed += 1;
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Self::emit(
                &events,
                CarrierEvent::Ringing {
                    call_id,
                    at: Utc::now(),
                },
            );
            let (after, answered) = match fate {
                Fate::Person { after } => (after, Answered::Person),
                Fate::Voicemail { after } => (after, Answered::Voicemail),
                unanswered => {
                    let (after, outcome, detail) = match unanswered {
                        Fate::Busy { after } => {
                            (after, CallOutcomeCode::DialBusy, "the line is busy")
                        }
                        Fate::Failed { after } => (
                            after,
                            CallOutcomeCode::DialFailed,
                            "the network failed the call",
                        ),
                        _ => (ring_timeout, CallOutcomeCode::DialNoAnswer, "no answer"),
                    };
                    tokio::time::sleep(secs(after)).await;
                    {
                        let mut s = stats.lock();
                        match outcome {
                            CallOutcomeCode::DialBusy => s.busy += 1,
                            CallOutcomeCode::DialFailed => s.failed += 1,
                            _ => s.no_answer += 1,
                        }
                    }
                    calls.lock().remove(&call_id);
                    return Self::ended(&events, call_id, outcome, detail);
                }
            };
            tokio::time::sleep(secs(after)).await;
            {
                let mut s = stats.lock();
                match answered {
                    Answered::Person => s.answered += 1,
                    Answered::Voicemail => s.voicemail += 1,
                }
            }
            if let Some(call) = calls.lock().get_mut(&call_id) {
                call.answered = Some(answered);
            }
            let verdict = amd.then_some(match answered {
                Answered::Person => AmdVerdict::Human,
                Answered::Voicemail => AmdVerdict::Machine,
            });
            Self::emit(
                &events,
                CarrierEvent::Answered {
                    call_id,
                    at: Utc::now(),
                    amd: verdict,
                },
            );
            // Nobody connected the call in time: the callee gives up.
            tokio::time::sleep(patience).await;
            if calls.lock().remove(&call_id).is_some() {
                Self::ended(
                    &events,
                    call_id,
                    CallOutcomeCode::CallCallerHangup,
                    "the callee hung up waiting",
                );
            }
        });
        self.calls.lock().insert(
            call_id,
            SimCall {
                task,
                answered: None,
            },
        );
        Ok(format!("SIM-{}", call_id.0))
    }

    async fn cancel(&self, call_id: CallId) -> Result<(), CarrierError> {
        let call = self
            .calls
            .lock()
            .remove(&call_id)
            .ok_or(CarrierError::UnknownCall(call_id))?;
        call.task.abort();
        Self::ended(
            &self.events,
            call_id,
            CallOutcomeCode::DialCanceled,
            "canceled",
        );
        Ok(())
    }

    async fn connect(&self, call_id: CallId, media_url: &str) -> Result<(), CarrierError> {
        let answered = {
            let mut calls = self.calls.lock();
            let call = calls
                .get_mut(&call_id)
                .ok_or(CarrierError::UnknownCall(call_id))?;
            call.task.abort();
            call.answered
                .ok_or_else(|| CarrierError::Failed(format!("call {call_id} is not answered")))?
        };
        let part = match answered {
            Answered::Person => {
                let u = self.rng.lock().random::<f64>();
                self.population.person_part(self.persona.clone(), u)
            }
            Answered::Voicemail => Part {
                lines: vec![self.population.voicemail_greeting.clone()],
                speak_first: true,
                beep: true,
                hang_up_after: secs(self.population.hang_up_after_secs.min(30.0)),
                persona: None,
                barge_in: None,
            },
        };
        self.stats.lock().connected += 1;
        let (events, stats, calls, voice) = (
            self.events.clone(),
            self.stats.clone(),
            self.calls.clone(),
            self.voice.clone(),
        );
        let url = media_url.to_owned();
        let task = tokio::spawn(async move {
            let (outcome, detail) = match callee::converse(&url, part, &voice).await {
                Ok(talk) => {
                    let mut s = stats.lock();
                    s.conversations_done += 1;
                    s.lines_said += talk.lines_said as u64;
                    if answered == Answered::Voicemail && talk.bot_audio_secs > 0.5 {
                        s.voicemail_messages += 1;
                    }
                    if talk.ended_by_worker {
                        (
                            CallOutcomeCode::CallBotHangup,
                            "the bot ended the call".to_owned(),
                        )
                    } else {
                        (
                            CallOutcomeCode::CallCallerHangup,
                            "the callee hung up".to_owned(),
                        )
                    }
                }
                Err(error) => {
                    stats.lock().media_errors += 1;
                    tracing::warn!(%call_id, %error, "the simulated callee's media failed");
                    (CallOutcomeCode::CallCallerHangup, error.to_string())
                }
            };
            calls.lock().remove(&call_id);
            Self::ended(&events, call_id, outcome, &detail);
        });
        self.calls.lock().insert(
            call_id,
            SimCall {
                task,
                answered: Some(answered),
            },
        );
        Ok(())
    }

    async fn play_and_hang_up(&self, call_id: CallId, _message: &str) -> Result<(), CarrierError> {
        // The message plays into the simulated line; the call is over for the dialler already.
        if let Some(call) = self.calls.lock().remove(&call_id) {
            call.task.abort();
        }
        Ok(())
    }
}
