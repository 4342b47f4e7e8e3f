//! The session runner: priorities, interruption, limits, panics, and what turn-taking rests on.

use crate::support::*;
use async_trait::async_trait;
use pipeline::assemble::session_config;
use pipeline::processors::{AudioOutput, PunctuationEndOfTurn, TurnPolicy, UserAggregator};
use pipeline::testing::{ScriptedLlm, ScriptedStt, TestInput, ToneTts, run_test, run_test_with};
use pipeline::{
    ControlFrame, DataFrame, Direction, EndReason, Frame, Outbox, Processor, ProcessorError,
    StartParams, SystemFrame,
};
use std::sync::Arc;
use std::time::Duration;

/// Takes 100 ms over every data frame; reports upstream each frame it starts on, in order.
#[derive(Debug)]
struct Slow;

#[async_trait]
impl Processor for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        match &frame {
            Frame::Data(DataFrame::LlmText(text)) => {
                out.up(SystemFrame::UserTurn(format!("saw {text}")));
                tokio::time::sleep(Duration::from_millis(100)).await;
                out.up(SystemFrame::UserTurn(format!("done {text}")));
            }
            Frame::System(SystemFrame::Dtmf(digit)) => {
                out.up(SystemFrame::UserTurn(format!("saw {digit}")))
            }
            _ => {}
        }
        out.forward(frame, direction);
        Ok(())
    }
}

fn text(t: &str) -> TestInput {
    TestInput::Frame(DataFrame::LlmText(t.to_owned()).into())
}

#[tokio::test(start_paused = true)]
async fn system_frames_jump_ahead_of_queued_data_frames() {
    let inputs = vec![
        text("a"),
        text("b"),
        text("c"),
        TestInput::Wait(Duration::from_millis(10)),
        TestInput::Frame(SystemFrame::Dtmf('5').into()),
    ];
    let out = run_test(vec![Box::new(Slow)], inputs).await;
    let order: Vec<String> = out
        .up
        .iter()
        .filter_map(|f| match f {
            Frame::System(SystemFrame::UserTurn(t)) if t.starts_with("saw") => Some(t.clone()),
            _ => None,
        })
        .collect();
    // "a" was being processed when the digit arrived; the digit goes before "b" and "c".
    assert_eq!(order, vec!["saw a", "saw 5", "saw b", "saw c"]);
}

