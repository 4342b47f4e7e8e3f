//! One emulated Telnyx call, outgoing or incoming: its fate, its signed webhooks, its commands.

use super::{Command, SILENCE_PATIENCE_SECS, Shared};
use crate::callee::{self, Conversation, Part};
use crate::population::Fate;
use crate::wire::{TelnyxStream, Wire};
use parking_lot::Mutex;
use rand::Rng;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

/// How long an answered call waits for the app's next command before the callee gives up.
const COMMAND_PATIENCE_SECS: f64 = 30.0;

/// A call leg: one dialled through the REST API, or a caller ringing one of the numbers.
#[derive(Debug, Clone)]
pub(super) struct Leg {
    pub id: String,
    pub incoming: bool,
    pub to: String,
    pub from: String,
    pub webhook_url: String,
    pub detect_machine: bool,
    pub timeout_secs: f64,
}

/// How a call ended: `hangup_cause`, `hangup_source`, `sip_hangup_cause`.
struct End(&'static str, &'static str, u16);

/// The call's webhooks, each carrying the `client_state` the last command set.
struct Hooks {
    shared: Arc<Shared>,
    leg: Leg,
    client_state: Arc<Mutex<Option<String>>>,
    started: chrono::DateTime<chrono::Utc>,
}

impl Hooks {
    fn payload(&self, state: &str) -> Value {
        let leg = &self.leg;
        json!({
            "call_control_id": leg.id,
            "call_leg_id": leg.id.trim_start_matches("v3:"),
            "call_session_id": leg.id.trim_start_matches("v3:"),
            "connection_id": self.shared.config.connection_id,
            "client_state": *self.client_state.lock(),
            "from": leg.from,
            "to": leg.to,
            "direction": if leg.incoming { "incoming" } else { "outgoing" },
            "state": state,
            "start_time": self.started.to_rfc3339(),
        })
    }

    /// Posts a signed event; a connection that fails is tried once more after a second.
    async fn send(&self, event_type: &str, payload: Value) {
        let id: u128 = self.shared.rng.lock().random();
        let mut last = String::new();
        for attempt in 1..=2u32 {
            if attempt > 1 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let body = json!({
                "data": {
                    "record_type": "event",
                    "event_type": event_type,
                    "id": format!("{id:032x}"),
                    "occurred_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    "payload": payload,
                },
                "meta": {"attempt": attempt, "delivered_to": self.leg.webhook_url},
            })
            .to_string();
            let timestamp = chrono::Utc::now().timestamp();
            let signed =
                telephony::telnyx::signature::sign(&self.shared.key, timestamp, body.as_bytes());
            let sent = self
                .shared
                .http
                .post(&self.leg.webhook_url)
                .header("content-type", "application/json")
                .header(telephony::telnyx::signature::SIGNATURE_HEADER, signed)
                .header(
                    telephony::telnyx::signature::TIMESTAMP_HEADER,
                    timestamp.to_string(),
                )
                .body(body)
                .send()
                .await;
            self.shared.stats.lock().webhooks += 1;
            match sent {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => {
                    last = format!("answered {}", response.status());
                    break;
                }
                Err(error) if error.is_connect() => last = error.to_string(),
                Err(error) => {
                    last = error.to_string();
                    break;
                }
            }
        }
        self.shared.stats.lock().webhook_failures += 1;
        tracing::warn!(call_control_id = %self.leg.id, event_type, error = %last, "a Telnyx webhook failed");
    }

    async fn event(&self, event_type: &str, state: &str) {
        self.send(event_type, self.payload(state)).await;
    }

    async fn hangup(&self, end: End) {
        self.shared.calls.lock().remove(&self.leg.id);
        let mut payload = self.payload("hangup");
        payload["hangup_cause"] = json!(end.0);
        payload["hangup_source"] = json!(end.1);
        payload["sip_hangup_cause"] = json!(end.2.to_string());
        self.send("call.hangup", payload).await;
    }
}

/// Waits `secs` unless the app sends a command first (a dropped channel is a hang-up).
async fn wait(secs: f64, commands: &mut UnboundedReceiver<Command>) -> Option<Command> {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))) => None,
        command = commands.recv() => Some(command.unwrap_or(Command::Hangup)),
    }
}

