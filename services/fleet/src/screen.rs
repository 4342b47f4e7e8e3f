//! The bot's own answering-machine detection, for outbound calls the carrier did not screen.
//!
//! The first seconds of the callee's audio decide between a person (the conversation starts) and a
//! machine (the bot leaves its voicemail message after the beep, or hangs up, as the bot says).
//!
//! The audio heard while screening is recorded but not given to the pipeline: a person's
//! "Hello?" is answered by the bot's first message, not transcribed as a reply to it. A verdict
//! of "not sure" counts as a person, since hanging up on a person is an abandoned call.

use crate::Shared;
use crate::call::{faster_than_real_time, from_ws, send_all};
use crate::media::{Inbound, Protocol};
use audio::amd::{AmdDecision, AmdParams, Answerer, BeepDetector, MachineDetector};
use audio::{SampleRate, StereoRecorder, Track, VadParams, VoiceDetector};
use axum::extract::ws::WebSocket;
use chrono::{DateTime, Utc};
use contracts::CallOutcomeCode;
use contracts::attach::{AmdVerdict, AttachRequest};
use contracts::call_result::{
    AmdCheck, AmdEvidence, CallResult, CallTimings, Speaker, TranscriptEntry,
};
use contracts::runtime_config::{CallDirection, VoicemailBehaviour};
use futures_util::StreamExt;
use pipeline::TextToSpeech;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long a machine's greeting may go on before the message is left anyway.
const GREETING_LIMIT: Duration = Duration::from_secs(20);
/// Silence that ends a greeting without a beep.
const GREETING_END_SILENCE: Duration = Duration::from_millis(1500);

/// The caller's side of the media as screening read it.
pub(crate) struct Heard<'a> {
    pub socket: &'a mut WebSocket,
    pub protocol: &'a mut dyn Protocol,
    pub recorder: &'a mut StereoRecorder,
    pub caller_samples: &'a mut u64,
    pub rate: SampleRate,
    /// The call's clock: audio may not run far ahead of it.
    pub clock: tokio::time::Instant,
}

