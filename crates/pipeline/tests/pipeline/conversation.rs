//! Whole turns through the assembled pipeline.
//!
//! Real speech in, bot audio out, barge-in, turn timings.

use crate::support::*;
use audio::SampleRate;
use pipeline::testing::{ScriptedLlm, ScriptedStt, TestInput, ToneTts, run_test};
use pipeline::{
    AudioChunk, CallEvent, DataFrame, Frame, InterruptionKind, Message, SystemFrame,
    TransportMessage,
};
use std::sync::Arc;
use std::time::Duration;

const REPLY: &str = "Sure, Tuesday at nine works. Shall I book it for you?";

#[tokio::test(start_paused = true)]
async fn a_spoken_turn_goes_from_caller_audio_to_the_bots_reply_audio() {
    let llm = ScriptedLlm::texts("llm", &[REPLY]);
    let requests = llm.record_requests();
    let stt = ScriptedStt::new("stt", &["I would like to book an appointment for Tuesday."]);
    let processors = build(
        &spec(),
        chains(
            vec![Arc::new(stt)],
            vec![Arc::new(llm)],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    let mut inputs = utterance();
    inputs.push(TestInput::Wait(Duration::from_secs(6)));
    let out = run_test(processors, inputs).await;

    let down = system_frames(&out.down);
    let started = down
        .iter()
        .position(|f| **f == SystemFrame::UserStartedSpeaking)
        .unwrap();
    let stopped = down
        .iter()
        .position(|f| **f == SystemFrame::UserStoppedSpeaking)
        .unwrap();
    let bot_started = down
        .iter()
        .position(|f| **f == SystemFrame::BotStartedSpeaking)
        .unwrap();
    assert!(started < stopped && stopped < bot_started);
    assert!(down.contains(&&SystemFrame::BotStoppedSpeaking));
    // The whole reply was played: about 14 characters a second.
    let played = audio_out(&out.down);
    assert!(played > Duration::from_secs(3), "{played:?}");
    assert_eq!(heard(&out.up), vec![(REPLY.to_owned(), false)]);
    assert_eq!(
        call_events(&out.up),
        vec![CallEvent::UserSaid(
            "I would like to book an appointment for Tuesday.".to_owned()
        )]
    );
    let request = requests_of(requests).remove(0);
    assert_eq!(request.system, "You book appointments.");
    assert_eq!(
        request.messages,
        vec![Message::User(
            "I would like to book an appointment for Tuesday.".to_owned()
        )]
    );
    // Every point of the turn was timed, in order, and with instant providers the bot's first
    // audio leaves within a few milliseconds of the end of the caller's speech.
    let turn = out.report.turns[0];
    let v2v = turn.first_audio_sent.unwrap();
    assert!(turn.stt_final.unwrap() <= turn.llm_first_token.unwrap());
    assert!(turn.llm_first_token.unwrap() <= turn.tts_first_audio.unwrap());
    assert!(turn.tts_first_audio.unwrap() <= v2v);
    assert!(v2v < Duration::from_millis(20), "{v2v:?}");
}

fn requests_of(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<pipeline::LlmRequest>,
) -> Vec<pipeline::LlmRequest> {
    let mut all = Vec::new();
    while let Ok(request) = rx.try_recv() {
        all.push(request);
    }
    all
}

#[tokio::test(start_paused = true)]
async fn barge_in_mid_sentence_clears_the_carrier_and_keeps_only_what_was_heard() {
    let long_reply = "We have openings on Tuesday at nine, at eleven, and at two in the afternoon. \
                      We also have Wednesday morning if that suits you better. Which one would you like?";
    let llm = ScriptedLlm::texts("llm", &[long_reply, "Wednesday it is."]);
    let requests = llm.record_requests();
    let stt = ScriptedStt::new("stt", &["Any openings on Tuesday?", "Wednesday please."]);
    let processors = build(
        &spec(),
        chains(
            vec![Arc::new(stt)],
            vec![Arc::new(llm)],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    let mut inputs = utterance();
    // The reply starts playing; 2.5 s into it the caller talks over the bot.
    inputs.extend(silence(2_500, SampleRate::Hz16000));
    inputs.extend(utterance());
    inputs.push(TestInput::Wait(Duration::from_secs(5)));
    let out = run_test(processors, inputs).await;

    assert!(
        out.down.contains(&Frame::System(SystemFrame::Transport(
            TransportMessage::Clear
        ))),
        "the carrier's buffer is cleared"
    );
    let turns = heard(&out.up);
    let (first, interrupted) = &turns[0];
    assert!(*interrupted);
    assert!(
        long_reply.starts_with(first.as_str()) && first.len() < 60,
        "heard {first:?}"
    );
    assert!(first.len() > 10, "heard {first:?}");
    // The next request carries the trimmed reply, not the one that was cut off.
    let second = requests_of(requests).remove(1);
    let Message::Assistant { text, .. } = &second.messages[1] else {
        panic!("{:?}", second.messages)
    };
    assert_eq!(text, first);
    assert_eq!(
        second.messages[2],
        Message::User("Wednesday please.".to_owned())
    );
    assert_eq!(
        turns.last().unwrap(),
        &("Wednesday it is.".to_owned(), false)
    );
}

#[tokio::test(start_paused = true)]
async fn an_interruption_drops_the_bots_queued_words_but_keeps_the_callers() {
    let llm = ScriptedLlm::texts(
        "llm",
        &["One. Two. Three. Four. Five. Six. Seven. Eight.", "Okay."],
    )
    .with_delay(Duration::from_millis(50));
    let requests = llm.record_requests();
    let stt = ScriptedStt::new("stt", &["Count for me.", "Stop."]);
    let processors = build(
        &spec(),
        chains(
            vec![Arc::new(stt)],
            vec![Arc::new(llm)],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    let mut inputs = utterance();
    inputs.extend(silence(300, SampleRate::Hz16000));
    inputs.extend(utterance());
    inputs.push(TestInput::Wait(Duration::from_secs(3)));
    let out = run_test(processors, inputs).await;
    let said: Vec<CallEvent> = call_events(&out.up);
    assert_eq!(said.len(), 3, "{said:?}");
    assert_eq!(said[0], CallEvent::UserSaid("Count for me.".to_owned()));
    let CallEvent::Interruption(record) = &said[1] else {
        panic!("{said:?}")
    };
    assert_eq!(
        (record.kind, record.text.as_str()),
        (InterruptionKind::Real, "Stop.")
    );
    assert_eq!(said[2], CallEvent::UserSaid("Stop.".to_owned()));
    let spoken = heard(&out.up);
    assert!(spoken[0].1 && !spoken[0].0.contains("Eight"), "{spoken:?}");
    assert_eq!(requests_of(requests).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_first_message_is_spoken_before_the_caller_says_anything() {
    let mut bot = spec();
    bot.first_message = Some("Hi, this is Ana from the clinic.".to_owned());
    let processors = build(
        &bot,
        chains(
            vec![Arc::new(ScriptedStt::new("stt", &[]))],
            vec![Arc::new(ScriptedLlm::texts("llm", &[]))],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    let out = run_test(processors, vec![TestInput::Wait(Duration::from_secs(4))]).await;
    assert_eq!(
        heard(&out.up),
        vec![("Hi, this is Ana from the clinic.".to_owned(), false)]
    );
    assert!(
        out.down
            .iter()
            .any(|f| matches!(f, Frame::Data(DataFrame::OutputAudio(_))))
    );
}

#[tokio::test(start_paused = true)]
async fn a_caller_who_talks_while_stt_connects_is_still_heard() {
    let mut stt = ScriptedStt::new("stt", &["Hello? Anyone there?"]);
    stt.open_delay = Duration::from_millis(800);
    let processors = build(
        &spec(),
        chains(
            vec![Arc::new(stt)],
            vec![Arc::new(ScriptedLlm::texts("llm", &["Yes, hello!"]))],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    // The caller's speech arrives all at once, long before the STT stream is open.
    let mut inputs: Vec<TestInput> = utterance()
        .into_iter()
        .filter(|i| matches!(i, TestInput::Frame(_)))
        .collect();
    inputs.push(TestInput::Wait(Duration::from_secs(3)));
    let out = run_test(processors, inputs).await;
    assert_eq!(
        call_events(&out.up),
        vec![CallEvent::UserSaid("Hello? Anyone there?".to_owned())]
    );
    assert_eq!(heard(&out.up), vec![("Yes, hello!".to_owned(), false)]);
}

#[tokio::test(start_paused = true)]
async fn caller_audio_at_the_wrong_rate_is_refused_with_an_error_not_a_panic() {
    let processors = build(
        &spec(),
        chains(
            vec![Arc::new(ScriptedStt::new("stt", &[]))],
            vec![Arc::new(ScriptedLlm::texts("llm", &[]))],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    let wrong = AudioChunk::new(vec![0; 160], SampleRate::Hz8000);
    let out = run_test(
        processors,
        vec![TestInput::Frame(SystemFrame::InputAudio(wrong).into())],
    )
    .await;
    let errors = errors(&out.up);
    assert_eq!(errors.len(), 1);
    assert!(
        !errors[0].fatal && errors[0].source == "vad" && errors[0].message.contains("8000 Hz"),
        "{errors:?}"
    );
    assert_eq!(out.report.end_reason, pipeline::EndReason::CallerHungUp);
}
