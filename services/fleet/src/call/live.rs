//! The conversation loop.
//!
//! A closed set of events (carrier message, frame for the transport, frame at the upstream end, the
//! carrier's answer to pressed keys, the session's end), one handler each.
//!
//! A malformed carrier message or a second start ends the call, with the reason in its result; a
//! socket that closes or fails is the caller hanging up.

use super::open::{Media, faster_than_real_time, from_ws, send_all};
use crate::media::{self, Inbound, MediaError};
use crate::post_call::Timeline;
use audio::{StereoRecorder, Track};
use axum::extract::ws::Message;
use contracts::CallId;
use contracts::attach::MediaProtocol;
use futures_util::StreamExt;
use pipeline::{
    AudioChunk, CallEvent, Command, DataFrame, Frame, SessionHandle, SessionReport, SystemFrame,
    TransportMessage,
};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinError;
use tokio::time::Instant;

/// What can happen next on a live call.
enum Event {
    /// A WebSocket message from the carrier; `None` or an error when the socket is gone.
    Carrier(Option<Result<Message, axum::Error>>),
    /// A frame for the transport: the bot's audio, barge-in's clear.
    Output(Option<Frame>),
    /// A frame that reached the upstream end: speaking events, what was said and heard.
    Upstream(Option<Frame>),
    /// The Backend's answer to keys pressed with the carrier's verb.
    CarrierKeys(Option<KeysAnswer>),
    /// The session is over.
    Ended(Result<SessionReport, JoinError>),
}

/// Keys pressed through the carrier, and the Backend's answer.
type KeysAnswer = (String, Result<(), String>);

/// How the conversation ended, for packaging.
pub(super) struct Ended {
    pub report: SessionReport,
    pub timeline: Timeline,
    /// A carrier message that could not be understood ended the call.
    pub media_error: Option<MediaError>,
    /// The caller hung up (the socket is closed already).
    pub caller_gone: bool,
}

/// One call between its session's start and end.
pub(super) struct LiveCall<'a> {
    pub call_id: CallId,
    pub media: &'a mut Media,
    pub recorder: &'a mut StereoRecorder,
    /// Caller samples recorded so far (the screening's included).
    pub caller_samples: u64,
    /// The call's clock, started with the stream.
    pub clock: Instant,
    commands: UnboundedSender<Command>,
    timeline: Timeline,
    user_started: Option<Duration>,
    media_error: Option<MediaError>,
    caller_gone: bool,
    /// Where keys go on a carrier with a verb for them (the Backend's edge), and its answers.
    carrier_keys: Option<crate::client::BridgeClient>,
    keys_answered: (UnboundedSender<KeysAnswer>, UnboundedReceiver<KeysAnswer>),
}

impl<'a> LiveCall<'a> {
    pub fn new(
        call_id: CallId,
        media: &'a mut Media,
        recorder: &'a mut StereoRecorder,
        caller_samples: u64,
        clock: Instant,
        handle: &SessionHandle,
    ) -> Self {
        Self {
            call_id,
            media,
            recorder,
            caller_samples,
            clock,
            commands: handle.commands.clone(),
            timeline: Timeline::default(),
            user_started: None,
            media_error: None,
            caller_gone: false,
            carrier_keys: None,
            keys_answered: tokio::sync::mpsc::unbounded_channel(),
        }
    }

    /// Keys go through `client` (the Backend's edge) where the protocol's carrier has a verb.
    pub fn with_carrier_keys(mut self, client: crate::client::BridgeClient) -> Self {
        if self.media.protocol.carrier_keys() {
            self.carrier_keys = Some(client);
        }
        self
    }

    /// Runs the call until its session ends; audio that came before the session goes in first.
    pub async fn run(mut self, mut handle: SessionHandle) -> Ended {
        let early = std::mem::take(&mut self.media.early_audio);
        if !early.is_empty() {
            self.caller_audio(early);
        }
        loop {
            let event = tokio::select! {
                message = self.media.socket.next(), if !self.caller_gone => Event::Carrier(message),
                frame = handle.output.recv() => Event::Output(frame),
                frame = handle.upstream.recv() => Event::Upstream(frame),
                answer = self.keys_answered.1.recv() => Event::CarrierKeys(answer),
                report = &mut handle.report => Event::Ended(report),
            };
            match event {
                Event::Carrier(message) => self.on_carrier(message),
                Event::Output(frame) => self.on_output(frame).await,
                Event::Upstream(frame) => self.on_upstream(frame).await,
                Event::CarrierKeys(answer) => self.on_carrier_keys(answer).await,
                Event::Ended(report) => return self.end(report),
            }
        }
    }

    fn hang_up_session(&self) {
        let _ = self.commands.send(Command::Hangup);
    }

    fn caller_audio(&mut self, samples: Vec<i16>) {
        if self.media_error.is_some() {
            return;
        }
        let total = self.caller_samples + samples.len() as u64;
        if let Some(message) = faster_than_real_time(total, self.media.rate, self.clock.elapsed()) {
            let name = self.media.protocol.name();
            tracing::warn!(call_id = self.call_id.0, "{message}; ending the call");
            self.media_error = Some(MediaError::new(name, message));
            self.hang_up_session();
            return;
        }
        self.recorder
            .write(Track::Caller, self.caller_samples, &samples);
        self.caller_samples += samples.len() as u64;
        let chunk = AudioChunk::new(samples, self.media.rate);
        let _ = self
            .commands
            .send(Command::Input(Frame::System(SystemFrame::InputAudio(
                chunk,
            ))));
    }

