//! Barge-in: the caller's speech over the bot pauses it, then interrupts it or lets it go on.

use crate::support::*;
use audio::SampleRate;
use pipeline::processors::{BargeInPolicy, backchannels_for};
use pipeline::testing::{ScriptedLlm, ScriptedStt, TestInput, ToneTts, run_test};
use pipeline::{CallEvent, Frame, InterruptionKind, SystemFrame, TransportMessage};
use std::sync::Arc;
use std::time::Duration;

const LONG_REPLY: &str = "We have openings on Tuesday at nine, at eleven, and at two in the \
                          afternoon. Which one would you like?";

fn policy(language: &str, own: &[&str]) -> BargeInPolicy {
    BargeInPolicy {
        min_duration: Duration::from_millis(500),
        min_words: 1,
        backchannels: BargeInPolicy::phrases(backchannels_for(language).iter().chain(own).copied()),
        resume_after: Duration::from_millis(1_500),
        vad_start: Duration::from_millis(200),
        vad_stop: Duration::from_millis(800),
    }
}

#[test]
fn backchannels_are_matched_as_whole_phrases_whatever_their_spelling() {
    let en = policy("en-US", &["no worries"]);
    for said in [
        "Mhm.",
        "Mm-hmm, yeah.",
        "uh huh okay",
        "Yeah, yeah. Right.",
        "No worries!",
    ] {
        assert!(en.is_backchannel(said), "{said}");
    }
    for said in ["Yeah but I want Wednesday", "No.", "Wait", "", "  "] {
        assert!(!en.is_backchannel(said), "{said}");
    }
    let es = policy("es-MX", &[]);
    assert!(es.is_backchannel("Vale, sí."));
    assert!(!es.is_backchannel("Mm-hmm, yeah."));
}

#[test]
fn a_verdict_needs_the_duration_and_the_words_and_backchannels_never_count() {
    let en = policy("en", &[]);
    let long = Duration::from_millis(900);
    let short = Duration::from_millis(300);
    assert_eq!(en.judge("Stop, please.", long), InterruptionKind::Real);
    assert_eq!(en.judge("Stop, please.", short), InterruptionKind::False);
    assert_eq!(en.judge("", long), InterruptionKind::False);
    assert_eq!(en.judge("Okay.", long), InterruptionKind::Backchannel);
    let mut wordy = en.clone();
    wordy.min_words = 3;
    assert_eq!(wordy.judge("Stop, please.", long), InterruptionKind::False);
    assert_eq!(
        wordy.judge("Stop, please, wait.", long),
        InterruptionKind::Real
    );
}

/// A caller who asks, then makes a sound over the reply that speech-to-text hears as `heard`.
async fn sound_over_the_reply(heard: &str, sound: &[i16]) -> pipeline::testing::TestOutput {
    let stt = ScriptedStt::new("stt", &["Any openings on Tuesday?", heard]);
    let processors = long_reply_bot(stt, "Unexpected second reply.");
    let mut inputs = utterance();
    inputs.extend(silence(1_500, SampleRate::Hz16000));
    inputs.extend(paced(sound, SampleRate::Hz16000));
    inputs.extend(silence(1_000, SampleRate::Hz16000));
    inputs.push(TestInput::Wait(Duration::from_secs(20)));
    run_test(processors, inputs).await
}

/// A bot that answers its caller's first turn with [`LONG_REPLY`] and the next with `then`.
fn long_reply_bot(stt: ScriptedStt, then: &str) -> Vec<Box<dyn pipeline::Processor>> {
    let llm = ScriptedLlm::texts("llm", &[LONG_REPLY, then]);
    build(
        &spec(),
        chains(
            vec![Arc::new(stt)],
            vec![Arc::new(llm)],
            vec![Arc::new(ToneTts::new("tts"))],
        ),
    )
}

fn interruptions(up: &[Frame]) -> Vec<(InterruptionKind, String)> {
    call_events(up)
        .into_iter()
        .filter_map(|event| match event {
            CallEvent::Interruption(record) => Some((record.kind, record.text)),
            _ => None,
        })
        .collect()
}

