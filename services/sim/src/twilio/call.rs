//! One emulated Twilio call, outbound or inbound: its fate, the voice webhook, stream, callbacks.

use super::twiml::{self, Verb};
use super::{Control, Shared};
use crate::callee::{self, Conversation, Part};
use crate::population::Fate;
use crate::wire::{TwilioStream, Wire};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

/// A call leg: one created through the REST API (`outbound-api`), or a caller ringing one of
/// the account's numbers (`inbound`).
#[derive(Debug, Clone)]
pub(super) struct Leg {
    pub sid: String,
    /// Twilio's `Direction` parameter.
    pub direction: &'static str,
    pub to: String,
    pub from: String,
    pub url: String,
    pub status_callback: Option<String>,
    /// `StatusCallbackEvent`s asked for (`completed` only when none).
    pub events: Vec<String>,
    pub amd_callback: Option<String>,
    pub timeout_secs: f64,
}

/// Posts a signed webhook; a connection that fails is tried once more after a second. The
/// response's body on a 2xx.
async fn send(shared: &Shared, url: &str, params: &[(String, String)]) -> Result<String, String> {
    let signature = telephony::twilio::signature::sign(&shared.config.auth_token, url, params);
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
            .header(telephony::twilio::SIGNATURE_HEADER, &signature)
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

/// The call's status callbacks, numbered in the order they are sent.
struct Progress<'a> {
    shared: &'a Shared,
    call: &'a Leg,
    sequence: u32,
    answered: Option<Instant>,
}

impl Progress<'_> {
    fn params(&self, status: &str) -> Vec<(String, String)> {
        let call = self.call;
        [
            ("CallSid", call.sid.as_str()),
            ("AccountSid", self.shared.config.account_sid.as_str()),
            ("From", call.from.as_str()),
            ("To", call.to.as_str()),
            ("Caller", call.from.as_str()),
            ("Called", call.to.as_str()),
            ("Direction", call.direction),
            ("ApiVersion", "2010-04-01"),
            ("CallStatus", status),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    }

    /// Sends the status callback for `event` (`initiated`, `ringing`, `answered`, `completed`)
    /// with `status`, when the call asked for that event.
    async fn status(&mut self, event: &str, status: &str, sip: Option<u16>) {
        let wanted = if self.call.events.is_empty() {
            event == "completed"
        } else {
            self.call.events.iter().any(|e| e == event)
        };
        let Some(url) = self.call.status_callback.clone().filter(|_| wanted) else {
            return;
        };
        let mut params = self.params(status);
        params.push(("Timestamp".into(), chrono::Utc::now().to_rfc2822()));
        params.push(("SequenceNumber".into(), self.sequence.to_string()));
        params.push(("CallbackSource".into(), "call-progress-events".into()));
        if event == "completed" {
            let secs = self
                .answered
                .map_or(0, |a| a.elapsed().as_secs())
                .to_string();
            params.push(("CallDuration".into(), secs.clone()));
            params.push(("Duration".into(), secs));
            if let Some(sip) = sip {
                params.push(("SipResponseCode".into(), sip.to_string()));
            }
        }
        self.sequence += 1;
        if let Err(error) = send(self.shared, &url, &params).await {
            tracing::warn!(call_sid = %self.call.sid, %error, "the status callback failed");
        }
    }
}

/// Waits `secs` unless the REST API acts on the call first.
async fn wait(secs: f64, control: &mut UnboundedReceiver<Control>) -> Option<Control> {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))) => None,
        action = control.recv() => Some(action.unwrap_or(Control::Complete)),
    }
}

pub(super) async fn run(shared: Arc<Shared>, call: Leg, mut control: UnboundedReceiver<Control>) {
    let fate = shared
        .config
        .population
        .draw(&mut *shared.rng.lock(), call.timeout_secs);
    let mut progress = Progress {
        shared: &shared,
        call: &call,
        sequence: 0,
        answered: None,
    };
    let (status, sip) = lifetime(&shared, &call, fate, &mut progress, &mut control).await;
    {
        let mut stats = shared.stats.lock();
        match status {
            "busy" => stats.busy += 1,
            "failed" => stats.failed += 1,
            "no-answer" => stats.no_answer += 1,
            "canceled" => stats.canceled += 1,
            _ => {}
        }
    }
    shared.calls.lock().remove(&call.sid);
    progress.status("completed", status, sip).await;
}

