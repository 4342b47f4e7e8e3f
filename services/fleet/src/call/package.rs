//! Packaging a call's result.
//!
//! The outcome, the transcript, QC and the post-call analysis, the recording and the timings.

use super::live::Ended;
use crate::Shared;
use crate::outbox::Wav;
use crate::post_call;
use crate::screen;
use audio::StereoRecorder;
use audio::amd::AmdDecision;
use chrono::{DateTime, Utc};
use contracts::attach::AttachRequest;
use contracts::call_result::{
    CallResult, CallTimings, RecordingRef, Speaker, TranscriptEntry, TurnTiming,
};
use contracts::runtime_config::BotSpec;
use contracts::{CallId, CallOutcomeCode};
use pipeline::LanguageModel;
use std::sync::Arc;
use std::time::Duration;

/// How long the post-call analysis may take.
const ANALYSIS_TIMEOUT: Duration = Duration::from_secs(30);

/// A call's result and its recording (key and WAV), ready for the outbox.
pub type Packaged = (CallResult, Option<(String, Wav)>);

/// A result for a call that never reached a conversation.
pub fn minimal_result(
    call_id: CallId,
    started_at: DateTime<Utc>,
    outcome: CallOutcomeCode,
    detail: &str,
) -> Packaged {
    let result = CallResult {
        call_id,
        outcome,
        disposition: None,
        transcript: vec![TranscriptEntry {
            speaker: Speaker::System,
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
            drafts_dropped: 0,
        },
        machine_detected: false,
        amd: None,
    };
    (result, None)
}

/// The stereo recording's reference and its WAV (a finished spill file, or bytes when the
/// recorder did not spill) under the call's key.
pub(crate) fn recording(
    shared: &Shared,
    call_id: CallId,
    started_at: DateTime<Utc>,
    recorder: &mut StereoRecorder,
) -> (Option<RecordingRef>, Option<(String, Wav)>) {
    let rate = recorder.rate();
    let duration_ms = recorder.end() * 1000 / u64::from(rate.hz());
    let wav = if recorder.spilling() {
        let path = shared.outbox.spool_path(call_id);
        match super::spool::finish(recorder, &path) {
            Ok(()) => Wav::File(path),
            Err(error) => {
                // The spool file goes when the result is stored (`Outbox::end`).
                tracing::error!(call_id = call_id.0, %error, "the call's recording is lost");
                return (None, None);
            }
        }
    } else {
        match recorder.to_wav() {
            Ok(bytes) => Wav::Bytes(bytes),
            Err(_) => return (None, None),
        }
    };
    let key = format!("calls/{}/{}.wav", started_at.format("%Y/%m/%d"), call_id.0);
    let reference = RecordingRef {
        uri: shared.config.recordings.uri(&key),
        format: "wav".to_owned(),
        duration_ms,
        sample_rate: rate.hz(),
        channels: 2,
    };
    (Some(reference), Some((key, wav)))
}

/// What the conversation left behind, for its result.
pub(super) struct Conversation<'a> {
    pub shared: &'a Shared,
    pub request: &'a AttachRequest,
    pub spec: &'a BotSpec,
    pub started_at: DateTime<Utc>,
    /// The models the post-call analysis asks (the bot's LLM chain).
    pub analysis_llms: Vec<Arc<dyn LanguageModel>>,
    /// The screening's verdict when the bot listened for a machine first.
    pub screened: Option<AmdDecision>,
    pub recorder: &'a mut StereoRecorder,
}

/// The outcome (`end_detail` says why), then the packaged result.
pub(super) fn outcome(spec: &BotSpec, ended: &Ended) -> (CallOutcomeCode, String) {
    match &ended.media_error {
        Some(error) => (CallOutcomeCode::MediaProtocolError, error.to_string()),
        None => (
            post_call::outcome(&ended.report.end_reason, spec),
            format!("{:?}", ended.report.end_reason),
        ),
    }
}

/// Transcript, QC findings, analysis, recording and timings of a finished conversation.
pub(super) async fn package(
    call: Conversation<'_>,
    ended: Ended,
    outcome: CallOutcomeCode,
    end_detail: String,
) -> Packaged {
    let call_id = call.request.call_id;
    let report = &ended.report;
    let mut conversation = post_call::conversation(report);
    if ended.media_error.is_some() {
        conversation.transcript.push(TranscriptEntry {
            speaker: Speaker::System,
            text: end_detail,
            at_ms: report.duration.as_millis() as u64,
            interrupted: false,
            detail: None,
        });
    }
    if let Some(decision) = &call.screened {
        conversation
            .transcript
            .insert(0, screen::screening_note(decision, false));
    }
    let (mut findings, llm_rules) =
        post_call::qc_findings(call.spec, &conversation, &ended.timeline);
    let analysis = post_call::analyse(
        &call.analysis_llms,
        &call.spec.analysis,
        &llm_rules,
        &conversation.transcript,
        ANALYSIS_TIMEOUT,
    )
    .await;
    if let Some(problem) = &analysis.problem {
        tracing::warn!(call_id = call_id.0, %problem, "post-call analysis");
    }
    findings.extend(analysis.findings);
    let drafts_dropped = conversation.drafts_dropped;
    let mut fields = conversation.fields;
    fields.extend(analysis.fields);

    let (recording, wav) = recording(call.shared, call_id, call.started_at, call.recorder);
    let amd = screen::amd_check(
        call.request,
        call.screened.as_ref(),
        &conversation.transcript,
    );
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
            answered_at: Some(call.request.answered_at),
            started_at: call.started_at,
            ended_at: Utc::now().max(call.started_at),
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
            drafts_dropped,
        },
        machine_detected: false,
        amd,
    };
    (result, wav)
}