impl Heard<'_> {
    /// The next frame of caller audio; `None` when the caller is gone.
    async fn next_audio(&mut self) -> Option<Vec<i16>> {
        loop {
            let message = from_ws(self.socket.next().await?.ok()?)?;
            match self.protocol.parse(message) {
                Ok(Inbound::Audio(samples)) => {
                    let total = *self.caller_samples + samples.len() as u64;
                    let elapsed = self.clock.elapsed();
                    if let Some(why) = faster_than_real_time(total, self.rate, elapsed) {
                        tracing::warn!("{why}; ending the call while screening it");
                        return None;
                    }
                    self.recorder
                        .write(Track::Caller, *self.caller_samples, &samples);
                    *self.caller_samples += samples.len() as u64;
                    return Some(samples);
                }
                Ok(Inbound::Stop) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Frames of `samples`, 20 ms each (carriers send other sizes).
    fn frames(&self, pending: &mut Vec<i16>, samples: Vec<i16>) -> Vec<Vec<i16>> {
        pending.extend(samples);
        let n = self.rate.frame_samples();
        let mut frames = Vec::new();
        while pending.len() >= n {
            frames.push(pending.drain(..n).collect());
        }
        frames
    }
}

/// What screening found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Screening {
    /// A person (or not sure): start the conversation.
    Person(AmdDecision),
    Machine(AmdDecision),
    /// The callee hung up while being screened.
    Gone,
}

/// Listens to the first seconds of the call (`early` is audio that came with the start).
pub(crate) async fn screen(heard: &mut Heard<'_>, early: Vec<i16>) -> Screening {
    let Ok(mut detector) = MachineDetector::new(heard.rate, AmdParams::default()) else {
        return Screening::Person(AmdDecision {
            answerer: Answerer::NotSure,
            reason: "the detector does not support this sample rate",
            after_secs: 0.0,
        });
    };
    let mut pending = Vec::new();
    let mut input = early;
    loop {
        for frame in heard.frames(&mut pending, input) {
            if let Some(decision) = detector.push(&frame) {
                return match decision.answerer {
                    Answerer::Machine => Screening::Machine(decision),
                    Answerer::Human | Answerer::NotSure => Screening::Person(decision),
                };
            }
        }
        match heard.next_audio().await {
            Some(samples) => input = samples,
            None => return Screening::Gone,
        }
    }
}

/// After a machine verdict: waits for the greeting to end (the beep, or a long silence), then
/// speaks `message` and returns it; `None` when the machine hung up first or the voice failed.
pub(crate) async fn leave_message(
    heard: &mut Heard<'_>,
    behaviour: &VoicemailBehaviour,
    tts: Option<Arc<dyn TextToSpeech>>,
    clock: Instant,
) -> Option<String> {
    let VoicemailBehaviour::LeaveMessage { message } = behaviour else {
        return None;
    };
    let tts = tts?;
    let mut beep = BeepDetector::new(heard.rate);
    let mut vad = VoiceDetector::new(heard.rate, VadParams::default()).ok()?;
    let frame = Duration::from_millis(u64::from(audio::FRAME_MS));
    let (mut silence, mut waited) = (Duration::ZERO, Duration::ZERO);
    let mut pending = Vec::new();
    'greeting: while waited < GREETING_LIMIT {
        let samples = heard.next_audio().await?;
        for f in heard.frames(&mut pending, samples) {
            waited += frame;
            vad.push(&f);
            silence = if vad.in_speech() {
                Duration::ZERO
            } else {
                silence + frame
            };
            if beep.push(&f) || silence >= GREETING_END_SILENCE {
                break 'greeting;
            }
        }
    }
    let mut stream = match tts.synthesize(message, heard.rate).await {
        Ok(stream) => stream,
        Err(error) => {
            tracing::warn!(%error, "the voicemail message could not be spoken");
            return None;
        }
    };
    let mut spoken = 0usize;
    let start = clock.elapsed().as_micros() as u64 * u64::from(heard.rate.hz()) / 1_000_000;
    while let Some(chunk) = stream.next().await {
        let Ok(samples) = chunk else { break };
        heard
            .recorder
            .write(Track::Bot, start + spoken as u64, &samples);
        spoken += samples.len();
        if !send_all(heard.socket, heard.protocol.audio(&samples)).await {
            return None;
        }
    }
    // The carrier plays what it was sent in real time: stay on the line until it has.
    let secs = spoken as f64 / f64::from(heard.rate.hz());
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    Some(message.clone())
}

/// The transcript's note of what the bot's machine check decided.
pub(crate) fn screening_note(decision: &AmdDecision, machine: bool) -> TranscriptEntry {
    let verdict = if machine {
        "machine"
    } else {
        match decision.answerer {
            Answerer::NotSure => "not sure, taken for a person",
            _ => "person",
        }
    };
    TranscriptEntry {
        speaker: Speaker::System,
        text: format!(
            "answering-machine check: {verdict} ({}) after {:.1} s",
            decision.reason, decision.after_secs
        ),
        at_ms: (decision.after_secs * 1000.0) as u64,
        interrupted: false,
        detail: Some(serde_json::json!({
            "amd": verdict,
            "reason": decision.reason,
            "after_secs": decision.after_secs,
        })),
    }
}

/// The result of a call a machine answered: the check, the message left (if any), the recording.
pub(crate) fn machine_result(
    shared: &Shared,
    request: &contracts::attach::AttachRequest,
    started_at: DateTime<Utc>,
    mut recorder: StereoRecorder,
    decision: AmdDecision,
    message_left: Option<String>,
) -> crate::call::Packaged {
    let mut transcript = vec![screening_note(&decision, true)];
    if let Some(message) = &message_left {
        transcript.push(TranscriptEntry {
            speaker: Speaker::Assistant,
            text: message.clone(),
            at_ms: (decision.after_secs * 1000.0) as u64,
            interrupted: false,
            detail: Some(serde_json::json!({"voicemail": true})),
        });
    }
    let (recording, wav) =
        crate::call::recording(shared, request.call_id, started_at, &mut recorder);
    let result = CallResult {
        call_id: request.call_id,
        outcome: CallOutcomeCode::DialMachine,
        disposition: Some(
            if message_left.is_some() {
                "voicemail_left"
            } else {
                "machine"
            }
            .to_owned(),
        ),
        transcript,
        analysis: Default::default(),
        qc_findings: Vec::new(),
        recording,
        timings: CallTimings {
            answered_at: Some(request.answered_at),
            started_at,
            ended_at: Utc::now().max(started_at),
            turns: Vec::new(),
            drafts_dropped: 0,
        },
        machine_detected: true,
        amd: Some(AmdCheck {
            carrier: request.amd,
            bot: Some(AmdVerdict::Machine),
            reason: Some(decision.reason.to_owned()),
            evidence: None,
        }),
    };
    (result, wav)
}

