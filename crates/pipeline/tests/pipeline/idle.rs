//! Idle prompts: a caller who goes quiet is prompted, then told goodbye.

use crate::support::unpaced;
use pipeline::processors::{IdlePolicy, IdleProcessor};
use pipeline::testing::{TestInput, run_test};
use pipeline::{DataFrame, EndReason, Frame, SystemFrame};
use std::time::Duration;

fn idle() -> Vec<Box<dyn pipeline::Processor>> {
    vec![Box::new(IdleProcessor::new(IdlePolicy {
        after: Duration::from_secs(2),
        prompts: vec!["Are you still there?".into(), "Hello?".into()],
        max_prompts: 2,
        goodbye: "Goodbye.".into(),
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
