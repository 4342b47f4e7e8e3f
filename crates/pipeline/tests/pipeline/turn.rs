//! The turn model's stage and the aggregator answering on its verdicts.

use crate::support::*;
use pipeline::assemble::{Assembly, fallbacks, pipeline};
use pipeline::processors::{EndOfTurn, TurnModel, TurnPolicy, TurnProcessor, UserAggregator};
use pipeline::testing::{ScriptedLlm, ScriptedStt, TestInput, ToneTts, run_test, run_test_with};
use pipeline::{CallEvent, Frame, SessionConfig, StartParams, SystemFrame};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// A fake turn model: answers its scripted probabilities in turn (the last one from then on) and
/// reports how many 16 kHz samples it was given each time.
#[derive(Debug)]
struct ScriptedTurns {
    answers: Vec<f32>,
    asked: AtomicUsize,
    heard: mpsc::UnboundedSender<usize>,
}

fn scripted(answers: &[f32]) -> (Arc<ScriptedTurns>, mpsc::UnboundedReceiver<usize>) {
    let (heard, lengths) = mpsc::unbounded_channel();
    let model = ScriptedTurns {
        answers: answers.to_vec(),
        asked: AtomicUsize::new(0),
        heard,
    };
    (Arc::new(model), lengths)
}

impl TurnModel for ScriptedTurns {
    fn probability(&self, audio: &[f32]) -> Result<f32, String> {
        let _ = self.heard.send(audio.len());
        let n = self.asked.fetch_add(1, Ordering::SeqCst);
        Ok(self.answers[n.min(self.answers.len() - 1)])
    }
}

const WAIT: Duration = Duration::from_secs(3);

fn stages(model: Arc<ScriptedTurns>) -> Vec<Box<dyn pipeline::Processor>> {
    stages_reading(model, TurnPolicy::model())
}

fn stages_reading(
    model: Arc<ScriptedTurns>,
    policy: TurnPolicy,
) -> Vec<Box<dyn pipeline::Processor>> {
    vec![
        Box::new(TurnProcessor::new(model, 0.5, WAIT)),
        Box::new(UserAggregator::new(policy, WAIT)),
    ]
}

/// A fake reader of words (a language model's check): takes 100 ms, finds a question finished
/// only when it ends on a question mark, and reports each text it was asked about.
#[derive(Debug)]
struct ScriptedWords {
    asked: mpsc::UnboundedSender<String>,
}

#[async_trait::async_trait]
impl EndOfTurn for ScriptedWords {
    async fn is_complete(&self, text: &str) -> bool {
        let _ = self.asked.send(text.to_owned());
        tokio::time::sleep(Duration::from_millis(100)).await;
        text.ends_with('?')
    }
}

fn frame(frame: SystemFrame) -> TestInput {
    TestInput::Frame(frame.into())
}

/// `ms` of caller audio at `rate`.
fn audio(ms: usize, rate: audio::SampleRate) -> Vec<TestInput> {
    unpaced(ms, rate, 300)
}

/// Speech of `ms` at 16 kHz saying `words`, as the VAD and the STT report it.
fn said(ms: usize, words: &str) -> Vec<TestInput> {
    let mut inputs = vec![frame(SystemFrame::UserStartedSpeaking)];
    inputs.extend(audio(ms, audio::SampleRate::Hz16000));
    inputs.push(frame(SystemFrame::UserStoppedSpeaking));
    inputs.push(frame(SystemFrame::Transcription(pipeline::Transcript {
        text: words.to_owned(),
        provider: "stt".to_owned(),
    })));
    inputs
}

