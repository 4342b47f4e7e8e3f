//! One call on a worker, in named stages.
//!
//! Open the media, build the provider chains, screen for a machine, run the conversation, package
//! the result.
//!
//! Each stage that fails ends the call there with an outcome and a minimal result: a carrier
//! that never starts its stream, a chain that cannot be built (the capability names the outcome),
//! a callee who hangs up or a machine while the bot listens, a pipeline that cannot be assembled.
//! The conversation itself is `live::LiveCall`, a loop over a closed event enum.

mod live;
mod open;
mod package;
mod spool;

pub(crate) use open::{faster_than_real_time, from_ws, send_all};
pub(crate) use package::recording;
pub use package::{Packaged, minimal_result};

use crate::Shared;
use crate::screen::{self, Heard, Screening};
use crate::slots::Reservation;
use audio::StereoRecorder;
use audio::amd::AmdDecision;
use axum::extract::ws::WebSocket;
use chrono::{DateTime, Utc};
use contracts::attach::{AttachRequest, MediaProtocol};
use contracts::runtime_config::{CallDirection, RuntimeConfig};
use contracts::{CallId, CallOutcomeCode};
use open::Media;
use pipeline::StartParams;
use pipeline::assemble::{Assembly, ProviderChains, pipeline, session_config};
use providers::Capability;
use std::sync::Arc;
use tokio::time::Instant;

