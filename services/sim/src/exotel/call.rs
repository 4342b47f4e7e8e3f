//! One emulated Exotel call, outbound or inbound: its fate, status callbacks and Voicebot flow.

use super::{ExotelFlow, Shared};
use crate::callee::{self, Conversation, Part};
use crate::population::Fate;
use crate::wire::{ExotelStream, Wire};
use chrono::Utc;
use rand::Rng;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A call leg: one connected through the API (`outbound-api`), or a caller ringing one of the
/// account's ExoPhones (`incoming`).
#[derive(Debug, Clone)]
pub(super) struct Leg {
    pub sid: String,
    /// Exotel's `Direction`.
    pub direction: &'static str,
    /// The number called first (outbound), or the caller (inbound).
    pub from: String,
    /// The ExoPhone.
    pub to: String,
    pub custom_field: Option<String>,
    pub status_callback: Option<String>,
    /// Whether `StatusCallbackEvents` asked for `answered`.
    pub answered_event: bool,
    pub ring_timeout: f64,
}

impl Leg {
    /// What an applet's URL is asked with.
    fn applet_params(&self) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("CallSid", self.sid.as_str()),
            ("CallFrom", self.from.as_str()),
            ("CallTo", self.to.as_str()),
            ("Direction", self.direction),
            ("From", self.from.as_str()),
            ("To", self.to.as_str()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
        if let Some(field) = &self.custom_field {
            params.push(("CustomField".into(), field.clone()));
        }
        params
    }
}

/// Exotel's timestamps: `YYYY-MM-DD HH:mm:ss`.
fn timestamp() -> String {
    Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// An applet's GET of `url` with the call's parameters: the status and body.
async fn fetch(shared: &Shared, url: &str, leg: &Leg) -> Result<(u16, String), String> {
    let query = serde_urlencoded::to_string(leg.applet_params()).map_err(|e| e.to_string())?;
    let joiner = if url.contains('?') { '&' } else { '?' };
    shared.stats.lock().webhooks += 1;
    let response = shared
        .http
        .get(format!("{url}{joiner}{query}"))
        .send()
        .await
        .map_err(|e| {
            shared.stats.lock().webhook_failures += 1;
            e.to_string()
        })?;
    let status = response.status().as_u16();
    Ok((status, response.text().await.unwrap_or_default()))
}

/// Posts the status callback, when the call has one; a connection that fails is tried once more
/// after a second.
async fn status(shared: &Shared, leg: &Leg, event: &str, status: &str, talked: Option<Instant>) {
    let Some(url) = &leg.status_callback else {
        return;
    };
    let now = timestamp();
    let mut params: Vec<(String, String)> = [
        ("CallSid", leg.sid.as_str()),
        ("Status", status),
        ("EventType", event),
        ("From", leg.from.as_str()),
        ("To", leg.to.as_str()),
        ("Direction", leg.direction),
        ("DateCreated", now.as_str()),
        ("DateUpdated", now.as_str()),
        ("RecordingUrl", ""),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec();
    if let Some(field) = &leg.custom_field {
        params.push(("CustomField".into(), field.clone()));
    }
    if event == "terminal" {
        let secs = talked.map_or(0, |t| t.elapsed().as_secs());
        params.push(("ConversationDuration".into(), secs.to_string()));
        params.push(("EndTime".into(), now.clone()));
    }
    let body = serde_urlencoded::to_string(&params).unwrap_or_default();
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        shared.stats.lock().webhooks += 1;
        let sent = shared
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => return,
            Ok(response) => {
                shared.stats.lock().webhook_failures += 1;
                tracing::warn!(sid = %leg.sid, status = %response.status(), "the status callback was refused");
                return;
            }
            Err(error) if error.is_connect() && attempt == 0 => {}
            Err(error) => {
                shared.stats.lock().webhook_failures += 1;
                tracing::warn!(sid = %leg.sid, %error, "the status callback failed");
                return;
            }
        }
    }
}

