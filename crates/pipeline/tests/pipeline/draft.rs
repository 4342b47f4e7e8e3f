//! Preemptive replies: the LLM starts on the caller's words while the turn is still being judged.

use async_trait::async_trait;
use pipeline::processors::{LlmProcessor, TurnPolicy, UserAggregator};
use pipeline::testing::{ScriptedLlm, TestInput, run_test};
use pipeline::tools::ToolSet;
use pipeline::{
    CallEvent, DataFrame, Direction, Frame, LlmRequest, Message, Outbox, Processor, ProcessorError,
    SystemFrame, Transcript, TurnDecision,
};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::Instant;

/// When the first frame that `wanted` picks passed: the bot's first words, its first audio.
#[derive(Debug, Clone)]
struct First {
    at: Arc<OnceLock<Instant>>,
    wanted: fn(&Frame) -> bool,
}

impl First {
    fn of(wanted: fn(&Frame) -> bool) -> Self {
        Self {
            at: Arc::default(),
            wanted,
        }
    }

    fn at(&self) -> Instant {
        *self.at.get().expect("the bot said nothing")
    }
}

#[async_trait]
impl Processor for First {
    fn name(&self) -> &'static str {
        "first"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        if (self.wanted)(&frame) {
            self.at.get_or_init(Instant::now);
        }
        out.forward(frame, direction);
        Ok(())
    }
}

fn frame(frame: SystemFrame) -> TestInput {
    TestInput::Frame(frame.into())
}

/// Speech the STT heard as `words`, stopped.
fn said(words: &str) -> Vec<TestInput> {
    vec![
        frame(SystemFrame::UserStartedSpeaking),
        frame(SystemFrame::UserStoppedSpeaking),
        frame(SystemFrame::Transcription(Transcript {
            text: words.to_owned(),
            provider: "stt".to_owned(),
        })),
    ]
}

fn verdict(complete: bool) -> TestInput {
    frame(SystemFrame::TurnDecision(TurnDecision {
        complete,
        probability: Some(if complete { 0.9 } else { 0.1 }),
        inference: Duration::from_millis(60),
    }))
}

/// The aggregator on turn-model verdicts, drafting or not, then an LLM whose every word takes
/// 250 ms; returns the output, the requests the LLM got and when its first words left it.
async fn run(
    drafts: bool,
    inputs: Vec<TestInput>,
) -> (pipeline::testing::TestOutput, Vec<LlmRequest>, Instant) {
    let llm = ScriptedLlm::texts(
        "llm",
        &["Tuesday works.", "Tuesday works.", "Tuesday works."],
    )
    .with_delay(Duration::from_millis(250));
    let mut requests = llm.record_requests();
    let first = First::of(|f| matches!(f, Frame::Data(DataFrame::LlmText(_))));
    let tools = ToolSet::new(&[], None, serde_json::Value::Null).unwrap();
    let processors: Vec<Box<dyn Processor>> = vec![
        Box::new(
            UserAggregator::new(TurnPolicy::model(), Duration::from_secs(3)).with_drafts(drafts),
        ),
        Box::new(LlmProcessor::new(
            vec![Arc::new(llm)],
            "You book appointments.".to_owned(),
            None,
            tools,
        )),
        Box::new(first.clone()),
    ];
    let out = run_test(processors, inputs).await;
    let mut sent = Vec::new();
    while let Ok(request) = requests.try_recv() {
        sent.push(request);
    }
    let at = first.at();
    (out, sent, at)
}

fn dropped(out: &pipeline::testing::TestOutput) -> usize {
    out.up
        .iter()
        .filter(|f| matches!(f, Frame::System(SystemFrame::Call(CallEvent::DraftDropped))))
        .count()
}

/// The caller's turn, a 300 ms decision, then time for the reply.
fn decided_turn() -> Vec<TestInput> {
    let mut inputs = said("Book me for Tuesday.");
    inputs.push(TestInput::Wait(Duration::from_millis(300)));
    inputs.push(verdict(true));
    inputs.push(TestInput::Wait(Duration::from_secs(2)));
    inputs
}

