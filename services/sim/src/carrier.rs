//! `SimCarrier`: the PSTN simulator as a `Carrier`.
//!
//! Each placed dial gets a fate from the population.
//! Ringing, answers (with the carrier's AMD verdict when enabled), busy, failures and ring-outs
//! arrive as carrier events on the clock; an answered call connected to a worker runs a simulated
//! callee over the `vox` media protocol.

use crate::callee::{self, Part};
use crate::population::{Fate, Population};
use ::carrier::{Carrier, CarrierError, CarrierEvent, Dial};
use chrono::Utc;
use contracts::attach::{AmdVerdict, MediaProtocol};
use contracts::{CallId, CallOutcomeCode, CampaignId};
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
    /// The population the number belongs to.
    profile: Arc<Profile>,
}

/// A population and the persona its people speak with.
#[derive(Debug)]
struct Profile {
    population: Population,
    persona: Option<Arc<crate::Persona>>,
}

impl Profile {
    fn new(population: Population) -> Arc<Self> {
        let persona = population
            .persona
            .clone()
            .map(|c| Arc::new(crate::Persona::new(c)));
        Arc::new(Self {
            population,
            persona,
        })
    }
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
    default: Arc<Profile>,
    campaigns: HashMap<CampaignId, Arc<Profile>>,
    events: mpsc::UnboundedSender<CarrierEvent>,
    rng: Mutex<StdRng>,
    calls: Arc<Mutex<HashMap<CallId, SimCall>>>,
    voice: EspeakTts,
    pub stats: Arc<Mutex<SimStats>>,
}

impl std::fmt::Debug for SimCarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCarrier")
            .field("population", &self.default.population)
            .field("campaigns", &self.campaigns.len())
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
        Self {
            default: Profile::new(population),
            campaigns: HashMap::new(),
            events,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            calls: Arc::new(Mutex::new(HashMap::new())),
            voice: EspeakTts::default(),
            stats: Arc::new(Mutex::new(SimStats::default())),
        }
    }

    /// A carrier over a `SIM_POPULATION` file's populations.
    pub fn from_populations(
        populations: crate::population::Populations,
        seed: u64,
        events: mpsc::UnboundedSender<CarrierEvent>,
    ) -> Self {
        let mut carrier = Self::new(populations.default, seed, events);
        for (id, population) in populations.campaigns {
            carrier = carrier.with_campaign(CampaignId(id), population);
        }
        carrier
    }

    /// The numbers of `campaign` reach `population` instead of the default one.
    pub fn with_campaign(mut self, campaign: CampaignId, population: Population) -> Self {
        self.campaigns.insert(campaign, Profile::new(population));
        self
    }

    fn profile(&self, campaign: CampaignId) -> Arc<Profile> {
        self.campaigns
            .get(&campaign)
            .unwrap_or(&self.default)
            .clone()
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
        let profile = dial
            .campaign_id
            .map_or_else(|| self.default.clone(), |c| self.profile(c));
        let fate = profile.population.draw(&mut *self.rng.lock(), ring_timeout);
        let call_id = dial.call_id;
        let events = self.events.clone();
        let stats = self.stats.clone();
        let calls = self.calls.clone();
        let amd = profile.population.carrier_amd;
        let patience = secs(profile.population.patience_secs);
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
                profile,
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
        let (answered, profile) = {
            let mut calls = self.calls.lock();
            let call = calls
                .get_mut(&call_id)
                .ok_or(CarrierError::UnknownCall(call_id))?;
            call.task.abort();
            let answered = call
                .answered
                .ok_or_else(|| CarrierError::Failed(format!("call {call_id} is not answered")))?;
            (answered, call.profile.clone())
        };
        let population = &profile.population;
        let part = match answered {
            Answered::Person => {
                let u = self.rng.lock().random::<f64>();
                population.person_part(profile.persona.clone(), u)
            }
            Answered::Voicemail => Part {
                lines: vec![population.voicemail_greeting.clone()],
                speak_first: true,
                beep: true,
                hang_up_after: secs(population.hang_up_after_secs.min(30.0)),
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
                profile: profile.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn only(share: &str) -> Population {
        let mut p = Population {
            answer: 0.0,
            voicemail: 0.0,
            busy: 0.0,
            failed: 0.0,
            ..Population::default()
        };
        match share {
            "busy" => p.busy = 1.0,
            _ => p.failed = 1.0,
        }
        p
    }

    #[tokio::test(start_paused = true)]
    async fn each_campaign_reaches_its_own_population_and_the_rest_the_default() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let carrier =
            SimCarrier::new(only("failed"), 1, tx).with_campaign(CampaignId(7), only("busy"));
        let dial = |call: i64, campaign: i64| Dial {
            call_id: CallId(call),
            campaign_id: Some(CampaignId(campaign)),
            to: contracts::E164Number::parse("+14155550100").unwrap(),
            from: None,
            ring_timeout: Duration::from_secs(30),
            detect_machine: true,
        };
        carrier.place(dial(1, 7)).await.unwrap();
        carrier.place(dial(2, 8)).await.unwrap();
        let mut ends = std::collections::BTreeMap::new();
        while ends.len() < 2 {
            if let Some(CarrierEvent::Ended {
                call_id, outcome, ..
            }) = rx.recv().await
            {
                ends.insert(call_id.0, outcome);
            }
        }
        assert_eq!(ends[&1], CallOutcomeCode::DialBusy);
        assert_eq!(ends[&2], CallOutcomeCode::DialFailed);
    }
}
