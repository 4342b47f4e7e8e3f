//! Deterministic flows: say, ask, branch on keywords or DTMF, set fields, press keys, end.

use crate::support::*;
use contracts::runtime_config::{Flow, FlowBranch, FlowStep};
use pipeline::testing::run_test_with;
use pipeline::testing::{ScriptedStt, TestInput, ToneTts, run_test};
use pipeline::{CallEvent, EndReason, Frame, StartParams, SystemFrame, TransportMessage};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn reminder_flow() -> Flow {
    let mut steps = std::collections::BTreeMap::new();
    steps.insert(
        "greet".to_owned(),
        FlowStep::Say {
            text: "Hello, this is your dentist.".to_owned(),
            next: "tag".to_owned(),
        },
    );
    steps.insert(
        "tag".to_owned(),
        FlowStep::SetField {
            field: "campaign".to_owned(),
            value: json!("reminders"),
            next: "confirm".to_owned(),
        },
    );
    steps.insert(
        "confirm".to_owned(),
        FlowStep::Ask {
            prompt: "Will you come tomorrow? Say yes or press 1.".to_owned(),
            field: Some("answer".to_owned()),
            branches: vec![
                FlowBranch {
                    keywords: vec!["yes".to_owned(), "of course".to_owned()],
                    dtmf: Some("1".to_owned()),
                    next: "confirmed".to_owned(),
                },
                FlowBranch {
                    keywords: vec!["no".to_owned()],
                    dtmf: Some("2".to_owned()),
                    next: "declined".to_owned(),
                },
            ],
            otherwise: "declined".to_owned(),
        },
    );
    steps.insert(
        "confirmed".to_owned(),
        FlowStep::End {
            text: Some("See you tomorrow.".to_owned()),
            disposition: Some("confirmed".to_owned()),
        },
    );
    steps.insert(
        "declined".to_owned(),
        FlowStep::End {
            text: Some("We will call to reschedule.".to_owned()),
            disposition: Some("declined".to_owned()),
        },
    );
    Flow {
        start: "greet".to_owned(),
        steps,
    }
}

fn flow_bot_inputs(answer: Vec<TestInput>) -> Vec<TestInput> {
    let mut inputs = vec![TestInput::Wait(Duration::from_secs(6))];
    inputs.extend(answer);
    inputs.push(TestInput::Wait(Duration::from_secs(5)));
    inputs
}