#[tokio::test(start_paused = true)]
async fn a_reply_drafted_while_the_turn_model_decides_answers_as_soon_as_the_turn_is_final() {
    let started = Instant::now();
    let (out, requests, first) = run(true, decided_turn()).await;
    // One request, made at the stop: its first word was ready before the verdict, and left with it.
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].messages,
        vec![Message::User("Book me for Tuesday.".to_owned())]
    );
    assert_eq!(dropped(&out), 0);
    let after = first - started;
    assert!(after < Duration::from_millis(320), "{after:?}");

    // Without drafts the model starts at the verdict, and its first word comes 250 ms later.
    let started = Instant::now();
    let (_, requests, first) = run(false, decided_turn()).await;
    assert_eq!(requests.len(), 1);
    let after = first - started;
    assert!(after >= Duration::from_millis(550), "{after:?}");
}

#[tokio::test(start_paused = true)]
async fn a_caller_who_goes_on_drops_the_draft_and_the_reply_answers_the_whole_turn() {
    let mut inputs = said("I want to book");
    inputs.push(verdict(false));
    inputs.push(TestInput::Wait(Duration::from_millis(500)));
    // They go on: the interruption that more speech brings, then the rest of the turn.
    inputs.push(frame(SystemFrame::Interruption));
    inputs.extend(said("for Tuesday."));
    inputs.push(verdict(true));
    inputs.push(TestInput::Wait(Duration::from_secs(2)));
    let (out, requests, _) = run(true, inputs).await;
    assert_eq!(dropped(&out), 1);
    let last = requests.last().unwrap();
    assert_eq!(
        last.messages,
        vec![Message::User("I want to book for Tuesday.".to_owned())]
    );
    assert_eq!(requests.len(), 2, "{requests:?}");
}

fn transcript(words: &str) -> TestInput {
    frame(SystemFrame::Transcription(Transcript {
        text: words.to_owned(),
        provider: "stt".to_owned(),
    }))
}

#[tokio::test(start_paused = true)]
async fn final_words_heard_before_the_vads_stop_start_the_reply_and_more_words_replace_it() {
    // The STT ends an utterance at a short pause, before the VAD's stop; the VAD stops 200 ms
    // later, the answer to Finalize is empty and the verdict takes 50 ms.
    let started = Instant::now();
    let inputs = vec![
        frame(SystemFrame::UserStartedSpeaking),
        transcript("Book me for Tuesday."),
        TestInput::Wait(Duration::from_millis(200)),
        frame(SystemFrame::UserStoppedSpeaking),
        transcript(""),
        TestInput::Wait(Duration::from_millis(50)),
        verdict(true),
        TestInput::Wait(Duration::from_secs(2)),
    ];
    let (out, requests, first) = run(true, inputs).await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(dropped(&out), 0);
    // The model started with the final words, not at the stop 200 ms later.
    let after = first - started;
    assert!(after < Duration::from_millis(270), "{after:?}");

    // More final words while the VAD still hears speech replace the draft.
    let inputs = vec![
        frame(SystemFrame::UserStartedSpeaking),
        transcript("I want to book"),
        TestInput::Wait(Duration::from_millis(300)),
        transcript("for Tuesday."),
        TestInput::Wait(Duration::from_millis(200)),
        frame(SystemFrame::UserStoppedSpeaking),
        transcript(""),
        verdict(true),
        TestInput::Wait(Duration::from_secs(2)),
    ];
    let (out, requests, _) = run(true, inputs).await;
    assert_eq!(dropped(&out), 1);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        requests[1].messages,
        vec![Message::User("I want to book for Tuesday.".to_owned())]
    );
}

/// A TTS whose first audio comes 200 ms after it is asked; it reports each sentence it was asked
/// for, and when.
#[derive(Debug)]
struct SlowTts(tokio::sync::mpsc::UnboundedSender<(String, Instant)>);

#[async_trait]
impl pipeline::TextToSpeech for SlowTts {
    fn name(&self) -> &str {
        "slow"
    }

