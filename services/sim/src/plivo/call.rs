//! One emulated Plivo call, outbound or inbound: its fate, callbacks, XML and audio stream.

use super::xml::{self, Element};
use super::{Control, Shared};
use crate::callee::{self, Conversation, Part};
use crate::population::Fate;
use crate::wire::{PlivoStream, Wire};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

/// A call leg: one created through the REST API (`outbound`), or a caller ringing one of the
/// account's numbers (`inbound`).
#[derive(Debug, Clone)]
pub(super) struct Leg {
    pub uuid: String,
    pub request_uuid: Option<String>,
    /// Plivo's `Direction` parameter.
    pub direction: &'static str,
    pub to: String,
    pub from: String,
    pub answer_url: String,
    pub ring_url: Option<String>,
    pub hangup_url: Option<String>,
    pub machine_url: Option<String>,
    pub ring_timeout: f64,
}

impl Leg {
    /// The parameters every callback of the call carries.
    fn params(&self, status: &str, event: &str) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("CallUUID", self.uuid.as_str()),
            ("From", self.from.as_str()),
            ("To", self.to.as_str()),
            ("Direction", self.direction),
            ("CallStatus", status),
            ("Event", event),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
        if let Some(request) = &self.request_uuid {
            params.push(("RequestUUID".into(), request.clone()));
        }
        params
    }
}

/// How a call ended: the hang-up URL's `CallStatus`, `HangupCauseCode` and `HangupCauseName`.
type End = (&'static str, Option<u32>, &'static str);

const CANCELED: End = ("cancel", Some(1000), "Canceled");
const NORMAL: End = ("completed", Some(4000), "Normal Hangup");