fn user_turns(up: &[Frame]) -> usize {
    call_events(up)
        .iter()
        .filter(|event| matches!(event, CallEvent::UserSaid(_)))
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_backchannel_over_the_bot_lets_it_finish_and_never_reaches_the_llm() {
    let out = sound_over_the_reply("Mm-hmm.", &speech_16k()[..16_000]).await;
    assert_eq!(
        interruptions(&out.up),
        vec![(InterruptionKind::Backchannel, "Mm-hmm.".to_owned())]
    );
    // The whole reply was heard, and the caller's one turn is the question.
    assert_eq!(heard(&out.up), vec![(LONG_REPLY.to_owned(), false)]);
    assert_eq!(user_turns(&out.up), 1);
    assert!(
        !out.down.contains(&Frame::System(SystemFrame::Transport(
            TransportMessage::Clear
        ))),
        "the carrier's buffer was cleared"
    );
}

#[tokio::test(start_paused = true)]
async fn a_sound_without_words_is_a_false_interruption_and_the_bot_resumes_where_it_paused() {
    let out = sound_over_the_reply("", &speech_16k()[..12_000]).await;
    assert_eq!(
        interruptions(&out.up),
        vec![(InterruptionKind::False, String::new())]
    );
    assert_eq!(heard(&out.up), vec![(LONG_REPLY.to_owned(), false)]);
    assert_eq!(user_turns(&out.up), 1);
    // Nothing of the reply was lost to the pause: all of its audio went out.
    let reply_audio = Duration::from_secs_f64(
        LONG_REPLY.chars().count() as f64 * ToneTts::new("tts").per_char.as_secs_f64(),
    );
    let sent = audio_out(&out.down);
    assert!(
        sent + Duration::from_millis(100) >= reply_audio,
        "{sent:?} of {reply_audio:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn words_over_the_bot_interrupt_it_and_become_the_callers_turn() {
    let out = sound_over_the_reply("Wait, Wednesday please.", &speech_16k()).await;
    assert_eq!(
        interruptions(&out.up),
        vec![(InterruptionKind::Real, "Wait, Wednesday please.".to_owned())]
    );
    let heard = heard(&out.up);
    assert!(heard[0].1, "{heard:?}");
    assert_eq!(user_turns(&out.up), 2);
}

#[tokio::test(start_paused = true)]
async fn a_caller_who_goes_on_before_their_words_come_back_is_judged_on_all_they_said() {
    // "Mhm", a pause long enough for the detector to stop, then words, all over the reply; the
    // speech-to-text answers each stop 1.2 s later, after the caller has gone on.
    let mut stt = ScriptedStt::new(
        "stt",
        &[
            "Any openings on Tuesday?",
            "Mhm.",
            "Wait, Wednesday please.",
        ],
    );
    stt.final_delay = Duration::from_millis(1_200);
    let processors = long_reply_bot(stt, "Wednesday then.");
    let mut inputs = utterance();
    inputs.extend(silence(2_500, SampleRate::Hz16000));
    inputs.extend(paced(&speech_16k()[..12_000], SampleRate::Hz16000));
    inputs.extend(silence(900, SampleRate::Hz16000));
    inputs.extend(paced(&speech_16k(), SampleRate::Hz16000));
    inputs.extend(silence(1_000, SampleRate::Hz16000));
    inputs.push(TestInput::Wait(Duration::from_secs(20)));
    let out = run_test(processors, inputs).await;
    assert_eq!(
        interruptions(&out.up),
        vec![(
            InterruptionKind::Real,
            "Mhm. Wait, Wednesday please.".to_owned()
        )]
    );
    assert!(heard(&out.up)[0].1, "the reply was interrupted");
    assert_eq!(user_turns(&out.up), 2);
}

/// Says the bot is speaking as the call starts, and notes for each caller frame after it whether
/// the bot's audio is paused.
#[derive(Debug)]
struct PausedProbe {
    switch: pipeline::processors::PauseSwitch,
    seen: tokio::sync::mpsc::UnboundedSender<bool>,
}

#[async_trait::async_trait]
impl pipeline::Processor for PausedProbe {
    fn name(&self) -> &'static str {
        "paused_probe"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: pipeline::Direction,
        out: &pipeline::Outbox,
    ) -> Result<(), pipeline::ProcessorError> {
        match &frame {
            Frame::System(SystemFrame::Start(_)) => out.up(SystemFrame::BotStartedSpeaking),
            Frame::System(SystemFrame::InputAudio(_)) => {
                let waiting = tokio::time::timeout(Duration::from_millis(1), self.switch.wait());
                let _ = self.seen.send(waiting.await.is_err());
            }
            _ => {}
        }
        out.forward(frame, direction);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn the_bot_falls_silent_at_the_callers_first_voiced_frames_and_goes_on_when_a_short_sound_fades()
 {
    let switch = pipeline::processors::PauseSwitch::default();
    let (seen, mut paused) = tokio::sync::mpsc::unbounded_channel();
    let processors: Vec<Box<dyn pipeline::Processor>> = vec![
        Box::new(pipeline::processors::VadProcessor::new(
            audio::VadParams::default(),
        )),
        Box::new(pipeline::processors::BargeInProcessor::new(
            policy("en", &[]),
            switch.clone(),
        )),
        Box::new(PausedProbe { switch, seen }),
    ];
    // 120 ms of loud speech: past the onset, short of the VAD's 200 ms start.
    let speech = speech_16k();
    let loud = speech
        .chunks(320)
        .position(|f| f.iter().any(|s| s.unsigned_abs() > 4_000))
        .unwrap()
        * 320;
    let mut inputs = silence(200, SampleRate::Hz16000);
    inputs.extend(paced(&speech[loud..loud + 1_920], SampleRate::Hz16000));
    inputs.extend(silence(400, SampleRate::Hz16000));
    let out = run_test(processors, inputs).await;
    let mut seen = Vec::new();
    while let Ok(p) = paused.try_recv() {
        seen.push(p);
    }
    let first = seen.iter().position(|&p| p).expect("the bot never paused");
    // Paused within the sound's first 100 ms (the frame at 200 ms is the sound's first).
    assert!(first <= 10 + 5, "paused at frame {first}: {seen:?}");
    // It went on once the sound faded, and nothing was judged: the VAD never started.
    assert!(!seen.last().unwrap(), "{seen:?}");
    assert!(interruptions(&out.up).is_empty());
    assert!(
        !out.down
            .contains(&Frame::System(SystemFrame::UserStartedSpeaking))
    );
}
