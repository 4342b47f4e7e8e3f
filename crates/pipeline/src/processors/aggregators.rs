//! The user-turn aggregator.
//!
//! Transcripts between speech start and stop become one `UserTurn`. Whether a pause ends the turn
//! is the [`TurnPolicy`]'s call: a text hook (the default), or the turn model's `TurnDecision`
//! and a check of the words.
//!
//! The assistant side of the context is kept where the audio is played ([`AudioOutput`](super::AudioOutput)
//! reports what was heard) and applied by the LLM processor, which owns the context.

use crate::frame::{CallEvent, Direction, Frame, SystemFrame};
use crate::processor::{Outbox, Processor, ProcessorError};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Decides whether what the user said so far is a finished turn. A smarter model (a turn
/// classifier, an LLM) can stand in here; the pipeline only asks the question.
#[async_trait]
pub trait EndOfTurn: Send + Sync + std::fmt::Debug {
    /// `true` when the text reads as complete; `false` makes the aggregator wait a little longer.
    async fn is_complete(&self, text: &str) -> bool;
}

/// The default hook: a turn that trails off ("and", "so", "um", a comma) is not finished.
#[derive(Debug, Clone, Default)]
pub struct PunctuationEndOfTurn;

/// Words an English sentence does not end on: a caller who stops after one is going on.
const TRAILING_WORDS: &[&str] = &[
    "and", "or", "but", "so", "because", "um", "uh", "the", "a", "an", "to", "with", "my", "is",
    "for", "of", "from", "about", "your", "our", "their", "into", "than", "if", "whether", "like",
    "would", "should",
];

impl PunctuationEndOfTurn {
    /// Whether `text` ends on neither a comma, an ellipsis nor a word no sentence ends on.
    pub fn reads_complete(text: &str) -> bool {
        let text = text.trim();
        if text.ends_with(',') || text.ends_with("...") {
            return false;
        }
        let last = text
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("")
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        !TRAILING_WORDS.contains(&last.as_str())
    }
}

#[async_trait]
impl EndOfTurn for PunctuationEndOfTurn {
    async fn is_complete(&self, text: &str) -> bool {
        Self::reads_complete(text)
    }
}

/// A words check started when the words came, ahead of the verdict it joins; aborted if dropped.
#[derive(Debug)]
struct Check {
    text: String,
    task: JoinHandle<bool>,
}

impl Drop for Check {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What decides that a pause ends the caller's turn.
#[derive(Debug)]
pub enum TurnPolicy {
    /// The transcript so far, read by a hook.
    Text(Box<dyn EndOfTurn>),
    /// The turn model's `TurnDecision`, which follows each `UserStoppedSpeaking`, and a check of
    /// the words: both must say done. A turn model hears a pause after "an appointment for" as
    /// an ending as often as not (docs/benchmarks.md, turn accuracy).
    Model(Arc<dyn EndOfTurn>),
}

impl TurnPolicy {
    /// The turn model's verdicts, the words checked by [`PunctuationEndOfTurn`].
    pub fn model() -> Self {
        Self::Model(Arc::new(PunctuationEndOfTurn))
    }
}

/// Collects final transcripts into user turns.
#[derive(Debug)]
pub struct UserAggregator {
    policy: TurnPolicy,
    /// How long to wait for more speech after an incomplete-sounding turn.
    incomplete_wait: Duration,
    speaking: bool,
    /// The caller stopped speaking and STT's final answer for it has not come yet.
    awaiting_transcript: bool,
    /// `Model`: the verdict on the last stop, once it came.
    verdict: Option<bool>,
    text: String,
    /// Whether to send `DraftTurn`s, and the text of the last one sent.
    drafts: bool,
    drafted: Option<String>,
    /// `Model`: the words check of the text so far, started when the words came.
    check: Option<Check>,
}

impl UserAggregator {
    /// The text hook's wait after an incomplete-sounding turn.
    pub const TEXT_WAIT: Duration = Duration::from_millis(1_200);

    pub fn new(policy: TurnPolicy, incomplete_wait: Duration) -> Self {
        Self {
            policy,
            incomplete_wait,
            speaking: false,
            awaiting_transcript: false,
            verdict: None,
            text: String::new(),
            drafts: false,
            drafted: None,
            check: None,
        }
    }

    /// Sends the turn so far as a `DraftTurn` once the STT gave final words for it (even before
    /// the VAD's stop), while the verdict on it is awaited or is "unfinished", so the LLM can start
    /// on it (the bot's `turn.preemptive`).
    pub fn with_drafts(mut self, drafts: bool) -> Self {
        self.drafts = drafts;
        self
    }

    fn draft(&mut self, out: &Outbox) {
        let text = self.text.trim();
        if !self.drafts || self.drafted.as_deref() == Some(text) {
            return;
        }
        self.drafted = Some(text.to_owned());
        out.down(SystemFrame::DraftTurn(text.to_owned()));
    }

    /// `Model`: starts checking the words so far, so the check runs beside the turn model's.
    fn check_ahead(&mut self) {
        let TurnPolicy::Model(words) = &self.policy else {
            return;
        };
        let text = self.text.trim();
        if text.is_empty() || self.check.as_ref().is_some_and(|c| c.text == text) {
            return;
        }
        let (words, owned) = (words.clone(), text.to_owned());
        self.check = Some(Check {
            text: text.to_owned(),
            task: tokio::spawn(async move { words.is_complete(&owned).await }),
        });
    }

    /// `Model`: the words check's answer on the text so far (the one started ahead if it is for
    /// this text).
    async fn words_complete(&mut self, words: Arc<dyn EndOfTurn>) -> bool {
        let text = self.text.trim().to_owned();
        match self.check.take() {
            Some(mut check) if check.text == text => match (&mut check.task).await {
                Ok(complete) => complete,
                Err(_) => words.is_complete(&text).await,
            },
            _ => words.is_complete(&text).await,
        }
    }

    async fn maybe_finish(&mut self, out: &Outbox) {
        if self.text.trim().is_empty() {
            return;
        }
        if self.speaking {
            // The STT heard a pause and gave its final words before the VAD's stop: the reply
            // can start on them now (the caller going on replaces or drops it).
            self.draft(out);
            return;
        }
        if self.awaiting_transcript {
            return;
        }
        let complete = match &self.policy {
            TurnPolicy::Text(hook) => hook.is_complete(&self.text).await,
            // The sound and the words must both say done.
            TurnPolicy::Model(words) => match self.verdict {
                Some(true) => {
                    let words = words.clone();
                    self.words_complete(words).await
                }
                Some(false) => false,
                None => {
                    self.draft(out);
                    return;
                }
            },
        };
        if !complete {
            self.draft(out);
            // Cancelled by the interruption that more speech brings; the text is kept.
            tokio::time::sleep(self.incomplete_wait).await;
        }
        self.verdict = None;
        self.drafted = None;
        self.check = None;
        let text = std::mem::take(&mut self.text).trim().to_owned();
        out.up(SystemFrame::Call(CallEvent::UserSaid(text.clone())));
        out.down(SystemFrame::UserTurn(text));
    }
}

impl Default for UserAggregator {
    fn default() -> Self {
        Self::new(
            TurnPolicy::Text(Box::new(PunctuationEndOfTurn)),
            Self::TEXT_WAIT,
        )
    }
}

#[async_trait]
impl Processor for UserAggregator {
    fn name(&self) -> &'static str {
        "user_aggregator"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        match frame {
            Frame::System(SystemFrame::UserStartedSpeaking)
                if direction == Direction::Downstream =>
            {
                self.speaking = true;
                self.verdict = None;
                // The LLM drops its draft at the interruption that comes with more speech.
                self.drafted = None;
                out.forward(frame, direction);
            }
            Frame::System(SystemFrame::UserStoppedSpeaking)
                if direction == Direction::Downstream =>
            {
                self.speaking = false;
                self.awaiting_transcript = true;
                out.forward(frame, direction);
            }
            Frame::System(SystemFrame::Transcription(transcript)) => {
                let words = transcript.text.trim();
                if !words.is_empty() {
                    if !self.text.is_empty() {
                        self.text.push(' ');
                    }
                    self.text.push_str(words);
                }
                self.check_ahead();
                if !self.speaking {
                    self.awaiting_transcript = false;
                }
                self.maybe_finish(out).await;
            }
            Frame::System(SystemFrame::TurnDecision(decision)) => {
                self.verdict = Some(decision.complete);
                self.maybe_finish(out).await;
            }
            Frame::System(SystemFrame::InterimTranscription(_)) => {}
            other => out.forward(other, direction),
        }
        Ok(())
    }
}
