//! The output side of the transport.
//!
//! Plays the bot's audio in real time, and on barge-in clears it and reports what was heard.
//!
//! Audio is sent in 20 ms frames at the pace it plays, a little ahead (`lead`) so the carrier never
//! runs dry; so the output knows how much of each sentence the caller has heard. Without word
//! timestamps from the TTS vendor, the heard part of an interrupted sentence is estimated from the
//! audio played at an average speaking rate, cut back to a whole word. This is the assistant side
//! of the context aggregation: `AssistantHeard` goes upstream to the LLM, which owns the context.

use crate::frame::{
    AudioChunk, ControlFrame, DataFrame, Direction, Frame, SystemFrame, TransportMessage,
};
use crate::metrics::{MarkKind, TurnMark};
use crate::processor::{Outbox, Processor, ProcessorError};
use crate::processors::PauseSwitch;
use async_trait::async_trait;
use std::time::Duration;
use tokio::time::Instant;

/// Average characters spoken per second, used to estimate what of a sentence was heard.
const CHARS_PER_SECOND: f64 = 14.0;

/// The last processor of a pipeline: paced bot audio out, barge-in handling.
#[derive(Debug)]
pub struct AudioOutput {
    lead: Duration,
    speaking: bool,
    /// When the current stretch of speech started playing, and how much of it was sent.
    play_start: Instant,
    sent: Duration,
    heard: String,
    sentence: Option<(String, Duration)>,
    first_audio_pending: bool,
    pause: PauseSwitch,
}

impl Default for AudioOutput {
    fn default() -> Self {
        Self::new(Duration::from_millis(60))
    }
}

/// The words of `sentence` spoken in `played`, estimated at [`CHARS_PER_SECOND`].
pub fn heard_part(sentence: &str, played: Duration) -> &str {
    let chars = (played.as_secs_f64() * CHARS_PER_SECOND) as usize;
    if chars >= sentence.chars().count() {
        return sentence;
    }
    let cut = sentence
        .char_indices()
        .nth(chars)
        .map_or(sentence.len(), |(i, _)| i);
    match sentence[..cut].rfind(char::is_whitespace) {
        Some(space) => sentence[..space].trim_end(),
        None => "",
    }
}

impl AudioOutput {
    pub fn new(lead: Duration) -> Self {
        Self {
            lead,
            speaking: false,
            play_start: Instant::now(),
            sent: Duration::ZERO,
            heard: String::new(),
            sentence: None,
            first_audio_pending: false,
            pause: PauseSwitch::default(),
        }
    }

    /// Plays only while `switch` is not paused (the barge-in stage holds its other end).
    pub fn with_pause(mut self, switch: PauseSwitch) -> Self {
        self.pause = switch;
        self
    }

    fn finish_sentence(&mut self) {
        if let Some((sentence, _)) = self.sentence.take() {
            append_words(&mut self.heard, &sentence);
        }
    }

    fn start_speaking(&mut self, out: &Outbox) {
        if !self.speaking {
            self.speaking = true;
            self.play_start = Instant::now();
            self.sent = Duration::ZERO;
            out.down(SystemFrame::BotStartedSpeaking);
            out.up(SystemFrame::BotStartedSpeaking);
        }
    }

    fn stop_speaking(&mut self, interrupted: bool, out: &Outbox) {
        let heard = std::mem::take(&mut self.heard);
        self.sentence = None;
        out.up(SystemFrame::AssistantHeard {
            text: heard,
            interrupted,
        });
        if self.speaking {
            self.speaking = false;
            out.down(SystemFrame::BotStoppedSpeaking);
            out.up(SystemFrame::BotStoppedSpeaking);
        }
    }

    async fn play(&mut self, chunk: AudioChunk, out: &Outbox) {
        self.start_speaking(out);
        let frame = chunk.rate.frame_samples();
        for piece in chunk.samples.chunks(frame) {
            // A pause shifts the rest of the schedule by its length.
            let paused = self.pause.wait().await;
            self.play_start += paused;
            let due = self.play_start + self.sent;
            let send_at = due.checked_sub(self.lead).unwrap_or(due);
            // Only wait when ahead of the lead: a timer costs a wake-up even when already due.
            if send_at > Instant::now() {
                tokio::time::sleep_until(send_at).await;
            }
            if self.first_audio_pending {
                self.first_audio_pending = false;
                out.down(SystemFrame::Metric(TurnMark::now(MarkKind::FirstAudioSent)));
            }
            let piece = AudioChunk::new(piece.to_vec(), chunk.rate);
            let length = piece.duration();
            out.down(DataFrame::OutputAudio(piece));
            self.sent += length;
            if let Some((_, played)) = self.sentence.as_mut() {
                *played += length;
            }
        }
    }

    /// Waits until the audio sent so far has played.
    async fn drain(&self) {
        if self.speaking {
            tokio::time::sleep_until(self.play_start + self.sent).await;
        }
    }
}

fn append_words(heard: &mut String, words: &str) {
    if words.is_empty() {
        return;
    }
    if !heard.is_empty() {
        heard.push(' ');
    }
    heard.push_str(words);
}

#[async_trait]
impl Processor for AudioOutput {
    fn name(&self) -> &'static str {
        "output"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        match frame {
            Frame::System(SystemFrame::Interruption) => {
                if self.speaking {
                    out.down(SystemFrame::Transport(TransportMessage::Clear));
                }
                if let Some((sentence, played)) = self.sentence.take() {
                    // What was sent but still in the carrier's buffer is cleared, not heard.
                    let elapsed = Instant::now().saturating_duration_since(self.play_start);
                    let unplayed = self.sent.saturating_sub(elapsed);
                    let part = heard_part(&sentence, played.saturating_sub(unplayed)).to_owned();
                    append_words(&mut self.heard, &part);
                }
                self.stop_speaking(true, out);
                out.forward(frame, direction);
            }
            Frame::Control(ControlFrame::LlmResponseStart) => self.first_audio_pending = true,
            Frame::Data(DataFrame::TtsSentence(sentence)) => {
                self.finish_sentence();
                self.sentence = Some((sentence, Duration::ZERO));
            }
            Frame::Data(DataFrame::OutputAudio(chunk)) => self.play(chunk, out).await,
            Frame::Control(ControlFrame::TtsStopped) => {
                self.drain().await;
                self.finish_sentence();
                self.stop_speaking(false, out);
            }
            Frame::Control(ControlFrame::End(_)) => {
                self.drain().await;
                self.finish_sentence();
                if self.speaking || !self.heard.is_empty() {
                    self.stop_speaking(false, out);
                }
                out.forward(frame, direction);
            }
            other => out.forward(other, direction),
        }
        Ok(())
    }
}
