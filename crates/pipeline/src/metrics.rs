//! Per-turn timings, from the end of user speech to the first audio sent.
//!
//! End of user speech → STT final → LLM first token → TTS first audio → first audio sent.

use std::time::Duration;
use tokio::time::Instant;

/// A point in a turn, stamped by the processor that saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnMark {
    pub kind: MarkKind,
    pub at: Instant,
}

impl TurnMark {
    pub fn now(kind: MarkKind) -> Self {
        Self {
            kind,
            at: Instant::now(),
        }
    }
}

/// Which point of the turn a mark is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    UserStoppedSpeaking,
    SttFinal,
    LlmFirstToken,
    TtsFirstAudio,
    FirstAudioSent,
}

/// The timings of one turn, each measured from the end of the user's speech.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TurnTimings {
    pub stt_final: Option<Duration>,
    pub llm_first_token: Option<Duration>,
    pub tts_first_audio: Option<Duration>,
    /// Voice-to-voice latency: end of the user's speech to the bot's first audio on the wire.
    pub first_audio_sent: Option<Duration>,
}

/// Assembles marks into turns: a turn starts when the user stops speaking, and each later
/// mark kind is taken the first time it appears in that turn.
#[derive(Debug, Default)]
pub struct TurnCollector {
    current: Option<(Instant, TurnTimings)>,
    done: Vec<TurnTimings>,
}

impl TurnCollector {
    pub fn record(&mut self, mark: TurnMark) {
        if mark.kind == MarkKind::UserStoppedSpeaking {
            self.close();
            self.current = Some((mark.at, TurnTimings::default()));
            return;
        }
        let Some((start, timings)) = self.current.as_mut() else {
            return;
        };
        let since = mark.at.saturating_duration_since(*start);
        let slot = match mark.kind {
            MarkKind::SttFinal => &mut timings.stt_final,
            MarkKind::LlmFirstToken => &mut timings.llm_first_token,
            MarkKind::TtsFirstAudio => &mut timings.tts_first_audio,
            MarkKind::FirstAudioSent => &mut timings.first_audio_sent,
            MarkKind::UserStoppedSpeaking => return,
        };
        slot.get_or_insert(since);
        if mark.kind == MarkKind::FirstAudioSent {
            self.close();
        }
    }

    fn close(&mut self) {
        if let Some((_, timings)) = self.current.take() {
            self.done.push(timings);
        }
    }

    /// Every turn so far, the open one included.
    pub fn finish(mut self) -> Vec<TurnTimings> {
        self.close();
        self.done
    }
}
