//! The simulated callee on the media leg.
//!
//! Connects to the worker's media WebSocket, streams a phone line's audio in real time (speech from
//! espeak-ng, silence between), waits for the bot to finish before speaking its next line, and
//! hangs up. It speaks the `vox` protocol (the PSTN simulator) or Twilio's Media Streams (the
//! Twilio emulator, `wire.rs`).

use crate::persona::Persona;
use crate::wire::Heard;
pub use crate::wire::Wire;
use audio::SampleRate;
use futures_util::{SinkExt, StreamExt};
use providers::tts::espeak::EspeakTts;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const FRAME: Duration = Duration::from_millis(20);
/// The bot is done speaking when no audio has come for this long.
const BOT_QUIET: Duration = Duration::from_millis(900);
/// Speak first if the bot says nothing this long after connecting.
const OPENING_WAIT: Duration = Duration::from_secs(4);

/// How the media leg went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    /// Lines the callee said.
    pub lines_said: usize,
    /// Seconds of bot audio received.
    pub bot_audio_secs: f64,
    /// Seconds from connecting to the bot's first audio, when it spoke.
    pub first_bot_audio_secs: Option<f64>,
    /// The worker ended the call (`{"type":"end"}` or closed the socket) rather than the callee.
    pub ended_by_worker: bool,
    /// The worker's end reason, when it gave one.
    pub end_reason: Option<String>,
    /// The callee spoke over the bot (barge-in), and the worker told its carrier to drop the
    /// bot's buffered audio this many times.
    pub barged_in: bool,
    pub clears: usize,
    /// What the bot said, as the worker's live transcript gave it.
    pub bot_lines: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CalleeError {
    #[error("connecting to the worker's media URL failed: {0}")]
    Connect(String),
    #[error("the voice failed: {0}")]
    Voice(String),
    #[error("the media socket failed: {0}")]
    Socket(String),
}

/// What the callee does once connected.
#[derive(Debug, Clone)]
pub struct Part {
    /// Lines to say, each after the bot has spoken (a voicemail greeting is one line said at once).
    pub lines: Vec<String>,
    /// Say the first line at once rather than waiting for the bot (a greeting).
    pub speak_first: bool,
    /// A voicemail: the first line ends with the beep, then the line records in silence.
    pub beep: bool,
    /// Hang up this long after connecting if nothing else ended the call.
    pub hang_up_after: Duration,
    /// Once the scripted lines run out, an LLM persona says what comes next.
    pub persona: Option<Arc<Persona>>,
    /// Speak this line over the bot once it has talked this long (barge-in).
    pub barge_in: Option<(Duration, String)>,
}

/// Half a second of quiet, then the voicemail's 1 kHz beep for 400 ms.
fn beep(rate: SampleRate) -> Vec<i16> {
    let rate = rate.hz() as f32;
    let mut samples = vec![0i16; (rate * 0.5) as usize];
    samples.extend(
        (0..(rate * 0.4) as usize)
            .map(|i| (8000.0 * (std::f32::consts::TAU * 1000.0 * i as f32 / rate).sin()) as i16),
    );
    samples
}

/// Runs the callee's side of a call over the `vox` protocol until one side hangs up.
pub async fn converse(
    media_url: &str,
    part: Part,
    voice: &EspeakTts,
) -> Result<Conversation, CalleeError> {
    converse_over(Wire::Vox, media_url, part, voice).await
}