/// The call from creation to its end: its final status and SIP response code.
async fn lifetime(
    shared: &Arc<Shared>,
    call: &Leg,
    fate: Fate,
    progress: &mut Progress<'_>,
    control: &mut UnboundedReceiver<Control>,
) -> (&'static str, Option<u16>) {
    progress.status("initiated", "initiated", None).await;
    if wait(0.3, control).await.is_some() {
        return ("canceled", Some(487));
    }
    progress.status("ringing", "ringing", None).await;
    let (after, voicemail) = match fate {
        Fate::Person { after } => (after, false),
        Fate::Voicemail { after } => (after, true),
        Fate::Busy { after } => {
            return match wait(after, control).await {
                Some(_) => ("canceled", Some(487)),
                None => ("busy", Some(486)),
            };
        }
        Fate::Failed { after } => {
            return match wait(after, control).await {
                Some(_) => ("canceled", Some(487)),
                None => ("failed", Some(503)),
            };
        }
        Fate::NoAnswer => {
            return match wait(call.timeout_secs, control).await {
                Some(_) => ("canceled", Some(487)),
                None => ("no-answer", Some(487)),
            };
        }
    };
    if wait(after, control).await.is_some() {
        return ("canceled", Some(487));
    }
    shared.stats.lock().answered += 1;
    progress.answered = Some(Instant::now());
    progress.status("answered", "in-progress", None).await;
    if let Some(url) = call.amd_callback.clone() {
        let (shared, sid) = (shared.clone(), call.sid.clone());
        tokio::spawn(async move {
            let (verdict, ms) = if voicemail {
                ("machine_start", 2400)
            } else {
                ("human", 1600)
            };
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let params = [
                ("CallSid", sid.as_str()),
                ("AccountSid", shared.config.account_sid.as_str()),
                ("AnsweredBy", verdict),
                ("MachineDetectionDuration", &ms.to_string()),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
            shared.stats.lock().machine_verdicts += 1;
            if let Err(error) = send(&shared, &url, &params).await {
                tracing::warn!(call_sid = %sid, %error, "the AMD callback failed");
            }
        });
    }
    let document = match send(shared, &call.url, &progress.params("in-progress")).await {
        Ok(document) => document,
        Err(error) => {
            tracing::warn!(call_sid = %call.sid, %error, "the voice webhook failed (11200)");
            return ("completed", Some(200));
        }
    };
    let part = if voicemail {
        shared.config.population.voicemail_part()
    } else {
        let u = shared.rng.lock().random::<f64>();
        shared.config.population.person_part(None, u)
    };
    let answered = progress.answered.unwrap_or_else(Instant::now);
    follow(shared, call, &document, (part, answered), control).await;
    ("completed", Some(200))
}

/// A caller rings one of the account's numbers: Twilio asks the number's voice URL what to do
/// (`CallStatus=ringing`), follows the TwiML with `part` as the caller, and sends the number's
/// status callback when the call is over. The conversation, or why there was none (what the
/// caller heard before the hang-up).
pub(super) async fn ring(
    shared: Arc<Shared>,
    call: Leg,
    part: Part,
    mut control: UnboundedReceiver<Control>,
) -> Result<Conversation, String> {
    let answered = Instant::now();
    let mut progress = Progress {
        shared: &shared,
        call: &call,
        sequence: 0,
        answered: Some(answered),
    };
    let outcome = match send(&shared, &call.url, &progress.params("ringing")).await {
        Ok(document) => {
            let followed = follow(&shared, &call, &document, (part, answered), &mut control).await;
            followed
                .conversation
                .ok_or_else(|| format!("refused: {}", followed.said.join(" ")))
        }
        Err(error) => Err(format!("the voice webhook failed (11200): {error}")),
    };
    shared.calls.lock().remove(&call.sid);
    progress.status("completed", "completed", Some(200)).await;
    outcome
}

/// What following a call's TwiML came to.
#[derive(Debug, Default)]
struct Followed {
    /// The callee's conversation on a stream, when there was one.
    conversation: Option<Conversation>,
    /// What `<Say>` told the callee.
    said: Vec<String>,
}

/// Runs a TwiML document's verbs, then any the REST API sends, until the call ends.
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
        let verbs = match twiml::parse(&document) {
            Ok(verbs) => verbs,
            Err(error) => {
                tracing::warn!(call_sid = %call.sid, %error, "the TwiML could not be followed");
                return followed;
            }
        };
        let mut next = None;
        for verb in verbs {
            match verb {
                Verb::Hangup => return followed,
                Verb::Say(text) => {
                    // About 12 characters a second, as a voice reads them.
                    let secs = text.len() as f64 / 12.0;
                    followed.said.push(text);
                    if let Some(action) = wait(secs, control).await {
                        next = Some(action);
                        break;
                    }
                }
                Verb::Dial(number) => {
                    shared.stats.lock().transferred_to.push(number);
                    return followed;
                }
                Verb::Stream { url, parameters } => {
                    let (talk, action) = stream(
                        shared,
                        call,
                        &url,
                        parameters,
                        (part.clone(), answered),
                        control,
                    )
                    .await;
                    followed.conversation = talk.or(followed.conversation.take());
                    if let Some(action) = action {
                        next = Some(action);
                        break;
                    }
                }
            }
        }
        match next {
            Some(Control::Twiml(doc)) => document = doc,
            Some(Control::Complete) => {
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
    url: &str,
    parameters: serde_json::Map<String, serde_json::Value>,
    (part, answered): (Part, Instant),
    control: &mut UnboundedReceiver<Control>,
) -> (Option<Conversation>, Option<Control>) {
    let before_stream = answered.elapsed().as_secs_f64();
    let stream_sid = format!("MZ{}", &call.sid[2..]);
    let wire = Wire::Twilio(Box::new(TwilioStream::new(
        &shared.config.account_sid,
        &call.sid,
        &stream_sid,
        parameters,
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
                    tracing::warn!(call_sid = %call.sid, %error, "the media stream failed");
                    (None, None)
                }
            }
        }
        action = control.recv() => (None, Some(action.unwrap_or(Control::Complete))),
    }
}
