//! Provider failures: fallback chains switch mid-call; with none left the call ends naming it.

use crate::support::*;
use pipeline::testing::{Behaviour, ScriptedLlm, ScriptedStt, TestInput, ToneTts, run_test};
use pipeline::{EndReason, ProviderError};
use std::sync::Arc;
use std::time::Duration;

fn rate_limited(provider: &str) -> ProviderError {
    ProviderError::RateLimited {
        provider: provider.to_owned(),
        retry_after: Some(Duration::from_secs(30)),
    }
}

fn two_turns() -> Vec<TestInput> {
    let mut inputs = utterance();
    inputs.push(TestInput::Wait(Duration::from_secs(4)));
    inputs.extend(utterance());
    inputs.push(TestInput::Wait(Duration::from_secs(4)));
    inputs
}

#[tokio::test(start_paused = true)]
async fn the_llm_fallback_takes_over_when_the_primary_fails_mid_call() {
    let primary = ScriptedLlm::texts("primary-llm", &["First answer."])
        .behaving(Behaviour::FailsAfter(1, rate_limited("primary-llm")));
    let secondary = ScriptedLlm::texts("secondary-llm", &["Second answer from the fallback."]);
    let stt = ScriptedStt::new("stt", &["One.", "Two."]);
    let processors = build(
        &spec(),
        chains(
            vec![Arc::new(stt)],
            vec![Arc::new(primary), Arc::new(secondary)],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    let out = run_test(processors, two_turns()).await;
    let errors = errors(&out.up);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].source, "primary-llm");
    assert!(!errors[0].fatal);
    let spoken: Vec<String> = heard(&out.up).into_iter().map(|h| h.0).collect();
    // The primary got two words out before failing; they were said, and the fallback answers the next turn.
    assert_eq!(spoken[0], "First answer.");
    assert!(
        spoken
            .iter()
            .any(|s| s.contains("Second answer from the fallback.")),
        "{spoken:?}"
    );
    assert_eq!(out.report.end_reason, EndReason::CallerHungUp);
}

#[tokio::test(start_paused = true)]
async fn a_stalled_llm_times_out_and_the_fallback_answers_the_same_turn() {
    let primary = ScriptedLlm::texts("slow-llm", &[]).behaving(Behaviour::Stalls);
    let secondary = ScriptedLlm::texts("backup-llm", &["Backup here."]);
    let stt = ScriptedStt::new("stt", &["Hello?"]);
    let processors = build(
        &spec(),
        chains(
            vec![Arc::new(stt)],
            vec![Arc::new(primary), Arc::new(secondary)],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    let mut inputs = utterance();
    inputs.push(TestInput::Wait(Duration::from_secs(15)));
    let out = run_test(processors, inputs).await;
    let errors = errors(&out.up);
    assert_eq!(errors[0].source, "slow-llm");
    assert!(
        errors[0].message.contains("timed out"),
        "{}",
        errors[0].message
    );
    assert_eq!(heard(&out.up), vec![("Backup here.".to_owned(), false)]);
}

#[tokio::test(start_paused = true)]
async fn with_no_fallback_left_the_call_ends_naming_the_provider() {
    let only =
        ScriptedLlm::texts("only-llm", &[]).behaving(Behaviour::Fails(ProviderError::Auth {
            provider: "only-llm".to_owned(),
            message: "invalid key".to_owned(),
        }));
    let stt = ScriptedStt::new("stt", &["Hello?"]);
    let processors = build(
        &spec(),
        chains(
            vec![Arc::new(stt)],
            vec![Arc::new(only)],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    let mut inputs = utterance();
    inputs.push(TestInput::Wait(Duration::from_secs(2)));
    let out = run_test(processors, inputs).await;
    let EndReason::ProviderFailed { provider, message } = &out.report.end_reason else {
        panic!("{:?}", out.report.end_reason)
    };
    assert_eq!(provider, "only-llm");
    assert!(message.contains("invalid key"));
}

#[tokio::test(start_paused = true)]
async fn the_tts_fallback_speaks_the_sentence_the_primary_failed() {
    let primary =
        ToneTts::new("primary-tts").behaving(Behaviour::Fails(ProviderError::Connection {
            provider: "primary-tts".to_owned(),
            message: "socket closed".to_owned(),
        }));
    let stt = ScriptedStt::new("stt", &["Hi."]);
    let processors = build(
        &spec(),
        chains(
            vec![Arc::new(stt)],
            vec![Arc::new(ScriptedLlm::texts("llm", &["Hello there."]))],
            vec![Arc::new(primary), Arc::new(ToneTts::new("backup-tts"))],
        ),
    );
    let mut inputs = utterance();
    inputs.push(TestInput::Wait(Duration::from_secs(3)));
    let out = run_test(processors, inputs).await;
    assert_eq!(errors(&out.up)[0].source, "primary-tts");
    assert_eq!(heard(&out.up), vec![("Hello there.".to_owned(), false)]);
    assert!(audio_out(&out.down) > Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn the_stt_fallback_takes_over_mid_call() {
    let primary =
        ScriptedStt::new("primary-stt", &["First turn."]).behaving(Behaviour::FailsAfter(
            1,
            ProviderError::Protocol {
                provider: "primary-stt".to_owned(),
                message: "malformed frame".to_owned(),
            },
        ));
    let backup = ScriptedStt::new("backup-stt", &["Second turn."]);
    let llm = ScriptedLlm::texts("llm", &["Got one.", "Got two."]);
    let processors = build(
        &spec(),
        chains(
            vec![Arc::new(primary), Arc::new(backup)],
            vec![Arc::new(llm)],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    let mut inputs = two_turns();
    inputs.extend(utterance());
    inputs.push(TestInput::Wait(Duration::from_secs(3)));
    let out = run_test(processors, inputs).await;
    assert_eq!(errors(&out.up)[0].source, "primary-stt");
    let said: Vec<_> = call_events(&out.up);
    assert!(
        said.contains(&pipeline::CallEvent::UserSaid("Second turn.".to_owned())),
        "{said:?}"
    );
    assert_eq!(out.report.end_reason, EndReason::CallerHungUp);
}