/// Runs the callee's side of a call over `wire` until one side hangs up.
pub async fn converse_over(
    mut wire: Wire,
    media_url: &str,
    part: Part,
    voice: &EspeakTts,
) -> Result<Conversation, CalleeError> {
    // Nagle's algorithm off, as a carrier's media leg has it: otherwise a second small message
    // (Twilio's, Telnyx's and Exotel's `start` after `connected`) waits for the first one's
    // delayed ACK, about 40 ms.
    let (socket, _) = tokio_tungstenite::connect_async_with_config(media_url, None, true)
        .await
        .map_err(|e| CalleeError::Connect(e.to_string()))?;
    let (mut tx, mut rx) = socket.split();
    for opening in wire.opening() {
        tx.send(opening)
            .await
            .map_err(|e| CalleeError::Socket(e.to_string()))?;
    }
    let rate = wire.rate();

    let mut lines: VecDeque<String> = part.lines.into();
    let mut speaking: VecDeque<i16> = VecDeque::new();
    let mut outcome = Conversation::default();
    let connected = Instant::now();
    let mut last_bot_audio: Option<Instant> = None;
    let mut bot_spoke_since_last_line = false;
    let mut speak_now = part.speak_first;
    // The conversation so far for the persona: (the bot's line?, text).
    let mut heard: Vec<(bool, String)> = Vec::new();
    let mut replies = 0u32;
    let mut persona_done = part.persona.is_none();
    let mut pending: Option<tokio::task::JoinHandle<Option<String>>> = None;
    let mut bot_turn_started: Option<Instant> = None;
    let mut barge_in = part.barge_in.clone();
    let mut ticks = tokio::time::interval(FRAME);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let frame_len = rate.frame_samples();
    loop {
        tokio::select! {
            message = rx.next() => match message {
                Some(Ok(message)) => match wire.heard(message) {
                    Heard::BotAudio(secs) => {
                        let arrived = Instant::now();
                        if last_bot_audio.is_none_or(|t| arrived - t >= BOT_QUIET) {
                            bot_turn_started = Some(arrived);
                        }
                        outcome.bot_audio_secs += secs;
                        outcome
                            .first_bot_audio_secs
                            .get_or_insert_with(|| connected.elapsed().as_secs_f64());
                        last_bot_audio = Some(Instant::now());
                        bot_spoke_since_last_line = true;
                    }
                    Heard::End(reason) => {
                        outcome.ended_by_worker = true;
                        outcome.end_reason = reason;
                    }
                    Heard::Clear => outcome.clears += 1,
                    Heard::BotLine(text) => {
                        outcome.bot_lines.push(text.clone());
                        heard.push((true, text));
                    }
                    Heard::Closed => {
                        outcome.ended_by_worker = true;
                        return Ok(outcome);
                    }
                    Heard::Nothing => {}
                },
                None => {
                    outcome.ended_by_worker = true;
                    return Ok(outcome);
                }
                Some(Err(e)) => return Err(CalleeError::Socket(e.to_string())),
            },
            _ = ticks.tick() => {
                let now = Instant::now();
                for echo in wire.due(now) {
                    let _ = tx.send(echo).await;
                }
                let bot_quiet = bot_spoke_since_last_line
                    && last_bot_audio.is_some_and(|t| now - t >= BOT_QUIET);
                // A persona's reply that is ready becomes the next line.
                if pending.as_ref().is_some_and(|task| task.is_finished()) {
                    match pending.take().map(|task| async { task.await.ok().flatten() }) {
                        Some(reply) => match reply.await {
                            Some(line) => {
                                lines.push_back(line);
                                speak_now = true;
                            }
                            None => persona_done = true,
                        },
                        None => persona_done = true,
                    }
                }
                if speaking.is_empty() && lines.is_empty() && !persona_done && pending.is_none() && bot_quiet {
                    if let Some(persona) = part.persona.clone().filter(|p| replies < p.max_turns()) {
                        replies += 1;
                        let so_far = heard.clone();
                        pending = Some(tokio::spawn(async move { persona.reply(&so_far).await }));
                    } else {
                        persona_done = true;
                    }
                }
                // Barge-in: once the bot has talked long enough in one go, speak over it.
                let bot_talking = last_bot_audio.is_some_and(|t| now - t < Duration::from_millis(200));
                if speaking.is_empty() && bot_talking
                    && let Some((after, _)) = &barge_in
                    && bot_turn_started.is_some_and(|s| now - s >= *after)
                    && let Some((_, line)) = barge_in.take()
                {
                    let samples = voice
                        .speak(&line, rate)
                        .await
                        .map_err(|e| CalleeError::Voice(e.to_string()))?;
                    speaking.extend(samples);
                    heard.push((false, line));
                    outcome.barged_in = true;
                    outcome.lines_said += 1;
                    bot_spoke_since_last_line = false;
                }
                if speaking.is_empty() && !lines.is_empty() {
                    let bot_done = bot_spoke_since_last_line
                        && last_bot_audio.is_some_and(|t| now - t >= BOT_QUIET);
                    let waited = outcome.lines_said == 0 && now - connected >= OPENING_WAIT;
                    if speak_now || bot_done || waited {
                        speak_now = false;
                        let line = lines.pop_front().unwrap_or_default();
                        let samples = voice
                            .speak(&line, rate)
                            .await
                            .map_err(|e| CalleeError::Voice(e.to_string()))?;
                        speaking.extend(samples);
                        heard.push((false, line));
                        if part.beep && outcome.lines_said == 0 {
                            speaking.extend(beep(rate));
                        }
                        outcome.lines_said += 1;
                        bot_spoke_since_last_line = false;
                    }
                }
                let done_talking = lines.is_empty()
                    && speaking.is_empty()
                    && persona_done
                    && pending.is_none()
                    && bot_quiet;
                if done_talking || now - connected >= part.hang_up_after {
                    let _ = tx.send(wire.hang_up()).await;
                    let _ = tx.close().await;
                    return Ok(outcome);
                }
                // A phone line never goes quiet: speech when there is some, else silence.
                let n = frame_len.min(speaking.len());
                let mut frame: Vec<i16> = speaking.drain(..n).collect();
                frame.resize(frame_len, 0);
                if tx.send(wire.frame(&frame)).await.is_err() {
                    outcome.ended_by_worker = true;
                    return Ok(outcome);
                }
            }
        }
    }
}