fn turns(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::System(SystemFrame::UserTurn(text)) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn verdicts(frames: &[Frame]) -> Vec<(bool, Option<f32>)> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::System(SystemFrame::Call(CallEvent::Turn(d))) => {
                Some((d.complete, d.probability))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_pause_the_model_calls_complete_ends_the_turn_without_waiting() {
    let (model, _) = scripted(&[0.9]);
    let mut inputs = audio(400, audio::SampleRate::Hz16000);
    inputs.extend(said(1_000, "I'd like to book a cleaning."));
    inputs.push(TestInput::Wait(Duration::from_millis(50)));
    let out = run_test(stages(model), inputs).await;
    assert_eq!(turns(&out.down), vec!["I'd like to book a cleaning."]);
    assert_eq!(verdicts(&out.up), vec![(true, Some(0.9))]);
    assert!(out.report.duration < WAIT, "{:?}", out.report.duration);
}

#[tokio::test(start_paused = true)]
async fn a_pause_the_model_calls_complete_after_a_word_no_sentence_ends_on_still_waits() {
    let (model, _) = scripted(&[0.9]);
    let mut inputs = said(1_000, "I'd like an appointment for.");
    inputs.push(TestInput::Wait(Duration::from_millis(900)));
    inputs.push(frame(SystemFrame::Interruption));
    inputs.extend(said(800, "next Tuesday."));
    inputs.push(TestInput::Wait(Duration::from_millis(50)));
    let out = run_test(stages(model), inputs).await;
    // The model heard an ending both times; the words said the first was not one.
    assert_eq!(
        verdicts(&out.up),
        vec![(true, Some(0.9)), (true, Some(0.9))]
    );
    assert_eq!(
        turns(&out.down),
        vec!["I'd like an appointment for. next Tuesday."]
    );
}

#[tokio::test(start_paused = true)]
async fn a_pause_the_model_calls_complete_waits_while_the_words_read_as_going_on() {
    let (model, _) = scripted(&[0.9]);
    let (asked, mut texts) = mpsc::unbounded_channel();
    let words = TurnPolicy::Model(Arc::new(ScriptedWords { asked }));
    // "me" may end a sentence: only the reader of words holds this pause.
    let mut inputs = said(1_000, "Can you tell me");
    inputs.push(TestInput::Wait(Duration::from_millis(900)));
    inputs.push(frame(SystemFrame::Interruption));
    inputs.extend(said(800, "what time you close on Fridays?"));
    inputs.push(TestInput::Wait(Duration::from_millis(300)));
    let out = run_test(stages_reading(model, words), inputs).await;
    assert_eq!(
        turns(&out.down),
        vec!["Can you tell me what time you close on Fridays?"]
    );
    // Each text was read once, when its words came.
    assert_eq!(texts.recv().await.unwrap(), "Can you tell me");
    assert_eq!(
        texts.recv().await.unwrap(),
        "Can you tell me what time you close on Fridays?"
    );
    assert!(texts.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn a_pause_called_incomplete_waits_and_the_speech_after_it_joins_the_same_turn() {
    let (model, mut heard) = scripted(&[0.1, 0.8]);
    let mut inputs = said(1_000, "I want to book and");
    inputs.push(TestInput::Wait(Duration::from_millis(600)));
    // The caller goes on before the wait is over (the VAD interrupts as they start again).
    inputs.push(frame(SystemFrame::Interruption));
    inputs.extend(said(800, "a cleaning."));
    inputs.push(TestInput::Wait(Duration::from_millis(50)));
    let out = run_test(stages(model), inputs).await;
    assert_eq!(turns(&out.down), vec!["I want to book and a cleaning."]);
    assert_eq!(
        verdicts(&out.up),
        vec![(false, Some(0.1)), (true, Some(0.8))]
    );
    // The second verdict heard the whole turn, the first part included.
    let (first, second) = (heard.recv().await.unwrap(), heard.recv().await.unwrap());
    assert_eq!(first, 16_000);
    assert_eq!(second, 16_000 + 12_800);
}

#[tokio::test(start_paused = true)]
async fn an_incomplete_turn_is_answered_once_the_wait_is_over_and_the_next_starts_afresh() {
    let (model, mut heard) = scripted(&[0.2, 0.9]);
    let mut inputs = said(1_000, "So I was thinking");
    // Quiet audio through the wait, then a new turn.
    inputs.extend(audio(3_600, audio::SampleRate::Hz16000));
    inputs.extend(said(500, "Hello?"));
    inputs.push(TestInput::Wait(Duration::from_millis(50)));
    let out = run_test(stages(model), inputs).await;
    assert_eq!(turns(&out.down), vec!["So I was thinking", "Hello?"]);
    assert!(out.report.duration >= WAIT, "{:?}", out.report.duration);
    assert_eq!(heard.recv().await.unwrap(), 16_000);
    // The new turn: its 0.5 s before the speech and the speech, not the old turn.
    assert_eq!(heard.recv().await.unwrap(), 8_000 + 8_000);
}

#[tokio::test(start_paused = true)]
async fn phone_audio_reaches_the_model_at_16_khz_with_half_a_second_before_the_speech() {
    let (model, mut heard) = scripted(&[0.9]);
    let rate = audio::SampleRate::Hz8000;
    let mut inputs = audio(2_000, rate);
    inputs.push(frame(SystemFrame::UserStartedSpeaking));
    inputs.extend(audio(1_000, rate));
    inputs.push(frame(SystemFrame::UserStoppedSpeaking));
    let config = SessionConfig {
        start: StartParams {
            input_rate: rate,
            output_rate: rate,
            ..StartParams::default()
        },
        ..SessionConfig::default()
    };
    run_test_with(stages(model), inputs, config).await;
    let samples = heard.recv().await.unwrap() as i64;
    // 1.5 s at 16 kHz, give or take the resampler's edges.
    assert!((samples - 24_000).abs() < 400, "{samples}");
}

#[test]
fn a_smart_bot_gets_the_turn_stage_only_where_the_worker_has_a_model() {
    let mut bot = spec();
    bot.turn.mode = contracts::runtime_config::TurnMode::Smart;
    let (model, _) = scripted(&[0.9]);
    let names = |assembly: Assembly| {
        pipeline(&bot, assembly)
            .unwrap()
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
    };
    let providers = || {
        chains(
            vec![Arc::new(ScriptedStt::new("stt", &[]))],
            vec![Arc::new(ScriptedLlm::texts("llm", &[]))],
            vec![Arc::new(ToneTts::new("tts"))],
        )
    };
    let with = Assembly {
        turn_model: Some(model),
        ..providers()
    };
    assert!(fallbacks(&bot, &with).is_empty());
    assert_eq!(names(with)[..3], ["vad", "turn", "stt"]);
    let without = providers();
    assert!(fallbacks(&bot, &without)[0].contains("SMART_TURN_MODEL"));
    assert_eq!(names(without)[..2], ["vad", "stt"]);
    bot.turn.vad = contracts::runtime_config::VadEngine::Silero;
    let missing = fallbacks(&bot, &providers());
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert!(missing[1].contains("SILERO_VAD_MODEL"), "{missing:?}");
}