    fn on_carrier(&mut self, message: Option<Result<Message, axum::Error>>) {
        let Some(Ok(message)) = message else {
            self.caller_gone = true;
            self.hang_up_session();
            return;
        };
        let Some(message) = from_ws(message) else {
            return;
        };
        match self.media.protocol.parse(message) {
            Ok(Inbound::Audio(samples)) => self.caller_audio(samples),
            Ok(Inbound::Dtmf(digit)) => {
                let frame = Frame::System(SystemFrame::Dtmf(digit));
                let _ = self.commands.send(Command::Input(frame));
            }
            Ok(Inbound::Stop) => {
                self.caller_gone = true;
                self.hang_up_session();
            }
            Ok(Inbound::Start(_)) => {
                let name = self.media.protocol.name();
                self.media_error = Some(MediaError::new(name, "a second start message"));
                self.hang_up_session();
            }
            Ok(Inbound::Mark(_) | Inbound::Cleared | Inbound::Ignored) => {}
            Err(error) => {
                tracing::warn!(call_id = self.call_id.0, %error, "malformed media message; ending the call");
                self.media_error = Some(error);
                self.hang_up_session();
            }
        }
    }

    async fn on_output(&mut self, frame: Option<Frame>) {
        if self.caller_gone {
            return;
        }
        match frame {
            Some(Frame::Data(DataFrame::OutputAudio(chunk))) => {
                self.bot_audio(&chunk.samples).await
            }
            Some(Frame::System(SystemFrame::Transport(TransportMessage::Clear))) => {
                let messages = self.media.protocol.clear();
                let _ = send_all(&mut self.media.socket, messages).await;
            }
            Some(Frame::System(SystemFrame::Transport(TransportMessage::Dtmf(digits)))) => {
                if let Some(client) = self.carrier_keys.clone() {
                    // The request must not hold up the call's audio: its answer is an event.
                    let (call_id, answers) = (self.call_id, self.keys_answered.0.clone());
                    tokio::spawn(async move {
                        let answer = client.send_digits(call_id, &digits).await;
                        let _ = answers.send((digits, answer));
                    });
                } else {
                    let messages = self.media.protocol.dtmf(&digits);
                    let _ = send_all(&mut self.media.socket, messages).await;
                }
            }
            _ => {}
        }
    }

    /// The carrier pressed the keys, or could not: then they are played as tones in the bot's
    /// audio, as on a carrier without the verb.
    async fn on_carrier_keys(&mut self, answer: Option<KeysAnswer>) {
        let Some((digits, Err(why))) = answer else {
            return;
        };
        if self.caller_gone {
            return;
        }
        tracing::info!(call_id = self.call_id.0, %digits, %why, "the carrier did not press the keys; playing them as tones");
        match audio::dtmf::tones(&digits, self.media.rate) {
            Ok(samples) => self.bot_audio(&samples).await,
            Err(error) => tracing::warn!(call_id = self.call_id.0, %error, "keys not pressed"),
        }
    }

    /// The bot's audio to the caller, recorded where the call's clock is; a socket that no longer
    /// takes it is the caller gone.
    async fn bot_audio(&mut self, samples: &[i16]) {
        let rate = u64::from(self.media.rate.hz());
        let at = self.clock.elapsed().as_micros() as u64 * rate / 1_000_000;
        self.recorder.write(Track::Bot, at, samples);
        let messages = self.media.protocol.audio(samples);
        if !send_all(&mut self.media.socket, messages).await {
            self.caller_gone = true;
            self.hang_up_session();
        }
    }

    async fn on_upstream(&mut self, frame: Option<Frame>) {
        let now = self.clock.elapsed();
        let Some(Frame::System(frame)) = frame else {
            return;
        };
        match frame {
            SystemFrame::UserStartedSpeaking => {
                self.user_started = Some(now);
                self.timeline.activity.push(now);
            }
            SystemFrame::UserStoppedSpeaking => {
                if let Some(start) = self.user_started.take() {
                    self.timeline.user.push((start, now));
                }
                self.timeline.activity.push(now);
            }
            SystemFrame::BotStartedSpeaking => {
                self.timeline.bot_starts.push(now);
                self.timeline.activity.push(now);
            }
            SystemFrame::BotStoppedSpeaking => self.timeline.activity.push(now),
            // The `vox` protocol carries the live transcript to the browser or the simulator.
            SystemFrame::Call(CallEvent::UserSaid(text)) => {
                self.live_transcript("user", &text, false).await;
            }
            SystemFrame::AssistantHeard { text, interrupted } => {
                self.live_transcript("assistant", &text, interrupted).await;
            }
            _ => {}
        }
    }

    async fn live_transcript(&mut self, speaker: &str, text: &str, interrupted: bool) {
        if self.media.protocol.kind() != MediaProtocol::Vox || self.caller_gone {
            return;
        }
        let message = media::vox::Vox::transcript(speaker, text, interrupted);
        let _ = send_all(&mut self.media.socket, vec![message]).await;
    }

    fn end(mut self, report: Result<SessionReport, JoinError>) -> Ended {
        let report = report.unwrap_or_else(|e| SessionReport {
            end_reason: pipeline::EndReason::Internal(format!("the session task failed: {e}")),
            duration: self.clock.elapsed(),
            turns: Vec::new(),
            events: Vec::new(),
        });
        if let Some(start) = self.user_started {
            self.timeline.user.push((start, self.clock.elapsed()));
        }
        self.timeline.end = self.clock.elapsed();
        Ended {
            report,
            timeline: self.timeline,
            media_error: self.media_error,
            caller_gone: self.caller_gone,
        }
    }
}
