//! One call on a worker: the carrier's media socket on one side, the bot's speech pipeline on the other, the stereo recording in between, and the packaged result at the end.
//!
//! The loop owns the socket and the session handle and selects over four things: a carrier
//! message (caller audio, DTMF, hang-up), a frame for the transport (bot audio, barge-in's clear),
//! a frame that reached the upstream end (speaking events and live transcript), and the session's
//! end. A malformed carrier message ends this call, with the reason in its result.

use crate::Shared;
use crate::media::{self, Inbound, MediaError, Protocol, WsMessage};
use crate::post_call::{self, Timeline};
use crate::screen::{self, Heard, Screening};
use crate::slots::Reservation;
use audio::{SampleRate, StereoRecorder, Track};
use axum::extract::ws::{Message, WebSocket};
use chrono::{DateTime, Utc};
use contracts::call_result::{CallResult, CallTimings, RecordingRef, TurnTiming};
use contracts::runtime_config::CallDirection;
use contracts::runtime_config::RuntimeConfig;
use contracts::{CallId, CallOutcomeCode};
use futures_util::StreamExt;
use pipeline::assemble::{Assembly, pipeline, session_config};
use pipeline::{
    AudioChunk, CallEvent, Command, DataFrame, Frame, SessionReport, StartParams, SystemFrame,
    TransportMessage,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long a carrier has to send its start message once the socket is open.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the post-call analysis may take.
const ANALYSIS_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call ended before or outside the pipeline.
struct Failure {
    outcome: CallOutcomeCode,
    detail: String,
}

fn to_ws(message: WsMessage) -> Message {
    match message {
        WsMessage::Text(text) => Message::Text(text.into()),
        WsMessage::Binary(bytes) => Message::Binary(bytes.into()),
    }
}

pub(crate) fn from_ws(message: Message) -> Option<WsMessage> {
    match message {
        Message::Text(text) => Some(WsMessage::Text(text.to_string())),
        Message::Binary(bytes) => Some(WsMessage::Binary(bytes.to_vec())),
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) => None,
    }
}

pub(crate) async fn send_all(socket: &mut WebSocket, messages: Vec<WsMessage>) -> bool {
    for message in messages {
        if socket.send(to_ws(message)).await.is_err() {
            return false;
        }
    }
    true
}

/// Says goodbye in the protocol's terms and closes the socket (the carrier ends the leg).
async fn hang_up(socket: &mut WebSocket, protocol: &mut dyn Protocol, reason: &str) {
    let _ = send_all(socket, protocol.hangup(reason)).await;
    let _ = socket.send(Message::Close(None)).await;
}

/// Runs one claimed call to its end and leaves its result in the outbox.
pub async fn run(shared: Arc<Shared>, reservation: Reservation, socket: WebSocket) {
    let result = converse(
        &shared,
        &reservation.request,
        *reservation.config,
        socket,
        Utc::now(),
    )
    .await;
    shared.store_result(result).await;
}

/// A result for a call that never reached a conversation.
pub fn minimal_result(
    call_id: CallId,
    started_at: DateTime<Utc>,
    outcome: CallOutcomeCode,
    detail: &str,
) -> (CallResult, Option<(String, Vec<u8>)>) {
    let result = CallResult {
        call_id,
        outcome,
        disposition: None,
        transcript: vec![contracts::call_result::TranscriptEntry {
            speaker: contracts::call_result::Speaker::System,
            text: detail.to_owned(),
            at_ms: 0,
            interrupted: false,
            detail: None,
        }],
        analysis: Default::default(),
        qc_findings: Vec::new(),
        recording: None,
        timings: CallTimings {
            answered_at: None,
            started_at,
            ended_at: Utc::now().max(started_at),
            turns: Vec::new(),
        },
        machine_detected: false,
        amd: None,
    };
    (result, None)
}