pub(super) async fn run(
    shared: Arc<Shared>,
    leg: Leg,
    mut commands: UnboundedReceiver<Command>,
    client_state: Arc<Mutex<Option<String>>>,
    over_limit: bool,
) {
    let fate = shared
        .config
        .population
        .draw(&mut *shared.rng.lock(), leg.timeout_secs);
    let hooks = Hooks {
        shared: shared.clone(),
        leg,
        client_state,
        started: chrono::Utc::now(),
    };
    hooks.event("call.initiated", "bridging").await;
    let end = if over_limit {
        shared.stats.lock().over_limit += 1;
        End("call_rejected", "callee", 403)
    } else {
        lifetime(&hooks, fate, &mut commands).await
    };
    {
        let mut stats = shared.stats.lock();
        match end.0 {
            "user_busy" => stats.busy += 1,
            "timeout" => stats.no_answer += 1,
            "originator_cancel" => stats.canceled += 1,
            "unspecified" => stats.failed += 1,
            _ => {}
        }
    }
    hooks.hangup(end).await;
}

/// An outgoing call from the dial to its end.
async fn lifetime(hooks: &Hooks, fate: Fate, commands: &mut UnboundedReceiver<Command>) -> End {
    let cancel = End("originator_cancel", "caller", 487);
    let (after, voicemail) = match fate {
        Fate::Person { after } => (after, false),
        Fate::Voicemail { after } => (after, true),
        Fate::Busy { after } => {
            return match wait(after, commands).await {
                Some(_) => cancel,
                None => End("user_busy", "callee", 486),
            };
        }
        Fate::Failed { after } => {
            return match wait(after, commands).await {
                Some(_) => cancel,
                None => End("unspecified", "callee", 503),
            };
        }
        Fate::NoAnswer => {
            return match wait(hooks.leg.timeout_secs, commands).await {
                Some(_) => cancel,
                None => End("timeout", "callee", 480),
            };
        }
    };
    if wait(after, commands).await.is_some() {
        return cancel;
    }
    let shared = &hooks.shared;
    shared.stats.lock().answered += 1;
    let answered = Instant::now();
    hooks.event("call.answered", "answered").await;
    if hooks.leg.detect_machine {
        let shared = shared.clone();
        let mut payload = hooks.payload("answered");
        let (verdict, ms) = if voicemail {
            ("machine", 2400)
        } else {
            ("human", 1600)
        };
        let hooks = Hooks {
            shared: shared.clone(),
            leg: hooks.leg.clone(),
            client_state: hooks.client_state.clone(),
            started: hooks.started,
        };
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            payload["result"] = json!(verdict);
            payload["client_state"] = json!(*hooks.client_state.lock());
            shared.stats.lock().machine_verdicts += 1;
            hooks.send("call.machine.detection.ended", payload).await;
        });
    }
    let part = if voicemail {
        shared.config.population.voicemail_part()
    } else {
        let u = shared.rng.lock().random::<f64>();
        shared.config.population.person_part(None, u)
    };
    answered_call(hooks, (part, answered), commands).await.0
}

/// A caller rings one of the account's numbers: `call.initiated` (incoming, parked), then it
/// rings until the app answers it. The conversation, or why there was none.
pub(super) async fn ring(
    shared: Arc<Shared>,
    leg: Leg,
    part: Part,
    mut commands: UnboundedReceiver<Command>,
    client_state: Arc<Mutex<Option<String>>>,
) -> Result<Conversation, String> {
    let hooks = Hooks {
        shared: shared.clone(),
        leg,
        client_state,
        started: chrono::Utc::now(),
    };
    hooks.event("call.initiated", "parked").await;
    let outcome = loop {
        match wait(hooks.leg.timeout_secs, &mut commands).await {
            Some(Command::Answer) => break None,
            Some(Command::Hangup) => {
                break Some((
                    End("call_rejected", "caller", 603),
                    "rejected unanswered".into(),
                ));
            }
            Some(other) => {
                tracing::warn!(call_control_id = %hooks.leg.id, ?other, "a command for a call that is not answered");
            }
            None => break Some((End("timeout", "caller", 480), "nobody answered".into())),
        }
    };
    let (end, result) = match outcome {
        Some((end, why)) => (end, Err(why)),
        None => {
            shared.stats.lock().answered += 1;
            let answered = Instant::now();
            hooks.event("call.answered", "answered").await;
            let (end, talk, said) = answered_call(&hooks, (part, answered), &mut commands).await;
            let result = talk.ok_or_else(|| format!("refused: {}", said.join(" ")));
            (end, result)
        }
    };
    hooks.hangup(end).await;
    result
}