/// What people never say on picking up, and voicemail greetings do.
const VOICEMAIL_PHRASES: &[&str] = &[
    "leave a message",
    "leave your message",
    "after the tone",
    "after the beep",
    "not available",
    "can't come to the phone",
    "cannot come to the phone",
    "voicemail",
    "voice mail",
    "mailbox",
    "record your message",
];

/// The machine checks of a call that went to a conversation: the carrier's verdict, the bot's
/// (when it listened), and evidence against them when the first thing the callee said in the
/// first 20 seconds sounds like a voicemail greeting. `None` for calls that are not outbound.
pub(crate) fn amd_check(
    request: &AttachRequest,
    screened: Option<&AmdDecision>,
    transcript: &[TranscriptEntry],
) -> Option<AmdCheck> {
    if request.direction != CallDirection::Outbound {
        return None;
    }
    let heard_voicemail = transcript
        .iter()
        .filter(|t| t.speaker == Speaker::User && t.at_ms < 20_000)
        .take(2)
        .any(|t| {
            let text = t.text.to_lowercase();
            VOICEMAIL_PHRASES.iter().any(|p| text.contains(p))
        });
    Some(AmdCheck {
        carrier: request.amd,
        bot: screened.map(|d| match d.answerer {
            Answerer::Machine => AmdVerdict::Machine,
            Answerer::Human => AmdVerdict::Human,
            Answerer::NotSure => AmdVerdict::Unknown,
        }),
        reason: screened.map(|d| d.reason.to_owned()),
        evidence: heard_voicemail.then_some(AmdEvidence::MachineTakenForPerson),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::CallId;
    use contracts::attach::MediaProtocol;

    fn request(amd: Option<AmdVerdict>) -> AttachRequest {
        AttachRequest {
            call_id: CallId(1),
            direction: CallDirection::Outbound,
            campaign_id: None,
            carrier: "sim".into(),
            carrier_call_id: "SIM-1".into(),
            media_protocol: MediaProtocol::Vox,
            from: None,
            to: None,
            answered_at: Utc::now(),
            amd,
            client: None,
        }
    }

    fn said(text: &str, at_ms: u64) -> TranscriptEntry {
        TranscriptEntry {
            speaker: Speaker::User,
            text: text.into(),
            at_ms,
            interrupted: false,
            detail: None,
        }
    }

    #[test]
    fn a_voicemail_greeting_heard_after_a_human_verdict_is_false_negative_evidence() {
        let check = amd_check(
            &request(Some(AmdVerdict::Human)),
            None,
            &[said(
                "Hi, you've reached Sam, please leave a message.",
                1200,
            )],
        )
        .unwrap();
        assert_eq!(check.carrier, Some(AmdVerdict::Human));
        assert_eq!(check.evidence, Some(AmdEvidence::MachineTakenForPerson));
        let person = amd_check(
            &request(None),
            Some(&AmdDecision {
                answerer: Answerer::Human,
                reason: "a short greeting, then silence",
                after_secs: 1.2,
            }),
            &[
                said("Hello?", 800),
                said("My voicemail is full, by the way.", 45_000),
            ],
        )
        .unwrap();
        assert_eq!(person.bot, Some(AmdVerdict::Human));
        assert_eq!(person.evidence, None, "late words are not a greeting");
        let mut inbound = request(None);
        inbound.direction = CallDirection::Inbound;
        assert_eq!(amd_check(&inbound, None, &[]), None);
    }
}
