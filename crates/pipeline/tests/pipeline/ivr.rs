//! IVR mode: a bot that calls into an automated menu listens to all of it before it presses keys.

use crate::support::{build, chains, heard, keys_heard, paced, silence, spec, speech_16k};
use audio::SampleRate;
use pipeline::testing::{ScriptedLlm, ScriptedStt, TestInput, ToneTts, run_test_with};
use pipeline::{LlmEvent, LlmRequest, Message, StartParams, ToolCall};
use std::sync::Arc;

/// A menu read in two parts with a 1.2 s pause between them (as menus pause between options),
/// then quiet.
fn menu() -> Vec<TestInput> {
    let mut inputs = silence(500, SampleRate::Hz16000);
    inputs.extend(paced(&speech_16k(), SampleRate::Hz16000));
    inputs.extend(silence(1_200, SampleRate::Hz16000));
    inputs.extend(paced(&speech_16k(), SampleRate::Hz16000));
    inputs.extend(silence(4_000, SampleRate::Hz16000));
    inputs
}

/// A bot (IVR mode on or off) that hears the menu as `heard` (one transcript per detector stop)
/// and answers each turn by pressing 2, then "Thank you."; what it sent the LLM and the output.
async fn call(ivr: bool, heard: &[&str]) -> (Vec<LlmRequest>, pipeline::testing::TestOutput) {
    let mut bot = spec();
    bot.first_message = Some("Hello, I'd like to book an appointment.".to_owned());
    bot.ivr.enabled = ivr;
    let press = || {
        vec![LlmEvent::ToolCall(ToolCall {
            id: "call_1".to_owned(),
            name: "send_digits".to_owned(),
            arguments: serde_json::json!({"digits": "2"}),
        })]
    };
    let thanks = || pipeline::testing::words("Thank you.");
    let llm = ScriptedLlm::new("llm", vec![press(), thanks(), press(), thanks()]);
    let mut requests = llm.record_requests();
    let processors = build(
        &bot,
        chains(
            vec![Arc::new(ScriptedStt::new("stt", heard))],
            vec![Arc::new(llm)],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    let config = pipeline::assemble::session_config(&bot, StartParams::default());
    let out = run_test_with(processors, menu(), config).await;
    let mut sent = Vec::new();
    while let Ok(request) = requests.try_recv() {
        sent.push(request);
    }
    (sent, out)
}

/// What the menu heard the bot say, in words (its key tones are not words).
fn spoken(out: &pipeline::testing::TestOutput) -> Vec<String> {
    heard(&out.up).into_iter().map(|(text, _)| text).collect()
}

#[tokio::test(start_paused = true)]
async fn a_bot_in_ivr_mode_hears_the_whole_menu_as_one_turn_then_presses_its_keys() {
    let menu_text = "For appointments press 2. For billing press 3.";
    let (requests, out) = call(true, &[menu_text]).await;
    // It said nothing first, waited out the pause between the options and asked once: its only
    // words are the reply after pressing.
    assert_eq!(spoken(&out), ["Thank you."]);
    let first = &requests[0];
    assert_eq!(first.messages, vec![Message::User(menu_text.to_owned())]);
    assert!(
        first.system.contains("automated phone menu"),
        "{}",
        first.system
    );
    assert!(first.tools.iter().any(|t| t.name == "send_digits"));
    assert_eq!(
        keys_heard(&out.down, StartParams::default().output_rate),
        "2"
    );

    // The same bot out of IVR mode greets the menu and answers its first part on its own.
    let (requests, out) = call(
        false,
        &["For appointments press 2.", "For billing press 3."],
    )
    .await;
    let greeting = spoken(&out);
    assert!(
        greeting
            .first()
            .is_some_and(|g| "Hello, I'd like to book an appointment.".starts_with(g.as_str())),
        "{greeting:?}"
    );
    assert_eq!(
        requests[0].messages.last(),
        Some(&Message::User("For appointments press 2.".to_owned()))
    );
    assert!(!requests[0].system.contains("automated phone menu"));
}
