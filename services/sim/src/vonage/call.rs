//! One emulated Vonage call, outbound or inbound: its fate, its events, its NCCO and WebSocket.

use super::{Control, Shared};
use crate::callee::{self, Conversation, Part};
use crate::population::Fate;
use crate::wire::{VonageStream, Wire};
use rand::Rng;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

/// A call leg: one created through the REST API (`outbound`), or a caller ringing one of the
/// application's numbers (`inbound`).
#[derive(Debug, Clone)]
pub(super) struct Leg {
    pub uuid: String,
    pub conversation_uuid: String,
    pub direction: &'static str,
    pub to: String,
    pub from: String,
    pub answer_url: String,
    pub event_url: Option<String>,
    pub machine_detection: bool,
    pub ringing_timer: f64,
}

impl Leg {
    /// What every webhook of the call carries.
    fn body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("uuid".into(), json!(self.uuid));
        body.insert("conversation_uuid".into(), json!(self.conversation_uuid));
        body.insert("from".into(), json!(self.from));
        body.insert("to".into(), json!(self.to));
        body.insert("direction".into(), json!(self.direction));
        body.insert("timestamp".into(), json!(chrono::Utc::now().to_rfc3339()));
        body
    }
}

/// How a call ended: its last event's `status`.
type End = &'static str;

/// Posts a signed JSON webhook; a connection that fails is tried once more after a second. The
/// response's body on a 2xx.
async fn send(shared: &Shared, url: &str, body: &Value) -> Result<String, String> {
    let body = body.to_string();
    let mut last = String::new();
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let token = telephony::vonage::signature::sign(
            &shared.config.signature_secret,
            "emulated-api-key",
            &shared.config.application_id,
            body.as_bytes(),
            chrono::Utc::now().timestamp(),
        );
        let sent = shared
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("authorization", token)
            .body(body.clone())
            .send()
            .await;
        shared.stats.lock().webhooks += 1;
        match sent {
            Ok(response) if response.status().is_success() => {
                return Ok(response.text().await.unwrap_or_default());
            }
            Ok(response) => {
                shared.stats.lock().webhook_failures += 1;
                return Err(format!("{url} answered {}", response.status()));
            }
            Err(error) if error.is_connect() => last = error.to_string(),
            Err(error) => {
                shared.stats.lock().webhook_failures += 1;
                return Err(error.to_string());
            }
        }
    }
    shared.stats.lock().webhook_failures += 1;
    Err(last)
}

/// Sends an event with `status` (and more fields), when the call has an event URL.
async fn event(shared: &Shared, call: &Leg, status: &str, more: Value) {
    let Some(url) = &call.event_url else {
        return;
    };
    let mut body = call.body();
    body.insert("status".into(), json!(status));
    if let Value::Object(more) = more {
        body.extend(more);
    }
    if let Err(error) = send(shared, url, &Value::Object(body)).await {
        tracing::warn!(uuid = %call.uuid, %error, "the event webhook failed");
    }
}

/// Waits `secs` unless the REST API acts on the call first.
async fn wait(secs: f64, control: &mut UnboundedReceiver<Control>) -> Option<Control> {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))) => None,
        action = control.recv() => Some(action.unwrap_or(Control::HangUp)),
    }
}

pub(super) async fn run(shared: Arc<Shared>, call: Leg, mut control: UnboundedReceiver<Control>) {
    // Both draws at creation, so a seed gives the same calls in the order they are created.
    let (fate, u) = {
        let mut rng = shared.rng.lock();
        let fate = shared.config.population.draw(&mut *rng, call.ringing_timer);
        (fate, rng.random::<f64>())
    };
    let mut answered = None;
    let end = lifetime(&shared, &call, (fate, u), &mut answered, &mut control).await;
    {
        let mut stats = shared.stats.lock();
        match end {
            "busy" => stats.busy += 1,
            "failed" => stats.failed += 1,
            "unanswered" => stats.no_answer += 1,
            "cancelled" => stats.canceled += 1,
            _ => {}
        }
    }
    shared.calls.lock().remove(&call.uuid);
    let more = match answered {
        Some(at) => json!({"duration": at.elapsed().as_secs().to_string()}),
        None => json!({}),
    };
    event(&shared, &call, end, more).await;
}