/// An answered call follows the app's commands until someone hangs up: how it ended, the
/// conversation on a stream when there was one, and what `speak` said.
async fn answered_call(
    hooks: &Hooks,
    (part, answered): (Part, Instant),
    commands: &mut UnboundedReceiver<Command>,
) -> (End, Option<Conversation>, Vec<String>) {
    let shared = &hooks.shared;
    let mut said = Vec::new();
    let hung_up = || {
        shared.stats.lock().hung_up += 1;
        End("normal_clearing", "caller", 200)
    };
    loop {
        match wait(COMMAND_PATIENCE_SECS, commands).await {
            None => return (End("normal_clearing", "callee", 200), None, said),
            Some(Command::Hangup) => return (hung_up(), None, said),
            Some(Command::Answer) => {}
            Some(Command::SendDtmf(digits)) => shared.stats.lock().digits.push(digits),
            Some(Command::Transfer(number)) => {
                shared.stats.lock().transferred_to.push(number);
                return (End("normal_clearing", "caller", 200), None, said);
            }
            Some(Command::Speak(text)) => {
                // About 12 characters a second, as a voice reads them.
                let secs = text.len() as f64 / 12.0;
                shared.stats.lock().spoken.push(text.clone());
                said.push(text);
                if let Some(command) = wait(secs, commands).await {
                    if command == Command::Hangup {
                        return (hung_up(), None, said);
                    }
                    tracing::warn!(call_control_id = %hooks.leg.id, ?command, "a command while speaking");
                }
                hooks.event("call.speak.ended", "answered").await;
            }
            Some(Command::Stream { url }) => {
                let (end, talk) = stream(hooks, &url, (part, answered), commands).await;
                return (end, talk, said);
            }
        }
    }
}

/// The callee on the bidirectional stream, then in silence once the worker closes it, until
/// the app hangs up (or the callee gives up).
async fn stream(
    hooks: &Hooks,
    url: &str,
    (part, answered): (Part, Instant),
    commands: &mut UnboundedReceiver<Command>,
) -> (End, Option<Conversation>) {
    let shared = &hooks.shared;
    let before_stream = answered.elapsed().as_secs_f64();
    let stream_id = format!("{:032x}", shared.rng.lock().random::<u128>());
    let wire = Wire::Telnyx(Box::new(TelnyxStream::new(
        &stream_id,
        &hooks.leg.id,
        hooks.client_state.lock().clone(),
    )));
    shared.stats.lock().streamed += 1;
    let mut started = hooks.payload("answered");
    started["stream_url"] = json!(url);
    started["stream_id"] = json!(stream_id);
    hooks.send("streaming.started", started).await;
    let talk = callee::converse_over(wire, url, part, &shared.voice);
    tokio::pin!(talk);
    let talked = loop {
        tokio::select! {
            talked = &mut talk => break talked,
            command = commands.recv() => match command {
                // Telnyx plays the keys into the call; the conversation goes on.
                Some(Command::SendDtmf(digits)) => shared.stats.lock().digits.push(digits),
                Some(Command::Transfer(number)) => {
                    shared.stats.lock().transferred_to.push(number);
                    return (End("normal_clearing", "caller", 200), None);
                }
                _ => {
                    shared.stats.lock().hung_up += 1;
                    return (End("normal_clearing", "caller", 200), None);
                }
            },
        }
    };
    hooks.event("streaming.stopped", "answered").await;
    let talk = match talked {
        Ok(mut talk) => {
            talk.first_bot_audio_secs = talk.first_bot_audio_secs.map(|secs| secs + before_stream);
            let mut stats = shared.stats.lock();
            stats.conversations += 1;
            stats.lines_said += talk.lines_said as u64;
            if let Some(secs) = talk.first_bot_audio_secs {
                stats.first_audio_secs.push(secs);
            }
            talk
        }
        Err(error) => {
            tracing::warn!(call_control_id = %hooks.leg.id, %error, "the media stream failed");
            return (End("normal_clearing", "callee", 200), None);
        }
    };
    if !talk.ended_by_worker {
        return (End("normal_clearing", "callee", 200), Some(talk));
    }
    // The stream is over but the call is not: the caller hears silence until the app hangs up.
    loop {
        match wait(SILENCE_PATIENCE_SECS, commands).await {
            Some(Command::Hangup) => {
                shared.stats.lock().hung_up += 1;
                return (End("normal_clearing", "caller", 200), Some(talk));
            }
            Some(Command::Transfer(number)) => {
                shared.stats.lock().transferred_to.push(number);
                return (End("normal_clearing", "caller", 200), Some(talk));
            }
            Some(Command::SendDtmf(digits)) => shared.stats.lock().digits.push(digits),
            Some(_) => {}
            None => {
                shared.stats.lock().left_in_silence += 1;
                return (End("normal_clearing", "callee", 200), Some(talk));
            }
        }
    }
}