/// Why a call ended before or outside the pipeline.
pub(crate) struct Failure {
    outcome: CallOutcomeCode,
    detail: String,
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

/// Where the screening left the call.
enum Screened {
    /// A person (or no screening): the conversation goes on, with the verdict if there was one.
    Go(Option<AmdDecision>),
    /// The call is over (a machine, or the callee hung up).
    Over(Box<Packaged>),
}

async fn converse(
    shared: &Shared,
    request: &AttachRequest,
    config: RuntimeConfig,
    socket: WebSocket,
    started_at: DateTime<Utc>,
) -> Packaged {
    let call_id = request.call_id;
    let spec = &config.spec;
    let minimal =
        |failure: Failure| minimal_result(call_id, started_at, failure.outcome, &failure.detail);
    let mut media = match open::open(request, socket).await {
        Ok(media) => media,
        Err(failure) => return minimal(failure),
    };
    let chains = match providers::build_chains(spec, &shared.config.providers) {
        Ok(chains) => chains,
        Err(error) => {
            let failure = Failure {
                outcome: match error.capability() {
                    Capability::Stt => CallOutcomeCode::ProviderSttFailed,
                    Capability::Llm => CallOutcomeCode::ProviderLlmFailed,
                    Capability::Tts => CallOutcomeCode::ProviderTtsFailed,
                },
                detail: error.to_string(),
            };
            media.hang_up(&failure.detail).await;
            return minimal(failure);
        }
    };
    // The call's clock and recording start with the stream, screening included.
    let clock = Instant::now();
    let mut recorder = StereoRecorder::new(media.rate);
    // Older audio goes to disk as the call runs (M7); without a writable spool the recording
    // stays in memory, as before.
    if let Err(error) = spool::spill(&mut recorder, shared.outbox.spool_path(call_id)) {
        tracing::warn!(call_id = call_id.0, %error, "the recording cannot spill to disk; it stays in memory");
    }
    let mut caller_samples: u64 = 0;
    let screened = match screen_for_machine(
        shared,
        request,
        &config,
        &chains,
        &mut media,
        &mut recorder,
        &mut caller_samples,
        clock,
        started_at,
    )
    .await
    {
        Screened::Go(decision) => decision,
        Screened::Over(packaged) => return *packaged,
    };
    let analysis_llms = chains.llm.clone();
    let assembly = assembly(shared, call_id, &config, chains);
    let fallbacks = pipeline::assemble::fallbacks(spec, &assembly);
    for fallback in &fallbacks {
        tracing::warn!(call_id = call_id.0, "{fallback}");
    }
    let processors = match pipeline(spec, assembly) {
        Ok(processors) => processors,
        Err(detail) => {
            media.hang_up(&detail).await;
            return minimal(Failure {
                outcome: CallOutcomeCode::FleetWorkerLost,
                detail,
            });
        }
    };
    let start = StartParams {
        input_rate: media.rate,
        output_rate: media.rate,
        allow_interruptions: true,
        sends_digits: media.protocol.sends_digits() || media.protocol.carrier_keys(),
    };
    let handle = pipeline::spawn(processors, session_config(spec, start));
    let live = live::LiveCall::new(
        call_id,
        &mut media,
        &mut recorder,
        caller_samples,
        clock,
        &handle,
    )
    .with_carrier_keys(shared.client.clone());
    let mut ended = live.run(handle).await;
    // The call's record says which model it asked for and did without.
    for (i, message) in fallbacks.into_iter().enumerate() {
        let event = pipeline::SystemFrame::Error(pipeline::PipelineError {
            source: "turn".to_owned(),
            message,
            fatal: false,
        });
        let at = std::time::Duration::ZERO;
        ended
            .report
            .events
            .insert(i, pipeline::LoggedEvent { at, event });
    }

    let (outcome, end_detail) = package::outcome(spec, &ended);
    // A carrier's call is moved to the transfer target by the telephony edge, before the media
    // closes (closing first would end the call at the carrier).
    if let pipeline::EndReason::Transferred { destination } = &ended.report.end_reason
        && !ended.caller_gone
        && !matches!(request.media_protocol, MediaProtocol::Vox)
        && let Err(error) = shared.client.transfer(call_id, destination).await
    {
        tracing::warn!(call_id = call_id.0, %destination, %error, "the transfer failed");
    }
    if !ended.caller_gone {
        media.hang_up(&end_detail).await;
    }
    tracing::info!(call_id = call_id.0, %outcome, detail = %end_detail, "call ended");
    let call = package::Conversation {
        shared,
        request,
        spec,
        started_at,
        analysis_llms,
        screened,
        recorder: &mut recorder,
    };
    package::package(call, ended, outcome, end_detail).await
}

/// An outbound call the carrier did not screen: the bot listens first, and a machine gets the
/// voicemail message (or nothing) instead of the conversation.
#[allow(clippy::too_many_arguments)]
async fn screen_for_machine(
    shared: &Shared,
    request: &AttachRequest,
    config: &RuntimeConfig,
    chains: &ProviderChains,
    media: &mut Media,
    recorder: &mut StereoRecorder,
    caller_samples: &mut u64,
    clock: Instant,
    started_at: DateTime<Utc>,
) -> Screened {
    if request.direction != CallDirection::Outbound || request.amd.is_some() {
        return Screened::Go(None);
    }
    let early_audio = std::mem::take(&mut media.early_audio);
    let mut heard = Heard {
        socket: &mut media.socket,
        protocol: media.protocol.as_mut(),
        recorder,
        caller_samples,
        rate: media.rate,
        clock,
    };
    match screen::screen(&mut heard, early_audio).await {
        Screening::Person(decision) => Screened::Go(Some(decision)),
        Screening::Gone => Screened::Over(Box::new(minimal_result(
            request.call_id,
            started_at,
            CallOutcomeCode::CallCallerHangup,
            "the callee hung up while the bot listened for a machine",
        ))),
        Screening::Machine(decision) => {
            let tts = chains.tts.first().cloned();
            let left = screen::leave_message(&mut heard, &config.spec.voicemail, tts, clock).await;
            media.hang_up("answering machine").await;
            tracing::info!(
                call_id = request.call_id.0,
                reason = decision.reason,
                message_left = left.is_some(),
                "a machine answered"
            );
            Screened::Over(Box::new(screen::machine_result(
                shared,
                request,
                started_at,
                std::mem::replace(recorder, StereoRecorder::new(media.rate)),
                decision,
                left,
            )))
        }
    }
}

/// What the pipeline is built from besides the bot: its chains, the worker's webhook client, the
/// call's knowledge search, and the call's ids for tools.
fn assembly(
    shared: &Shared,
    call_id: CallId,
    config: &RuntimeConfig,
    chains: ProviderChains,
) -> Assembly {
    Assembly {
        providers: chains,
        webhooks: Some(Arc::new(providers::webhook::HttpWebhooks::new(
            shared.webhooks.clone(),
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
        turn_model: shared.turn_model.clone(),
        voice_model: shared.voice_model.clone(),
        words: shared.words.clone(),
    }
}