/// The call from creation to its end.
async fn lifetime(
    shared: &Arc<Shared>,
    call: &Leg,
    (fate, u): (Fate, f64),
    answered: &mut Option<Instant>,
    control: &mut UnboundedReceiver<Control>,
) -> End {
    event(shared, call, "started", json!({})).await;
    if wait(0.3, control).await.is_some() {
        return "cancelled";
    }
    event(shared, call, "ringing", json!({})).await;
    let (after, voicemail) = match fate {
        Fate::Person { after } => (after, false),
        Fate::Voicemail { after } => (after, true),
        Fate::Busy { after } => {
            return match wait(after, control).await {
                Some(_) => "cancelled",
                None => "busy",
            };
        }
        Fate::Failed { after } => {
            return match wait(after, control).await {
                Some(_) => "cancelled",
                None => "failed",
            };
        }
        Fate::NoAnswer => {
            return match wait(call.ringing_timer, control).await {
                Some(_) => "cancelled",
                None => "unanswered",
            };
        }
    };
    if wait(after, control).await.is_some() {
        return "cancelled";
    }
    shared.stats.lock().answered += 1;
    *answered = Some(Instant::now());
    event(shared, call, "answered", json!({})).await;
    if call.machine_detection {
        let (shared, call) = (shared.clone(), call.clone());
        tokio::spawn(async move {
            let ms = if voicemail { 2400 } else { 1600 };
            tokio::time::sleep(Duration::from_millis(ms)).await;
            shared.stats.lock().machine_verdicts += 1;
            let (status, more) = if voicemail {
                ("machine", json!({"sub_state": "beep_start"}))
            } else {
                ("human", json!({}))
            };
            event(&shared, &call, status, more).await;
        });
    }
    let ncco = match send(shared, &call.answer_url, &Value::Object(call.body())).await {
        Ok(ncco) => ncco,
        Err(error) => {
            tracing::warn!(uuid = %call.uuid, %error, "the answer webhook failed");
            return "completed";
        }
    };
    let part = if voicemail {
        shared.config.population.voicemail_part()
    } else {
        shared.config.population.person_part(None, u)
    };
    let started = answered.unwrap_or_else(Instant::now);
    follow(shared, call, &ncco, (part, started), control).await;
    "completed"
}

/// A caller rings one of the application's numbers: Vonage asks the answer URL for an NCCO,
/// follows it with `part` as the caller, and sends `completed` when it is over. The
/// conversation, or why there was none (what the caller heard before the hang-up).
pub(super) async fn ring(
    shared: Arc<Shared>,
    call: Leg,
    part: Part,
    mut control: UnboundedReceiver<Control>,
) -> Result<Conversation, String> {
    let answered = Instant::now();
    let outcome = match send(&shared, &call.answer_url, &Value::Object(call.body())).await {
        Ok(ncco) => {
            let followed = follow(&shared, &call, &ncco, (part, answered), &mut control).await;
            followed
                .conversation
                .ok_or_else(|| format!("refused: {}", followed.said.join(" ")))
        }
        Err(error) => Err(format!("the answer webhook failed: {error}")),
    };
    shared.calls.lock().remove(&call.uuid);
    let duration = answered.elapsed().as_secs().to_string();
    event(&shared, &call, "completed", json!({"duration": duration})).await;
    outcome
}

/// What following a call's NCCO came to.
#[derive(Debug, Default)]
struct Followed {
    conversation: Option<Conversation>,
    /// What `talk` told the callee.
    said: Vec<String>,
}

