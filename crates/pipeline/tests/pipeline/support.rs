//! Shared helpers: a bot spec, real speech audio, assembled pipelines and frame queries.

use audio::SampleRate;
use contracts::runtime_config::{BotSpec, ProviderSettings};
use pipeline::assemble::{self, Assembly, ProviderChains};
use pipeline::testing::TestInput;
use pipeline::{
    AudioChunk, CallEvent, Frame, LanguageModel, Processor, SpeechToText, SystemFrame, TextToSpeech,
};
use std::sync::Arc;
use std::time::Duration;

pub fn spec() -> BotSpec {
    BotSpec::new(
        "en-US",
        "You book appointments.",
        ProviderSettings::named("deepgram"),
        ProviderSettings::named("openai"),
        ProviderSettings::named("cartesia"),
    )
}

/// Real speech (espeak-ng, 16 kHz): "Hello, I would like to book an appointment for Tuesday morning please."
pub fn speech_16k() -> Vec<i16> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../audio/tests/data/speech_16k.wav"
    );
    audio::wav::decode(&std::fs::read(path).unwrap())
        .unwrap()
        .samples
}

/// Audio as the transport delivers it: one 20 ms frame every 20 ms.
pub fn paced(samples: &[i16], rate: SampleRate) -> Vec<TestInput> {
    let mut inputs = Vec::new();
    for frame in samples.chunks(rate.frame_samples()) {
        inputs.push(TestInput::Frame(
            SystemFrame::InputAudio(AudioChunk::new(frame.to_vec(), rate)).into(),
        ));
        inputs.push(TestInput::Wait(Duration::from_millis(20)));
    }
    inputs
}

/// `ms` of caller audio at `rate` (every sample `level`) in 20 ms frames, sent at once: for
/// processors that count the audio rather than the clock.
pub fn unpaced(ms: usize, rate: SampleRate, level: i16) -> Vec<TestInput> {
    (0..ms / 20)
        .map(|_| {
            let frame = vec![level; rate.frame_samples()];
            TestInput::Frame(SystemFrame::InputAudio(AudioChunk::new(frame, rate)).into())
        })
        .collect()
}

/// Silence as the transport delivers it.
pub fn silence(ms: u64, rate: SampleRate) -> Vec<TestInput> {
    paced(&vec![0; rate.samples_in_ms(ms) as usize], rate)
}

/// An utterance: real speech followed by enough silence for the VAD to stop.
pub fn utterance() -> Vec<TestInput> {
    let mut inputs = paced(&speech_16k(), SampleRate::Hz16000);
    inputs.extend(silence(1_000, SampleRate::Hz16000));
    inputs
}

pub fn chains(
    stt: Vec<Arc<dyn SpeechToText>>,
    llm: Vec<Arc<dyn LanguageModel>>,
    tts: Vec<Arc<dyn TextToSpeech>>,
) -> Assembly {
    Assembly {
        providers: ProviderChains { stt, llm, tts },
        ..Assembly::default()
    }
}

pub fn build(spec: &BotSpec, assembly: Assembly) -> Vec<Box<dyn Processor>> {
    assemble::pipeline(spec, assembly).unwrap()
}

pub fn system_frames(frames: &[Frame]) -> Vec<&SystemFrame> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::System(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// What the caller heard, turn by turn, with whether each was interrupted (turns in which
/// nothing was heard left out).
pub fn heard(up: &[Frame]) -> Vec<(String, bool)> {
    system_frames(up)
        .into_iter()
        .filter_map(|f| match f {
            SystemFrame::AssistantHeard { text, interrupted } if !text.is_empty() => {
                Some((text.clone(), *interrupted))
            }
            _ => None,
        })
        .collect()
}

pub fn call_events(up: &[Frame]) -> Vec<CallEvent> {
    system_frames(up)
        .into_iter()
        .filter_map(|f| match f {
            SystemFrame::Call(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}

pub fn errors(up: &[Frame]) -> Vec<pipeline::PipelineError> {
    system_frames(up)
        .into_iter()
        .filter_map(|f| match f {
            SystemFrame::Error(error) => Some(error.clone()),
            _ => None,
        })
        .collect()
}

/// Total duration of the bot audio that left the pipeline.
pub fn audio_out(down: &[Frame]) -> Duration {
    down.iter()
        .filter_map(|f| match f {
            Frame::Data(pipeline::DataFrame::OutputAudio(chunk)) => Some(chunk.duration()),
            _ => None,
        })
        .sum()
}

/// The keypad keys a DTMF detector hears in the bot audio that left the pipeline at `rate`.
pub fn keys_heard(down: &[Frame], rate: SampleRate) -> String {
    let samples: Vec<i16> = down
        .iter()
        .filter_map(|f| match f {
            Frame::Data(pipeline::DataFrame::OutputAudio(chunk)) => Some(chunk.samples.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    audio::dtmf::Detector::new(rate).keys(&samples)
}
