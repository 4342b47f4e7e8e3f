//! A whole turn over real protocols.
//!
//! Espeak-ng speech → VAD → Deepgram (test server) → OpenAI chat (test server) → espeak-ng → paced
//! audio out.

use audio::{SampleRate, VadEvent, VadParams, VoiceDetector};
use contracts::runtime_config::{BotSpec, ProviderSettings};
use pipeline::assemble::{self, Assembly};
use pipeline::testing::{TestInput, run_test};
use pipeline::{AudioChunk, CallEvent, DataFrame, Frame, SystemFrame};
use providers::tts::EspeakTts;
use providers::{ProviderEnv, build_chains};
use std::time::Duration;

#[tokio::test]
async fn a_spoken_question_gets_a_spoken_answer_through_real_wire_protocols() {
    let deepgram =
        crate::stt_deepgram::deepgram_server("Do you have a table for two tonight?").await;
    let (openai, mut requests) = crate::llm_openai::server().await;
    let mut env = ProviderEnv::default();
    env.keys
        .insert("deepgram".to_owned(), "test-key".to_owned());
    env.keys.insert("openai".to_owned(), "test-key".to_owned());
    env.base_urls
        .insert("deepgram".to_owned(), format!("ws://{deepgram}"));
    env.base_urls
        .insert("openai".to_owned(), format!("http://{openai}/v1"));
    let bot = BotSpec::new(
        "en-US",
        "You take restaurant bookings.",
        ProviderSettings::named("deepgram"),
        ProviderSettings::named("openai"),
        ProviderSettings::named("espeak"),
    );
    let assembly = Assembly {
        providers: build_chains(&bot, &env).unwrap(),
        ..Assembly::default()
    };
    let processors = assemble::pipeline(&bot, assembly).unwrap();

    // The caller's question, spoken by espeak-ng, arrives as 20 ms frames, then silence.
    let rate = SampleRate::Hz16000;
    let mut caller = EspeakTts::default()
        .speak("Do you have a table for two tonight?", rate)
        .await
        .unwrap();
    caller.extend(vec![0; rate.samples_in_ms(1_200) as usize]);
    let mut inputs: Vec<TestInput> = caller
        .chunks(rate.frame_samples())
        .map(|frame| {
            TestInput::Frame(SystemFrame::InputAudio(AudioChunk::new(frame.to_vec(), rate)).into())
        })
        .collect();
    inputs.push(TestInput::Wait(Duration::from_secs(3)));
    let out = run_test(processors, inputs).await;

    let request = tokio::time::timeout(Duration::from_secs(1), requests.recv())
        .await
        .unwrap_or_else(|_| panic!("the LLM was never asked: {:#?}", out.report))
        .unwrap();
    assert_eq!(
        request["messages"][1]["content"],
        "Do you have a table for two tonight?"
    );
    assert!(out.report.events.iter().any(|e| e.event
        == SystemFrame::Call(CallEvent::UserSaid(
            "Do you have a table for two tonight?".to_owned()
        ))));
    // The test server answers "Hello there!", which espeak-ng speaks: real speech comes out.
    let bot_audio: Vec<i16> = out
        .down
        .iter()
        .filter_map(|f| match f {
            Frame::Data(DataFrame::OutputAudio(chunk)) => Some(chunk.samples.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut detector = VoiceDetector::new(rate, VadParams::default()).unwrap();
    let mut padded = bot_audio.clone();
    padded.extend(vec![0; 24_000]);
    let heard: Vec<VadEvent> = padded
        .chunks(320)
        .filter_map(|f| detector.push(f))
        .collect();
    assert_eq!(heard, vec![VadEvent::Started, VadEvent::Stopped]);
    assert!(out.up.iter().any(|f| matches!(f, Frame::System(SystemFrame::AssistantHeard { text, interrupted: false }) if text == "Hello there!")));
    let turn = out.report.turns[0];
    assert!(
        turn.first_audio_sent.is_some()
            && turn.stt_final.is_some()
            && turn.llm_first_token.is_some()
    );
}
