//! Idle prompts: a caller who goes quiet is prompted (in fixed words or the LLM's), then told
//! goodbye.

use crate::support::{build, chains, heard, silence, spec, unpaced};
use pipeline::ProviderError;
use pipeline::processors::{IdlePolicy, IdleProcessor};
use pipeline::testing::{Behaviour, ScriptedLlm, ScriptedStt, ToneTts};
use pipeline::testing::{TestInput, run_test};
use pipeline::{CallEvent, DataFrame, EndReason, Frame, IdleStep, SystemFrame};
use std::sync::Arc;
use std::time::Duration;

fn idle() -> Vec<Box<dyn pipeline::Processor>> {
    vec![Box::new(IdleProcessor::new(IdlePolicy {
        after: Duration::from_secs(2),
        prompts: vec!["Are you still there?".into(), "Hello?".into()],
        max_prompts: 2,
        goodbye: "Goodbye.".into(),
        generate: false,
    }))]
}

/// `ms` of quiet caller audio at 16 kHz, as the transport streams it.
fn quiet(ms: usize) -> Vec<TestInput> {
    unpaced(ms, audio::SampleRate::Hz16000, 0)
}

fn spoken(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Data(DataFrame::Speak(text)) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_silent_caller_is_prompted_in_turn_then_told_goodbye_and_the_call_ends_idle() {
    let out = run_test(idle(), quiet(10_000)).await;
    assert_eq!(
        spoken(&out.down),
        vec!["Are you still there?", "Hello?", "Goodbye."]
    );
    assert_eq!(out.report.end_reason, EndReason::IdleTimeout);
    // Each step is in the call's record, in order.
    let steps: Vec<IdleStep> = out
        .report
        .events
        .iter()
        .filter_map(|e| match e.event {
            SystemFrame::Call(CallEvent::Idle(step)) => Some(step),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            IdleStep::Prompt { number: 1, of: 2 },
            IdleStep::Prompt { number: 2, of: 2 },
            IdleStep::Goodbye,
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_caller_who_answers_a_prompt_gets_the_prompts_afresh_at_the_next_silence() {
    let mut inputs = quiet(3_000);
    inputs.push(TestInput::Frame(SystemFrame::UserStartedSpeaking.into()));
    // Audio while they speak is not quiet.
    inputs.extend(quiet(3_000));
    inputs.push(TestInput::Frame(SystemFrame::UserStoppedSpeaking.into()));
    inputs.extend(quiet(3_000));
    let out = run_test(idle(), inputs).await;
    assert_eq!(
        spoken(&out.down),
        vec!["Are you still there?", "Are you still there?"]
    );
    assert_eq!(out.report.end_reason, EndReason::CallerHungUp);
}

/// A bot that prompts once after 2 s of quiet, in its LLM's words; what its caller heard, and the
/// LLM's requests.
async fn generated(llm: ScriptedLlm) -> (Vec<String>, Vec<pipeline::LlmRequest>, EndReason) {
    let mut bot = spec();
    bot.idle.after_secs = 2;
    bot.idle.max_prompts = 1;
    bot.idle.prompts = vec!["Are you still there?".into()];
    bot.idle.goodbye = "Goodbye.".into();
    bot.idle.generate = true;
    let mut requests = llm.record_requests();
    let processors = build(
        &bot,
        chains(
            vec![Arc::new(ScriptedStt::new("stt", &[]))],
            vec![Arc::new(llm)],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    let config = pipeline::assemble::session_config(&bot, pipeline::StartParams::default());
    let out = pipeline::testing::run_test_with(
        processors,
        silence(12_000, audio::SampleRate::Hz16000),
        config,
    )
    .await;
    let mut sent = Vec::new();
    while let Ok(request) = requests.try_recv() {
        sent.push(request);
    }
    let said = heard(&out.up).into_iter().map(|(text, _)| text).collect();
    (said, sent, out.report.end_reason)
}

#[tokio::test(start_paused = true)]
async fn a_generated_prompt_is_the_llms_line_for_the_conversation_so_far() {
    let llm = ScriptedLlm::texts("llm", &["Hello? Are you still with me?"]);
    let (said, requests, end) = generated(llm).await;
    assert_eq!(said, vec!["Hello? Are you still with me?", "Goodbye."]);
    assert_eq!(requests.len(), 1);
    assert!(requests[0].system.contains("has said nothing for a while"));
    assert!(requests[0].tools.is_empty());
    assert_eq!(end, EndReason::IdleTimeout);
}

#[tokio::test(start_paused = true)]
async fn a_generated_prompt_falls_back_to_the_bots_line_when_the_llm_fails() {
    let llm =
        ScriptedLlm::texts("llm", &[]).behaving(Behaviour::Fails(ProviderError::Connection {
            provider: "llm".into(),
            message: "refused".into(),
        }));
    let (said, _, end) = generated(llm).await;
    assert_eq!(said, vec!["Are you still there?", "Goodbye."]);
    assert_eq!(end, EndReason::IdleTimeout);
}