/// Runs an NCCO's actions, then any the REST API moves the call to, until it ends.
async fn follow(
    shared: &Arc<Shared>,
    call: &Leg,
    ncco: &str,
    (part, answered): (Part, Instant),
    control: &mut UnboundedReceiver<Control>,
) -> Followed {
    let mut followed = Followed::default();
    let mut ncco: Value = match serde_json::from_str(ncco) {
        Ok(ncco) => ncco,
        Err(error) => {
            tracing::warn!(uuid = %call.uuid, %error, "the NCCO is not JSON");
            return followed;
        }
    };
    loop {
        let Some(actions) = ncco.as_array().cloned() else {
            tracing::warn!(uuid = %call.uuid, "the NCCO is not an array");
            return followed;
        };
        let mut next = None;
        for action in actions {
            match action.get("action").and_then(Value::as_str) {
                Some("talk") => {
                    let text = action.get("text").and_then(Value::as_str).unwrap_or("");
                    shared.stats.lock().spoken.push(text.to_owned());
                    followed.said.push(text.to_owned());
                    // About 12 characters a second, as a voice reads them.
                    if let Some(act) = wait(text.len() as f64 / 12.0, control).await {
                        next = Some(act);
                        break;
                    }
                }
                Some("connect") => {
                    let endpoint = action.pointer("/endpoint/0").cloned().unwrap_or_default();
                    match endpoint.get("type").and_then(Value::as_str) {
                        Some("phone") => {
                            let number = endpoint.get("number").and_then(Value::as_str);
                            let number = telephony::number::e164(number.unwrap_or(""));
                            shared.stats.lock().transferred_to.push(number);
                            return followed;
                        }
                        Some("websocket") => {
                            let (talk, act) =
                                stream(shared, call, &endpoint, (part.clone(), answered), control)
                                    .await;
                            followed.conversation = talk.or(followed.conversation.take());
                            if let Some(act) = act {
                                next = Some(act);
                                break;
                            }
                        }
                        other => {
                            tracing::warn!(uuid = %call.uuid, ?other, "a connect this emulator does not follow");
                            return followed;
                        }
                    }
                }
                other => {
                    tracing::warn!(uuid = %call.uuid, ?other, "an NCCO action this emulator does not follow");
                    return followed;
                }
            }
        }
        match next {
            Some(Control::Transfer(moved)) => ncco = moved,
            Some(Control::HangUp) => {
                shared.stats.lock().hung_up += 1;
                return followed;
            }
            None => return followed,
        }
    }
}

/// The callee on the WebSocket, until someone hangs up (no action) or the REST API acts: the
/// conversation when it ended by itself (its first bot audio counted from the answer), and the
/// REST API's action.
async fn stream(
    shared: &Arc<Shared>,
    call: &Leg,
    endpoint: &Value,
    (part, answered): (Part, Instant),
    control: &mut UnboundedReceiver<Control>,
) -> (Option<Conversation>, Option<Control>) {
    let before_stream = answered.elapsed().as_secs_f64();
    let uri = endpoint.get("uri").and_then(Value::as_str).unwrap_or("");
    let mut headers = endpoint
        .get("headers")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    headers.insert("uuid".into(), json!(call.uuid));
    let wire = Wire::Vonage(Box::new(VonageStream::new(headers)));
    shared.stats.lock().streamed += 1;
    let talk = callee::converse_over(wire, uri, part, &shared.voice);
    tokio::select! {
        talked = talk => {
            match talked {
                Ok(mut talk) => {
                    talk.first_bot_audio_secs =
                        talk.first_bot_audio_secs.map(|secs| secs + before_stream);
                    let mut stats = shared.stats.lock();
                    stats.conversations += 1;
                    stats.lines_said += talk.lines_said as u64;
                    if let Some(secs) = talk.first_bot_audio_secs {
                        stats.first_audio_secs.push(secs);
                    }
                    (Some(talk), None)
                }
                Err(error) => {
                    tracing::warn!(uuid = %call.uuid, %error, "the WebSocket failed");
                    (None, None)
                }
            }
        }
        action = control.recv() => (None, Some(action.unwrap_or(Control::HangUp))),
    }
}