pub(super) async fn run(shared: Arc<Shared>, leg: Leg, flow: ExotelFlow) {
    // Both draws at creation, so a seed gives the same calls in the order they are created.
    let (fate, u) = {
        let mut rng = shared.rng.lock();
        let fate = shared.config.population.draw(&mut *rng, leg.ring_timeout);
        (fate, rng.random::<f64>())
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (after, voicemail) = match fate {
        Fate::Person { after } => (after, false),
        Fate::Voicemail { after } => (after, true),
        Fate::Busy { after } => return ended(&shared, &leg, after, "busy").await,
        Fate::Failed { after } => return ended(&shared, &leg, after, "failed").await,
        Fate::NoAnswer => return ended(&shared, &leg, leg.ring_timeout, "no-answer").await,
    };
    tokio::time::sleep(Duration::from_secs_f64(after.max(0.0))).await;
    shared.stats.lock().answered += 1;
    let answered = Instant::now();
    if leg.answered_event {
        // Sent as the flow starts, not before it: it may reach the edge after the Voicebot's
        // request.
        let (shared, leg) = (shared.clone(), leg.clone());
        tokio::spawn(async move { status(&shared, &leg, "answered", "in-progress", None).await });
    }
    let part = if voicemail {
        shared.config.population.voicemail_part()
    } else {
        shared.config.population.person_part(None, u)
    };
    follow(&shared, &leg, &flow, part, answered).await;
    *shared.live.lock() -= 1;
    status(&shared, &leg, "terminal", "completed", Some(answered)).await;
}

/// A call that ended unanswered after `secs`, with `status`.
async fn ended(shared: &Shared, leg: &Leg, secs: f64, end: &str) {
    tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
    {
        let mut stats = shared.stats.lock();
        match end {
            "busy" => stats.busy += 1,
            "failed" => stats.failed += 1,
            _ => stats.no_answer += 1,
        }
    }
    *shared.live.lock() -= 1;
    status(shared, leg, "terminal", end, None).await;
}

/// A caller rings an ExoPhone: the flow runs with `part` as the caller. The conversation, or why
/// there was none (what the Greeting said).
pub(super) async fn ring(
    shared: Arc<Shared>,
    leg: Leg,
    flow: ExotelFlow,
    part: Part,
) -> Result<Conversation, String> {
    let followed = follow(&shared, &leg, &flow, part, Instant::now()).await;
    followed
        .conversation
        .ok_or_else(|| format!("refused: {}", followed.said.join(" ")))
}

/// What running the flow came to.
#[derive(Debug, Default)]
struct Followed {
    /// The callee's conversation on the Voicebot's stream, when there was one.
    conversation: Option<Conversation>,
    /// What the Greeting said.
    said: Vec<String>,
}

/// Voicebot, then Greeting, then Hangup.
async fn follow(
    shared: &Arc<Shared>,
    leg: &Leg,
    flow: &ExotelFlow,
    part: Part,
    answered: Instant,
) -> Followed {
    let mut followed = Followed::default();
    match fetch(shared, &flow.voicebot_url, leg).await {
        Ok((200..=299, body)) => {
            let url = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.get("url").and_then(Value::as_str).map(str::to_owned));
            match url {
                Some(url) => {
                    followed.conversation = stream(shared, leg, &url, part, answered).await
                }
                None => tracing::warn!(sid = %leg.sid, %body, "the Voicebot URL gave no url"),
            }
        }
        Ok((status, body)) => {
            tracing::info!(sid = %leg.sid, status, %body, "the Voicebot URL refused the call");
        }
        Err(error) => tracing::warn!(sid = %leg.sid, %error, "the Voicebot URL failed"),
    }
    if let Some(url) = &flow.greeting_url {
        match fetch(shared, url, leg).await {
            Ok((200..=299, text)) if !text.trim().is_empty() => {
                // About 12 characters a second, as a voice reads them.
                tokio::time::sleep(Duration::from_secs_f64(text.len() as f64 / 12.0)).await;
                shared.stats.lock().greetings.push(text.clone());
                followed.said.push(text);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(sid = %leg.sid, %error, "the Greeting URL failed"),
        }
    }
    followed
}

/// The callee on the Voicebot's stream until someone hangs up: the conversation, its first bot
/// audio counted from the answer.
async fn stream(
    shared: &Arc<Shared>,
    leg: &Leg,
    url: &str,
    part: Part,
    answered: Instant,
) -> Option<Conversation> {
    let before_stream = answered.elapsed().as_secs_f64();
    let mut stream = ExotelStream::new(
        &format!("MZ{}", &leg.sid[..16]),
        &leg.sid,
        &shared.config.sid,
        &leg.from,
        &leg.to,
    );
    // The URL's own parameters reach the stream's `start`, `sample-rate` aside.
    if let Some((_, query)) = url.split_once('?') {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        for (key, value) in pairs.into_iter().filter(|(k, _)| k != "sample-rate") {
            stream.custom_parameters.insert(key, Value::String(value));
        }
    }
    shared.stats.lock().streamed += 1;
    match callee::converse_over(Wire::Exotel(Box::new(stream)), url, part, &shared.voice).await {
        Ok(mut talk) => {
            talk.first_bot_audio_secs = talk.first_bot_audio_secs.map(|secs| secs + before_stream);
            let mut stats = shared.stats.lock();
            stats.conversations += 1;
            stats.lines_said += talk.lines_said as u64;
            if let Some(secs) = talk.first_bot_audio_secs {
                stats.first_audio_secs.push(secs);
            }
            Some(talk)
        }
        Err(error) => {
            tracing::warn!(sid = %leg.sid, %error, "the Voicebot stream failed");
            None
        }
    }
}