/// Posts a V3-signed callback; a connection that fails is tried once more after a second. The
/// response's body on a 2xx.
async fn send(shared: &Shared, url: &str, params: &[(String, String)]) -> Result<String, String> {
    let nonce = format!("{:020}", rand::random::<u64>());
    let signature =
        telephony::plivo::signature::sign(&shared.config.auth_token, url, params, &nonce);
    let body = serde_urlencoded::to_string(params).map_err(|e| e.to_string())?;
    let mut last = String::new();
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let sent = shared
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header(telephony::plivo::signature::SIGNATURE_HEADER, &signature)
            .header(telephony::plivo::signature::NONCE_HEADER, &nonce)
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

/// Sends the hang-up callback, when the call has a hang-up URL.
async fn hung_up(
    shared: &Shared,
    call: &Leg,
    (status, code, name): End,
    answered: Option<Instant>,
) {
    let Some(url) = &call.hangup_url else {
        return;
    };
    let secs = answered.map_or(0, |a| a.elapsed().as_secs()).to_string();
    let mut params = call.params(status, "Hangup");
    params.push(("HangupCauseName".into(), name.into()));
    if let Some(code) = code {
        params.push(("HangupCauseCode".into(), code.to_string()));
    }
    params.push(("Duration".into(), secs.clone()));
    params.push(("BillDuration".into(), secs));
    if let Err(error) = send(shared, url, &params).await {
        tracing::warn!(call_uuid = %call.uuid, %error, "the hang-up callback failed");
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
        let fate = shared.config.population.draw(&mut *rng, call.ring_timeout);
        (fate, rng.random::<f64>())
    };
    let mut answered = None;
    let end = lifetime(&shared, &call, (fate, u), &mut answered, &mut control).await;
    {
        let mut stats = shared.stats.lock();
        match end.0 {
            "busy" => stats.busy += 1,
            "timeout" => stats.failed += 1,
            "no-answer" => stats.no_answer += 1,
            "cancel" => stats.canceled += 1,
            _ => {}
        }
    }
    shared.calls.lock().remove(&call.uuid);
    hung_up(&shared, &call, end, answered).await;
}

/// The call from creation to its end.
async fn lifetime(
    shared: &Arc<Shared>,
    call: &Leg,
    (fate, u): (Fate, f64),
    answered: &mut Option<Instant>,
    control: &mut UnboundedReceiver<Control>,
) -> End {
    if wait(0.3, control).await.is_some() {
        return CANCELED;
    }
    if let Some(url) = &call.ring_url
        && let Err(error) = send(shared, url, &call.params("ringing", "Ring")).await
    {
        tracing::warn!(call_uuid = %call.uuid, %error, "the ring callback failed");
    }
    let (after, voicemail) = match fate {
        Fate::Person { after } => (after, false),
        Fate::Voicemail { after } => (after, true),
        Fate::Busy { after } => {
            return match wait(after, control).await {
                Some(_) => CANCELED,
                None => ("busy", None, "Busy Line"),
            };
        }
        Fate::Failed { after } => {
            return match wait(after, control).await {
                Some(_) => CANCELED,
                None => ("timeout", None, "Timeout"),
            };
        }
        Fate::NoAnswer => {
            return match wait(call.ring_timeout, control).await {
                Some(_) => CANCELED,
                None => ("no-answer", None, "No Answer"),
            };
        }
    };
    if wait(after, control).await.is_some() {
        return CANCELED;
    }
    shared.stats.lock().answered += 1;
    if let Some(live) = shared.calls.lock().get_mut(&call.uuid) {
        live.answered = true;
    }
    *answered = Some(Instant::now());
    if let Some(url) = call.machine_url.clone() {
        let (shared, call) = (shared.clone(), call.clone());
        tokio::spawn(async move {
            let ms = if voicemail { 2400 } else { 1600 };
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let mut params = call.params("in-progress", "MachineDetection");
            params.push(("Machine".into(), voicemail.to_string()));
            shared.stats.lock().machine_verdicts += 1;
            if let Err(error) = send(&shared, &url, &params).await {
                tracing::warn!(call_uuid = %call.uuid, %error, "the machine detection callback failed");
            }
        });
    }
    let params = call.params("in-progress", "StartApp");
    let document = match send(shared, &call.answer_url, &params).await {
        Ok(document) => document,
        Err(error) => {
            tracing::warn!(call_uuid = %call.uuid, %error, "the answer URL failed");
            return NORMAL;
        }
    };
    let part = if voicemail {
        shared.config.population.voicemail_part()
    } else {
        shared.config.population.person_part(None, u)
    };
    let started = answered.unwrap_or_else(Instant::now);
    follow(shared, call, &document, (part, started), control).await;
    NORMAL
}

/// A caller rings one of the account's numbers: Plivo asks the application's answer URL what to
/// do, follows the XML with `part` as the caller, and sends the hang-up URL when it is over.
/// The conversation, or why there was none (what the caller heard before the hang-up).
pub(super) async fn ring(
    shared: Arc<Shared>,
    call: Leg,
    part: Part,
    mut control: UnboundedReceiver<Control>,
) -> Result<Conversation, String> {
    let answered = Instant::now();
    let params = call.params("ringing", "StartApp");
    let outcome = match send(&shared, &call.answer_url, &params).await {
        Ok(document) => {
            let followed = follow(&shared, &call, &document, (part, answered), &mut control).await;
            followed
                .conversation
                .ok_or_else(|| format!("refused: {}", followed.said.join(" ")))
        }
        Err(error) => Err(format!("the answer URL failed: {error}")),
    };
    shared.calls.lock().remove(&call.uuid);
    hung_up(&shared, &call, NORMAL, Some(answered)).await;
    outcome
}

/// What following a call's XML came to.
#[derive(Debug, Default)]
struct Followed {
    /// The callee's conversation on a stream, when there was one.
    conversation: Option<Conversation>,
    /// What `<Speak>` told the callee.
    said: Vec<String>,
}

/// Runs an XML document's elements, then any the REST API moves the call to, until it ends.
async fn follow(
    shared: &Arc<Shared>,
    call: &Leg,
    document: &str,
    (part, answered): (Part, Instant),
    control: &mut UnboundedReceiver<Control>,
) -> Followed {
    let mut followed = Followed::default();
    let mut document = document.to_owned();
    loop {
        let elements = match xml::parse(&document) {
            Ok(elements) => elements,
            Err(error) => {
                tracing::warn!(call_uuid = %call.uuid, %error, "the XML could not be followed");
                return followed;
            }
        };
        let mut next = None;
        for element in elements {
            match element {
                Element::Hangup => return followed,
                Element::Speak(text) => {
                    // About 12 characters a second, as a voice reads them.
                    let secs = text.len() as f64 / 12.0;
                    followed.said.push(text);
                    if let Some(action) = wait(secs, control).await {
                        next = Some(action);
                        break;
                    }
                }
                Element::Dial(number) => {
                    shared.stats.lock().transferred_to.push(number);
                    return followed;
                }
                Element::Stream { url, extra_headers } => {
                    let (talk, action) = stream(
                        shared,
                        call,
                        (&url, &extra_headers),
                        (part.clone(), answered),
                        control,
                    )
                    .await;
                    followed.conversation = talk.or(followed.conversation.take());
                    match action {
                        Some(action) => {
                            next = Some(action);
                            break;
                        }
                        // `keepCallAlive`: the call ends with its stream.
                        None => return followed,
                    }
                }
            }
        }
        match next {
            Some(Control::Transfer(url)) => {
                let params = call.params("in-progress", "Redirect");
                match send(shared, &url, &params).await {
                    Ok(doc) => document = doc,
                    Err(error) => {
                        tracing::warn!(call_uuid = %call.uuid, %error, "the aleg_url failed");
                        return followed;
                    }
                }
            }
            Some(Control::HangUp) => {
                shared.stats.lock().hung_up += 1;
                return followed;
            }
            Some(Control::Cancel) | None => return followed,
        }
    }
}

/// The callee on a bidirectional stream, until someone hangs up (no action) or the REST API
/// acts: the conversation when it ended by itself (its first bot audio counted from the answer,
/// not from the stream's start), and the REST API's action.
async fn stream(
    shared: &Arc<Shared>,
    call: &Leg,
    (url, extra_headers): (&str, &str),
    (part, answered): (Part, Instant),
    control: &mut UnboundedReceiver<Control>,
) -> (Option<Conversation>, Option<Control>) {
    let before_stream = answered.elapsed().as_secs_f64();
    let stream_id = shared.next_uuid();
    let wire = Wire::Plivo(Box::new(PlivoStream::new(
        &stream_id,
        &call.uuid,
        extra_headers,
    )));
    shared.stats.lock().streamed += 1;
    let talk = callee::converse_over(wire, url, part, &shared.voice);
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
                    tracing::warn!(call_uuid = %call.uuid, %error, "the audio stream failed");
                    (None, None)
                }
            }
        }
        action = control.recv() => (None, Some(action.unwrap_or(Control::HangUp))),
    }
}