    async fn synthesize(
        &self,
        text: &str,
        rate: audio::SampleRate,
    ) -> Result<
        futures_util::stream::BoxStream<'static, Result<Vec<i16>, pipeline::ProviderError>>,
        pipeline::ProviderError,
    > {
        use futures_util::StreamExt;
        let _ = self.0.send((text.to_owned(), Instant::now()));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let chunk = vec![1_000i16; rate.samples_in_ms(100) as usize];
        Ok(futures_util::stream::iter(vec![Ok(chunk)]).boxed())
    }
}

/// The drafting aggregator, an LLM answering `replies` (250 ms a word) that speaks its drafts or
/// not, and the slow TTS: the output, what the TTS was asked (and when) and the first audio.
async fn spoken(
    speak_drafts: bool,
    replies: &[&str],
    inputs: Vec<TestInput>,
) -> (
    pipeline::testing::TestOutput,
    Vec<(String, Instant)>,
    Instant,
) {
    let llm = ScriptedLlm::texts("llm", replies).with_delay(Duration::from_millis(250));
    let (asked, mut asks) = tokio::sync::mpsc::unbounded_channel();
    let first = First::of(|f| matches!(f, Frame::Data(DataFrame::OutputAudio(_))));
    let tools = ToolSet::new(&[], None, serde_json::Value::Null).unwrap();
    let processors: Vec<Box<dyn Processor>> = vec![
        Box::new(
            UserAggregator::new(TurnPolicy::model(), Duration::from_secs(3)).with_drafts(true),
        ),
        Box::new(
            LlmProcessor::new(
                vec![Arc::new(llm)],
                "You book appointments.".to_owned(),
                None,
                tools,
            )
            .with_draft_speech(speak_drafts),
        ),
        Box::new(pipeline::processors::TtsProcessor::new(vec![Arc::new(
            SlowTts(asked),
        )])),
        Box::new(first.clone()),
    ];
    let out = run_test(processors, inputs).await;
    let mut sentences = Vec::new();
    while let Ok(ask) = asks.try_recv() {
        sentences.push(ask);
    }
    let at = first.at();
    (out, sentences, at)
}

/// A turn judged for a second: the draft's reply is whole long before.
fn slow_verdict() -> Vec<TestInput> {
    let mut inputs = said("Book me for Tuesday.");
    inputs.push(TestInput::Wait(Duration::from_secs(1)));
    inputs.push(verdict(true));
    inputs.push(TestInput::Wait(Duration::from_secs(2)));
    inputs
}

#[tokio::test(start_paused = true)]
async fn a_bot_that_speaks_its_drafts_has_the_first_sentences_audio_ready_when_the_turn_is_final() {
    let started = Instant::now();
    let (_, asked, first) = spoken(true, &["Tuesday works."], slow_verdict()).await;
    // The TTS was asked once, as soon as the draft's sentence was whole (two words, 500 ms),
    // long before the verdict; its audio came out with the verdict, not before.
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].0, "Tuesday works.");
    assert!(
        asked[0].1 - started < Duration::from_millis(600),
        "{asked:?}"
    );
    let after = first - started;
    assert!(
        (Duration::from_secs(1)..Duration::from_millis(1_050)).contains(&after),
        "{after:?}"
    );

    // Without, the TTS is asked at the verdict and its audio comes 200 ms later.
    let started = Instant::now();
    let (_, asked, first) = spoken(false, &["Tuesday works."], slow_verdict()).await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].1 - started >= Duration::from_secs(1), "{asked:?}");
    assert!(first - started >= Duration::from_millis(1_200));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_drafts_audio_is_made_but_never_played() {
    let mut inputs = said("I want to book");
    inputs.push(verdict(false));
    inputs.push(TestInput::Wait(Duration::from_millis(800)));
    inputs.push(frame(SystemFrame::Interruption));
    inputs.extend(said("for Tuesday."));
    inputs.push(verdict(true));
    inputs.push(TestInput::Wait(Duration::from_secs(2)));
    let (out, asked, _) = spoken(true, &["Which day?", "Tuesday works."], inputs).await;
    let asked: Vec<&str> = asked.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(asked, ["Which day?", "Tuesday works."]);
    // Only the final reply's sentence was spoken.
    let spoken: Vec<&str> = out
        .down
        .iter()
        .filter_map(|f| match f {
            Frame::Data(DataFrame::TtsSentence(s)) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(spoken, ["Tuesday works."]);
}