/// Reads carrier messages until the stream's start; audio that comes first is kept.
async fn await_start(
    socket: &mut WebSocket,
    protocol: &mut dyn Protocol,
    early_audio: &mut Vec<i16>,
) -> Result<SampleRate, Failure> {
    let media_failure = |e: MediaError| Failure {
        outcome: CallOutcomeCode::MediaProtocolError,
        detail: e.to_string(),
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .map_err(|_| Failure {
                outcome: CallOutcomeCode::MediaProtocolError,
                detail: format!("no start message within {START_TIMEOUT:?}"),
            })?;
        let Some(Ok(message)) = message else {
            return Err(Failure {
                outcome: CallOutcomeCode::CallCallerHangup,
                detail: "the media socket closed before the stream started".into(),
            });
        };
        let Some(message) = from_ws(message) else {
            continue;
        };
        match protocol.parse(message).map_err(media_failure)? {
            Inbound::Start(start) => return Ok(start.rate),
            Inbound::Audio(samples) if protocol.name() == "vox" => {
                early_audio.extend(samples);
                return Ok(protocol.rate());
            }
            Inbound::Audio(_) => {
                return Err(media_failure(MediaError::new(
                    protocol.name(),
                    "audio before the start message",
                )));
            }
            Inbound::Stop => {
                return Err(Failure {
                    outcome: CallOutcomeCode::CallCallerHangup,
                    detail: "the carrier stopped the stream before it started".into(),
                });
            }
            _ => {}
        }
    }
}