#[tokio::test(start_paused = true)]
async fn an_interruption_cancels_running_work_and_drops_queued_data_but_not_system_frames() {
    let inputs = vec![
        text("a"),
        text("b"),
        TestInput::Wait(Duration::from_millis(50)),
        TestInput::Frame(SystemFrame::Interruption.into()),
        TestInput::Frame(SystemFrame::Dtmf('7').into()),
        text("c"),
    ];
    let out = run_test(vec![Box::new(Slow)], inputs).await;
    let seen: Vec<String> = out
        .down
        .iter()
        .filter_map(|f| match f {
            Frame::Data(DataFrame::LlmText(t)) => Some(t.clone()),
            Frame::System(SystemFrame::Dtmf(d)) => Some(d.to_string()),
            Frame::System(SystemFrame::Interruption) => Some("interruption".to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(seen, vec!["interruption", "7", "c"]);
    // The cancelled work on "a" never finished.
    assert!(
        !out.up
            .iter()
            .any(|f| matches!(f, Frame::System(SystemFrame::UserTurn(t)) if t == "done a"))
    );
}

/// Forwards every frame at once.
#[derive(Debug)]
struct Forwards;

#[async_trait]
impl Processor for Forwards {
    fn name(&self) -> &'static str {
        "forwards"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        out.forward(frame, direction);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_caller_frame_queued_just_before_an_interruption_is_not_lost_to_it() {
    // The transcript and the interruption reach each stage's queue together (as the caller's
    // audio and the VAD's events do): the transcript's work finishes at once and is not cancelled.
    let heard = SystemFrame::Transcription(pipeline::Transcript {
        text: "hello".to_owned(),
        provider: "stt".to_owned(),
    });
    let inputs = vec![
        TestInput::Frame(heard.clone().into()),
        TestInput::Frame(SystemFrame::Interruption.into()),
    ];
    let out = run_test(vec![Box::new(Forwards), Box::new(Forwards)], inputs).await;
    let system: Vec<&SystemFrame> = system_frames(&out.down)
        .into_iter()
        .filter(|f| matches!(f, SystemFrame::Transcription(_) | SystemFrame::Interruption))
        .collect();
    assert_eq!(system, vec![&heard, &SystemFrame::Interruption]);
}

#[derive(Debug)]
struct Panics;

#[async_trait]
impl Processor for Panics {
    fn name(&self) -> &'static str {
        "panics"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        if matches!(frame, Frame::System(SystemFrame::Dtmf(_))) {
            panic!("a bug in a processor");
        }
        out.forward(frame, direction);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_processor_ends_its_call_and_nothing_else() {
    let out = run_test(
        vec![Box::new(Panics)],
        vec![TestInput::Frame(SystemFrame::Dtmf('1').into())],
    )
    .await;
    assert!(matches!(out.report.end_reason, EndReason::Internal(_)));
    // Another call runs fine after it.
    let out = run_test(vec![Box::new(Panics)], vec![text("x")]).await;
    assert_eq!(out.report.end_reason, EndReason::CallerHungUp);
}

fn quiet_bot(
    max_duration_secs: u32,
    silence_timeout_secs: u32,
) -> (Vec<Box<dyn Processor>>, pipeline::SessionConfig) {
    let mut bot = spec();
    bot.limits.max_duration_secs = max_duration_secs;
    bot.limits.silence_timeout_secs = silence_timeout_secs;
    assembled(bot)
}

/// A bot with idle prompts due after 8 s, a 5 s silence timeout and one prompt before goodbye.
fn prompting_bot() -> (Vec<Box<dyn Processor>>, pipeline::SessionConfig) {
    let mut bot = spec();
    bot.limits.silence_timeout_secs = 5;
    bot.idle.after_secs = 8;
    bot.idle.max_prompts = 1;
    assembled(bot)
}

fn assembled(
    bot: contracts::runtime_config::BotSpec,
) -> (Vec<Box<dyn Processor>>, pipeline::SessionConfig) {
    let processors = build(
        &bot,
        chains(
            vec![Arc::new(ScriptedStt::new("stt", &["Hi.", "Still here."]))],
            vec![Arc::new(ScriptedLlm::texts("llm", &["Hello.", "Good."]))],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    );
    (processors, session_config(&bot, StartParams::default()))
}

#[tokio::test(start_paused = true)]
async fn the_silence_timeout_ends_a_call_nobody_speaks_in() {
    let (processors, config) = quiet_bot(600, 5);
    let mut inputs = utterance();
    inputs.extend(silence(20_000, audio::SampleRate::Hz16000));
    let out = run_test_with(processors, inputs, config).await;
    assert_eq!(out.report.end_reason, EndReason::SilenceTimeout);
    // 4.3 s of speech, 0.8 s to stop, the short reply, then 5 s of silence.
    let duration = out.report.duration;
    assert!(
        duration > Duration::from_secs(10) && duration < Duration::from_secs(13),
        "{duration:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn idle_prompts_due_after_the_silence_timeout_still_come_and_end_the_call_idle() {
    let (processors, config) = prompting_bot();
    let mut inputs = utterance();
    inputs.extend(silence(40_000, audio::SampleRate::Hz16000));
    let out = run_test_with(processors, inputs, config).await;
    assert_eq!(out.report.end_reason, EndReason::IdleTimeout);
}

#[tokio::test(start_paused = true)]
async fn with_idle_prompts_on_the_silence_timeout_still_ends_a_call_whose_audio_stopped() {
    let (processors, config) = prompting_bot();
    let mut inputs = utterance();
    inputs.extend(silence(2_000, audio::SampleRate::Hz16000));
    // The carrier's audio stops: the prompts' clock stops with it, the session's does not.
    inputs.push(TestInput::Wait(Duration::from_secs(60)));
    let out = run_test_with(processors, inputs, config).await;
    assert_eq!(out.report.end_reason, EndReason::SilenceTimeout);
    // 4.3 s of speech, 0.8 s to stop, the short reply, then 5 + 8 s of silence.
    let duration = out.report.duration;
    assert!(
        duration > Duration::from_secs(18) && duration < Duration::from_secs(21),
        "{duration:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_max_duration_ends_a_call_even_while_people_talk() {
    let (processors, config) = quiet_bot(3, 20);
    let out = run_test_with(processors, utterance(), config).await;
    assert_eq!(out.report.end_reason, EndReason::MaxDuration);
    assert_eq!(out.report.duration, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn the_user_aggregator_waits_for_more_after_a_turn_that_trails_off() {
    let aggregator = UserAggregator::new(
        TurnPolicy::Text(Box::new(PunctuationEndOfTurn)),
        Duration::from_millis(1_000),
    );
    let stopped = |t: &str| {
        vec![
            TestInput::Frame(SystemFrame::UserStartedSpeaking.into()),
            TestInput::Frame(SystemFrame::UserStoppedSpeaking.into()),
            TestInput::Frame(
                SystemFrame::Transcription(pipeline::Transcript {
                    text: t.to_owned(),
                    provider: "stt".to_owned(),
                })
                .into(),
            ),
        ]
    };
    let mut inputs = stopped("I want to book and");
    inputs.push(TestInput::Wait(Duration::from_millis(300)));
    // The caller goes on before the wait is over: one turn, not two.
    inputs.push(TestInput::Frame(SystemFrame::Interruption.into()));
    inputs.extend(stopped("a cleaning."));
    inputs.push(TestInput::Wait(Duration::from_millis(100)));
    let out = run_test(vec![Box::new(aggregator)], inputs).await;
    let turns: Vec<&SystemFrame> = system_frames(&out.down)
        .into_iter()
        .filter(|f| matches!(f, SystemFrame::UserTurn(_)))
        .collect();
    assert_eq!(
        turns,
        vec![&SystemFrame::UserTurn(
            "I want to book and a cleaning.".to_owned()
        )]
    );
    assert!(!PunctuationEndOfTurn::reads_complete("so, um"));
    assert!(PunctuationEndOfTurn::reads_complete("Tuesday works."));
}

#[test]
fn sentences_are_split_where_they_end_and_not_inside_numbers() {
    let mut text = "It costs 9.50 dollars. Shall I book it? Yes".to_owned();
    assert_eq!(
        pipeline::processors::take_sentence(&mut text).as_deref(),
        Some("It costs 9.50 dollars.")
    );
    assert_eq!(
        pipeline::processors::take_sentence(&mut text).as_deref(),
        Some("Shall I book it?")
    );
    assert_eq!(pipeline::processors::take_sentence(&mut text), None);
    assert_eq!(text.trim(), "Yes");
}

#[test]
fn the_heard_part_of_a_sentence_is_cut_back_to_a_whole_word() {
    let sentence = "We have openings on Tuesday at nine.";
    assert_eq!(
        pipeline::processors::heard_part(sentence, Duration::from_millis(1_000)),
        "We have"
    );
    assert_eq!(
        pipeline::processors::heard_part(sentence, Duration::from_secs(10)),
        sentence
    );
    assert_eq!(
        pipeline::processors::heard_part(sentence, Duration::from_millis(100)),
        ""
    );
}

#[tokio::test(start_paused = true)]
async fn bot_audio_leaves_in_real_time_frames() {
    let frames = vec![
        TestInput::Frame(ControlFrame::LlmResponseStart.into()),
        TestInput::Frame(DataFrame::TtsSentence("Hi.".to_owned()).into()),
        TestInput::Frame(
            DataFrame::OutputAudio(pipeline::AudioChunk::new(
                vec![1; 16_000],
                audio::SampleRate::Hz16000,
            ))
            .into(),
        ),
        TestInput::Frame(ControlFrame::TtsStopped.into()),
    ];
    let started = tokio::time::Instant::now();
    let out = run_test(vec![Box::new(AudioOutput::default())], frames).await;
    let chunks: Vec<usize> = out
        .down
        .iter()
        .filter_map(|f| match f {
            Frame::Data(DataFrame::OutputAudio(c)) => Some(c.samples.len()),
            _ => None,
        })
        .collect();
    assert_eq!(chunks, vec![320; 50]);
    // One second of audio takes one second to play.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1_000) && took < Duration::from_millis(1_100),
        "{took:?}"
    );
    assert_eq!(heard(&out.up), vec![("Hi.".to_owned(), false)]);
}