async fn run_flow(answer: Vec<TestInput>, transcripts: &[&str]) -> pipeline::testing::TestOutput {
    let mut bot = spec();
    bot.flow = Some(reminder_flow());
    // A flow bot needs no LLM at all.
    let processors = build(
        &bot,
        chains(
            vec![Arc::new(ScriptedStt::new("stt", transcripts))],
            vec![],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    run_test(processors, flow_bot_inputs(answer)).await
}

#[tokio::test(start_paused = true)]
async fn a_flow_bot_says_asks_branches_on_speech_and_ends_without_an_llm() {
    let out = run_flow(utterance(), &["Yes, of course I will."]).await;
    assert_eq!(out.report.end_reason, EndReason::BotEnded);
    let spoken: Vec<String> = heard(&out.up).into_iter().map(|h| h.0).collect();
    assert_eq!(
        spoken,
        vec![
            "Hello, this is your dentist.",
            "Will you come tomorrow? Say yes or press 1.",
            "See you tomorrow."
        ]
    );
    assert_eq!(
        call_events(&out.up),
        vec![
            CallEvent::Field {
                name: "campaign".to_owned(),
                value: json!("reminders")
            },
            CallEvent::UserSaid("Yes, of course I will.".to_owned()),
            CallEvent::Field {
                name: "answer".to_owned(),
                value: json!("Yes, of course I will.")
            },
            CallEvent::Disposition("confirmed".to_owned()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_flow_branches_on_dtmf_and_takes_otherwise_for_anything_else() {
    let out = run_flow(
        vec![TestInput::Frame(Frame::System(SystemFrame::Dtmf('2')))],
        &[],
    )
    .await;
    assert!(call_events(&out.up).contains(&CallEvent::Disposition("declined".to_owned())));

    let out = run_flow(utterance(), &["Maybe, I am not sure."]).await;
    assert!(call_events(&out.up).contains(&CallEvent::Disposition("declined".to_owned())));
    assert_eq!(
        heard(&out.up).last().unwrap().0,
        "We will call to reschedule."
    );
}

#[tokio::test(start_paused = true)]
async fn a_flow_that_loops_without_asking_ends_the_call_instead_of_spinning() {
    let mut steps = std::collections::BTreeMap::new();
    steps.insert(
        "a".to_owned(),
        FlowStep::SetField {
            field: "x".to_owned(),
            value: json!(1),
            next: "b".to_owned(),
        },
    );
    steps.insert(
        "b".to_owned(),
        FlowStep::SetField {
            field: "y".to_owned(),
            value: json!(2),
            next: "a".to_owned(),
        },
    );
    let mut bot = spec();
    bot.flow = Some(Flow {
        start: "a".to_owned(),
        steps,
    });
    let processors = build(
        &bot,
        chains(
            vec![Arc::new(ScriptedStt::new("stt", &[]))],
            vec![],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    let out = run_test(processors, vec![TestInput::Wait(Duration::from_secs(1))]).await;
    let EndReason::ProviderFailed { provider, message } = out.report.end_reason else {
        panic!()
    };
    assert_eq!(provider, "flow");
    assert!(message.contains("loops"));
}

/// A flow that says a line, presses `digits`, then ends.
fn keys_flow_bot(digits: &str) -> contracts::runtime_config::BotSpec {
    let mut steps = std::collections::BTreeMap::new();
    steps.insert(
        "hello".to_owned(),
        FlowStep::Say {
            text: "Calling the front desk.".to_owned(),
            next: "press".to_owned(),
        },
    );
    steps.insert(
        "press".to_owned(),
        FlowStep::SendDigits {
            digits: digits.to_owned(),
            next: "bye".to_owned(),
        },
    );
    steps.insert(
        "bye".to_owned(),
        FlowStep::End {
            text: None,
            disposition: None,
        },
    );
    let mut bot = spec();
    bot.flow = Some(Flow {
        start: "hello".to_owned(),
        steps,
    });
    bot
}

#[tokio::test(start_paused = true)]
async fn a_press_keys_step_sends_events_where_the_transport_can_and_tones_elsewhere() {
    let run = |start: StartParams| async move {
        let bot = keys_flow_bot("2#");
        let processors = build(
            &bot,
            chains(
                vec![Arc::new(ScriptedStt::new("stt", &[]))],
                vec![],
                vec![Arc::new(ToneTts::new("tts"))],
            ),
        );
        let config = pipeline::assemble::session_config(&bot, start);
        run_test_with(
            processors,
            vec![TestInput::Wait(Duration::from_secs(8))],
            config,
        )
        .await
    };
    let sip = run(StartParams {
        sends_digits: true,
        ..StartParams::default()
    })
    .await;
    let events: Vec<&Frame> = sip
        .down
        .iter()
        .filter(|f| {
            matches!(
                f,
                Frame::System(SystemFrame::Transport(TransportMessage::Dtmf(_)))
            )
        })
        .collect();
    assert_eq!(
        events,
        [&Frame::System(SystemFrame::Transport(
            TransportMessage::Dtmf("2#".to_owned())
        ))]
    );
    assert_eq!(sip.report.end_reason, EndReason::BotEnded);

    let media_stream = run(StartParams::default()).await;
    let rate = StartParams::default().output_rate;
    assert_eq!(keys_heard(&media_stream.down, rate), "2#");
    assert_eq!(media_stream.report.end_reason, EndReason::BotEnded);
}