async fn converse(
    shared: &Shared,
    request: &contracts::attach::AttachRequest,
    config: RuntimeConfig,
    mut socket: WebSocket,
    started_at: DateTime<Utc>,
) -> (CallResult, Option<(String, Vec<u8>)>) {
    let call_id = request.call_id;
    let default_rate = if request.media_protocol == contracts::attach::MediaProtocol::Vox {
        SampleRate::Hz16000
    } else {
        SampleRate::Hz8000
    };
    let mut protocol = match media::for_protocol(request.media_protocol, default_rate) {
        Ok(p) => p,
        Err(e) => {
            let _ = socket.send(Message::Close(None)).await;
            return minimal_result(
                call_id,
                started_at,
                CallOutcomeCode::MediaProtocolError,
                &e.to_string(),
            );
        }
    };
    let mut early_audio = Vec::new();
    let rate = match await_start(&mut socket, protocol.as_mut(), &mut early_audio).await {
        Ok(rate) => rate,
        Err(failure) => {
            hang_up(&mut socket, protocol.as_mut(), &failure.detail).await;
            return minimal_result(call_id, started_at, failure.outcome, &failure.detail);
        }
    };

    let spec = &config.spec;
    let chains = match providers::factory::build_chains(spec, &shared.config.providers) {
        Ok(chains) => chains,
        Err(error) => {
            let outcome = match error.capability() {
                "stt" => CallOutcomeCode::ProviderSttFailed,
                "tts" => CallOutcomeCode::ProviderTtsFailed,
                _ => CallOutcomeCode::ProviderLlmFailed,
            };
            let detail = error.to_string();
            hang_up(&mut socket, protocol.as_mut(), &detail).await;
            return minimal_result(call_id, started_at, outcome, &detail);
        }
    };
    // The call's clock and recording start with the stream, screening included.
    let clock = Instant::now();
    let mut recorder = StereoRecorder::new(rate);
    let mut caller_samples: u64 = 0;
    let mut screened = None;
    if request.direction == CallDirection::Outbound && request.amd.is_none() {
        let mut heard = Heard {
            socket: &mut socket,
            protocol: protocol.as_mut(),
            recorder: &mut recorder,
            caller_samples: &mut caller_samples,
            rate,
        };
        match screen::screen(&mut heard, std::mem::take(&mut early_audio)).await {
            Screening::Person(decision) => screened = Some(decision),
            Screening::Gone => {
                return minimal_result(
                    call_id,
                    started_at,
                    CallOutcomeCode::CallCallerHangup,
                    "the callee hung up while the bot listened for a machine",
                );
            }
            Screening::Machine(decision) => {
                let tts = chains.tts.first().cloned();
                let left = screen::leave_message(&mut heard, &spec.voicemail, tts, clock).await;
                hang_up(&mut socket, protocol.as_mut(), "answering machine").await;
                tracing::info!(
                    call_id = call_id.0,
                    reason = decision.reason,
                    message_left = left.is_some(),
                    "a machine answered"
                );
                return screen::machine_result(
                    shared, request, started_at, recorder, decision, left,
                );
            }
        }
    }
    let analysis_llms = chains.llm.clone();
    let assembly = Assembly {
        providers: chains,
        webhooks: Some(Arc::new(providers::webhook::HttpWebhooks::new(
            shared.http.clone(),
        ))),
        knowledge: Some(Arc::new(crate::client::CallKnowledge::new(
            shared.client.clone(),
            call_id,
        ))),
        call_context: serde_json::json!({
            "call_id": call_id.0,
            "campaign_id": config.call.campaign_id.map(|c| c.0),
            "contact_id": config.contact.as_ref().map(|c| c.contact_id.0),
        }),
        vad: Default::default(),
    };
    let processors = match pipeline(spec, assembly) {
        Ok(p) => p,
        Err(detail) => {
            hang_up(&mut socket, protocol.as_mut(), &detail).await;
            return minimal_result(
                call_id,
                started_at,
                CallOutcomeCode::FleetWorkerLost,
                &detail,
            );
        }
    };
    let start = StartParams {
        input_rate: rate,
        output_rate: rate,
        allow_interruptions: true,
    };
    let mut handle = pipeline::spawn(processors, session_config(spec, start));
    let mut timeline = Timeline::default();
    let mut user_started: Option<Duration> = None;
    let mut media_error: Option<MediaError> = None;
    let mut caller_gone = false;
    let is_vox = protocol.name() == "vox";
    let input = |samples: Vec<i16>| {
        Command::Input(Frame::System(SystemFrame::InputAudio(AudioChunk::new(
            samples, rate,
        ))))
    };
    if !early_audio.is_empty() {
        recorder.write(Track::Caller, 0, &early_audio);
        caller_samples += early_audio.len() as u64;
        let _ = handle.commands.send(input(early_audio));
    }

    let report: SessionReport = loop {
        tokio::select! {
            message = socket.next(), if !caller_gone => {
                let message = match message {
                    Some(Ok(m)) => from_ws(m),
                    _ => {
                        caller_gone = true;
                        let _ = handle.commands.send(Command::Hangup);
                        continue;
                    }
                };
                let Some(message) = message else { continue };
                match protocol.parse(message) {
                    Ok(Inbound::Audio(samples)) => {
                        recorder.write(Track::Caller, caller_samples, &samples);
                        caller_samples += samples.len() as u64;
                        let _ = handle.commands.send(input(samples));
                    }
                    Ok(Inbound::Dtmf(digit)) => {
                        let _ = handle.commands.send(Command::Input(Frame::System(SystemFrame::Dtmf(digit))));
                    }
                    Ok(Inbound::Stop) => {
                        caller_gone = true;
                        let _ = handle.commands.send(Command::Hangup);
                    }
                    Ok(Inbound::Start(_)) => {
                        media_error = Some(MediaError::new(protocol.name(), "a second start message"));
                        let _ = handle.commands.send(Command::Hangup);
                    }
                    Ok(Inbound::Mark(_) | Inbound::Cleared | Inbound::Ignored) => {}
                    Err(error) => {
                        tracing::warn!(call_id = call_id.0, %error, "malformed media message; ending the call");
                        media_error = Some(error);
                        let _ = handle.commands.send(Command::Hangup);
                    }
                }
            }
            frame = handle.output.recv() => {
                match frame {
                    Some(Frame::Data(DataFrame::OutputAudio(chunk))) if !caller_gone => {
                        let at = clock.elapsed().as_micros() as u64 * u64::from(rate.hz()) / 1_000_000;
                        recorder.write(Track::Bot, at, &chunk.samples);
                        if !send_all(&mut socket, protocol.audio(&chunk.samples)).await {
                            caller_gone = true;
                            let _ = handle.commands.send(Command::Hangup);
                        }
                    }
                    Some(Frame::System(SystemFrame::Transport(TransportMessage::Clear))) if !caller_gone => {
                        let _ = send_all(&mut socket, protocol.clear()).await;
                    }
                    _ => {}
                }
            }
            frame = handle.upstream.recv() => {
                let now = clock.elapsed();
                match frame {
                    Some(Frame::System(SystemFrame::UserStartedSpeaking)) => {
                        user_started = Some(now);
                        timeline.activity.push(now);
                    }
                    Some(Frame::System(SystemFrame::UserStoppedSpeaking)) => {
                        if let Some(start) = user_started.take() {
                            timeline.user.push((start, now));
                        }
                        timeline.activity.push(now);
                    }
                    Some(Frame::System(SystemFrame::BotStartedSpeaking)) => {
                        timeline.bot_starts.push(now);
                        timeline.activity.push(now);
                    }
                    Some(Frame::System(SystemFrame::BotStoppedSpeaking)) => timeline.activity.push(now),
                    Some(Frame::System(SystemFrame::Call(CallEvent::UserSaid(text)))) if is_vox && !caller_gone => {
                        let _ = send_all(&mut socket, vec![media::vox::Vox::transcript("user", &text, false)]).await;
                    }
                    Some(Frame::System(SystemFrame::AssistantHeard { text, interrupted })) if is_vox && !caller_gone => {
                        let _ = send_all(&mut socket, vec![media::vox::Vox::transcript("assistant", &text, interrupted)]).await;
                    }
                    _ => {}
                }
            }
            report = &mut handle.report => {
                break report.unwrap_or_else(|e| SessionReport {
                    end_reason: pipeline::EndReason::Internal(format!("the session task failed: {e}")),
                    duration: clock.elapsed(),
                    turns: Vec::new(),
                    events: Vec::new(),
                });
            }
        }
    };
    if let Some(start) = user_started {
        timeline.user.push((start, clock.elapsed()));
    }
    timeline.end = clock.elapsed();

    let mut outcome = post_call::outcome(&report.end_reason, spec);
    let mut end_detail = format!("{:?}", report.end_reason);
    if let Some(error) = &media_error {
        outcome = CallOutcomeCode::MediaProtocolError;
        end_detail = error.to_string();
    }
    if !caller_gone {
        hang_up(&mut socket, protocol.as_mut(), &end_detail).await;
    }
    tracing::info!(call_id = call_id.0, %outcome, detail = %end_detail, "call ended");

    let mut conversation = post_call::conversation(&report);
    if media_error.is_some() {
        conversation
            .transcript
            .push(contracts::call_result::TranscriptEntry {
                speaker: contracts::call_result::Speaker::System,
                text: end_detail.clone(),
                at_ms: report.duration.as_millis() as u64,
                interrupted: false,
                detail: None,
            });
    }
    if let Some(decision) = screened {
        conversation
            .transcript
            .insert(0, screen::screening_note(&decision, false));
    }
    let (mut findings, llm_rules) = post_call::qc_findings(spec, &conversation, &timeline);
    let analysis = post_call::analyse(
        &analysis_llms,
        &spec.analysis,
        &llm_rules,
        &conversation.transcript,
        ANALYSIS_TIMEOUT,
    )
    .await;
    if let Some(problem) = &analysis.problem {
        tracing::warn!(call_id = call_id.0, %problem, "post-call analysis");
    }
    findings.extend(analysis.findings);
    let mut fields = conversation.fields;
    fields.extend(analysis.fields);

    let (recording, wav) = recording(shared, call_id, started_at, &mut recorder);
    let amd = screen::amd_check(request, screened.as_ref(), &conversation.transcript);
    let ms = |d: Option<Duration>| d.map(|d| d.as_millis().min(u128::from(u32::MAX)) as u32);
    let result = CallResult {
        call_id,
        outcome,
        disposition: conversation.disposition,
        transcript: conversation.transcript,
        analysis: fields,
        qc_findings: findings,
        recording,
        timings: CallTimings {
            answered_at: Some(request.answered_at),
            started_at,
            ended_at: Utc::now().max(started_at),
            turns: report
                .turns
                .iter()
                .map(|t| TurnTiming {
                    stt_final_ms: ms(t.stt_final),
                    llm_first_token_ms: ms(t.llm_first_token),
                    tts_first_audio_ms: ms(t.tts_first_audio),
                    first_audio_sent_ms: ms(t.first_audio_sent),
                })
                .collect(),
        },
        machine_detected: false,
        amd,
    };
    (result, wav)
}

/// The stereo recording's reference and its bytes under the call's key.
pub(crate) fn recording(
    shared: &Shared,
    call_id: CallId,
    started_at: DateTime<Utc>,
    recorder: &mut StereoRecorder,
) -> (Option<RecordingRef>, Option<(String, Vec<u8>)>) {
    let rate = recorder.rate();
    let Ok(wav) = recorder.to_wav() else {
        return (None, None);
    };
    let key = format!("calls/{}/{}.wav", started_at.format("%Y/%m/%d"), call_id.0);
    let reference = RecordingRef {
        uri: shared.config.recordings.uri(&key),
        format: "wav".to_owned(),
        duration_ms: recorder.end() * 1000 / u64::from(rate.hz()),
        sample_rate: rate.hz(),
        channels: 2,
    };
    (Some(reference), Some((key, wav)))
}
