//! Decides whether the caller's speech over the bot interrupts it.
//!
//! It stands after speech-to-text, where it sees the caller's speaking events, their transcripts
//! and (upstream, from the output) whether the bot is speaking. A caller who starts speaking while
//! the bot is silent interrupts at once, as before: whatever the bot was preparing is dropped. A
//! caller who starts over the bot *pauses* it through the [`PauseSwitch`] the output holds (the
//! caller hears silence within a frame) at the VAD's `SpeechOnset`, its first voiced frame, before
//! the VAD's start (a sound that fades first lets the bot go on). From the start their speech is
//! held back from the turn aggregator until it is judged, the way LiveKit's agents treat a
//! possible interruption:
//!
//! - **real**: at least `min_duration` of speech and `min_words` words that are not all
//!   backchannels. An `Interruption` goes down (the output drops the rest of the bot's words) and
//!   the held speech follows it, to become the caller's turn.
//! - **backchannel**: only words of the language's backchannel list ("mhm", "yeah", "okay") or the
//!   bot's own. The bot goes on where it paused; the words never reach the LLM.
//! - **false**: a sound with too few words, or too short. The bot goes on where it paused.
//!
//! A verdict is made at the first interim transcript that makes the speech a real interruption,
//! else at the final transcript after the caller stops. The output resumes on its own once the
//! caller has been quiet for `resume_after` without a verdict (a slow speech-to-text), and a late
//! real verdict still interrupts. Each verdict goes into the call's record.

use crate::frame::{
    CallEvent, Direction, Frame, InterruptionKind, InterruptionRecord, SystemFrame,
};
use crate::processor::{Outbox, Processor, ProcessorError};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Whether the bot's audio may play: shared by the barge-in stage, which pauses and resumes it,
/// and the output, which waits on it between frames.
#[derive(Debug, Clone)]
pub struct PauseSwitch {
    state: Arc<watch::Sender<Pause>>,
}

/// The switch's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pause {
    Playing,
    /// Paused; past `until` (when set) the output goes on by itself.
    Paused {
        until: Option<Instant>,
    },
}

impl Default for PauseSwitch {
    fn default() -> Self {
        Self {
            state: Arc::new(watch::channel(Pause::Playing).0),
        }
    }
}

impl PauseSwitch {
    fn set(&self, pause: Pause) {
        self.state.send_replace(pause);
    }

    /// Waits while the switch is paused and its deadline, if any, is ahead; returns how long.
    pub async fn wait(&self) -> Duration {
        // The output asks before every frame: playing is the common answer, and costs no clock.
        if *self.state.borrow() == Pause::Playing {
            return Duration::ZERO;
        }
        let mut rx = self.state.subscribe();
        let started = Instant::now();
        loop {
            let state = *rx.borrow_and_update();
            match state {
                Pause::Playing => break,
                Pause::Paused { until: None } => {
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
                Pause::Paused { until: Some(until) } => {
                    if Instant::now() >= until {
                        break;
                    }
                    tokio::select! {
                        changed = rx.changed() => if changed.is_err() { break },
                        _ = tokio::time::sleep_until(until) => break,
                    }
                }
            }
        }
        started.elapsed()
    }
}

/// What makes speech over the bot an interruption.
#[derive(Debug, Clone, PartialEq)]
pub struct BargeInPolicy {
    pub min_duration: Duration,
    pub min_words: usize,
    /// Backchannel phrases, each as its normalised words.
    pub backchannels: Vec<Vec<String>>,
    pub resume_after: Duration,
    /// The detector's start and stop delays: speech lasts from `start` before `UserStartedSpeaking`
    /// to `stop` before `UserStoppedSpeaking`.
    pub vad_start: Duration,
    pub vad_stop: Duration,
}

/// English backchannels; other languages' lists are in [`backchannels_for`].
const EN: &[&str] = &[
    "mhm",
    "mm",
    "mmhmm",
    "hmm",
    "uh huh",
    "uhhuh",
    "yeah",
    "yep",
    "yes",
    "ok",
    "okay",
    "right",
    "sure",
    "alright",
    "all right",
    "i see",
    "got it",
    "cool",
    "great",
    "oh",
    "ah",
    "aha",
    "wow",
];
const ES: &[&str] = &[
    "mhm",
    "sí",
    "si",
    "vale",
    "claro",
    "ajá",
    "aja",
    "ya",
    "bueno",
    "de acuerdo",
    "ok",
    "okay",
    "entiendo",
    "perfecto",
];
const FR: &[&str] = &[
    "mhm",
    "oui",
    "ouais",
    "d'accord",
    "ok",
    "okay",
    "ah",
    "je vois",
    "bien sûr",
    "voilà",
    "hum",
];
const DE: &[&str] = &[
    "mhm",
    "ja",
    "genau",
    "okay",
    "ok",
    "aha",
    "stimmt",
    "klar",
    "alles klar",
    "ach so",
];
const PT: &[&str] = &[
    "mhm", "sim", "tá", "ta", "certo", "ok", "okay", "ahã", "entendi", "claro", "beleza",
];
const IT: &[&str] = &[
    "mhm", "sì", "si", "certo", "ok", "okay", "va bene", "capito", "esatto",
];

/// The built-in backchannels of a language tag (`en-US` → English), English when unknown.
pub fn backchannels_for(language: &str) -> &'static [&'static str] {
    let primary = language
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_lowercase();
    match primary.as_str() {
        "es" => ES,
        "fr" => FR,
        "de" => DE,
        "pt" => PT,
        "it" => IT,
        _ => EN,
    }
}

/// `text` as lowercase words without punctuation; "mm-hmm" and "mm hmm" both become "mmhmm".
pub fn words(text: &str) -> Vec<String> {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c.to_lowercase().next().unwrap_or(c)
            } else if c == '-' {
                '\u{0}'
            } else {
                ' '
            }
        })
        .collect();
    cleaned
        .split_whitespace()
        .map(|w| w.replace('\u{0}', ""))
        .filter(|w| !w.is_empty())
        .collect()
}

impl BargeInPolicy {
    /// Normalises `phrases` for matching.
    pub fn phrases<'a>(phrases: impl IntoIterator<Item = &'a str>) -> Vec<Vec<String>> {
        phrases
            .into_iter()
            .map(words)
            .filter(|w| !w.is_empty())
            .collect()
    }

    /// Whether `text` is nothing but backchannel phrases, back to back ("yeah okay", "mm hmm").
    pub fn is_backchannel(&self, text: &str) -> bool {
        self.covers(&words(text))
    }

    /// Whether `said` (normalised words) is nothing but backchannel phrases, and not empty.
    fn covers(&self, said: &[String]) -> bool {
        // Every way to cover the first `i` words with phrases, shortest first.
        let mut covered = vec![false; said.len() + 1];
        covered[0] = true;
        for i in 0..said.len() {
            if !covered[i] {
                continue;
            }
            for phrase in &self.backchannels {
                let end = i + phrase.len();
                if end <= said.len() && said[i..end] == phrase[..] {
                    covered[end] = true;
                }
            }
        }
        !said.is_empty() && covered[said.len()]
    }

    /// The verdict on speech of `duration` heard as `text`.
    pub fn judge(&self, text: &str, duration: Duration) -> InterruptionKind {
        let said = words(text);
        if self.covers(&said) {
            InterruptionKind::Backchannel
        } else if duration >= self.min_duration && said.len() >= self.min_words {
            InterruptionKind::Real
        } else {
            InterruptionKind::False
        }
    }
}

/// Speech over the bot, not yet judged.
#[derive(Debug)]
struct Candidate {
    started: Instant,
    stopped: Option<Instant>,
    /// The caller's frames, held back from the aggregator until the verdict.
    held: Vec<Frame>,
    interim: String,
    text: String,
}

/// Pauses the bot when the caller speaks over it, then interrupts or resumes it.
#[derive(Debug)]
pub struct BargeInProcessor {
    policy: BargeInPolicy,
    switch: PauseSwitch,
    allow: bool,
    bot_speaking: bool,
    candidate: Option<Candidate>,
    /// A real interruption's speech, until the output reports what the caller heard.
    after_heard: Option<Vec<Frame>>,
    /// Paused at a `SpeechOnset`, before the VAD's start made the caller's sound a candidate.
    tentative: bool,
}

/// How long a pause at a `SpeechOnset` lasts at most without the VAD's start (it ends sooner when
/// the sound fades first).
const ONSET_PAUSE: Duration = Duration::from_millis(500);

impl BargeInProcessor {
    pub fn new(policy: BargeInPolicy, switch: PauseSwitch) -> Self {
        Self {
            policy,
            switch,
            allow: true,
            bot_speaking: false,
            candidate: None,
            after_heard: None,
            tentative: false,
        }
    }

    /// How long the candidate's speech lasted, or has lasted so far.
    fn duration(&self, candidate: &Candidate) -> Duration {
        let heard_from = candidate.started.checked_sub(self.policy.vad_start);
        let start = heard_from.unwrap_or(candidate.started);
        match candidate.stopped {
            Some(stopped) => {
                (stopped.saturating_duration_since(start)).saturating_sub(self.policy.vad_stop)
            }
            None => Instant::now().saturating_duration_since(start),
        }
    }

    /// Ends the pause with `kind`: a real interruption lets the held speech through after an
    /// `Interruption`; anything else resumes the bot and drops it.
    fn decide(&mut self, kind: InterruptionKind, out: &Outbox) {
        let Some(candidate) = self.candidate.take() else {
            return;
        };
        let text = if candidate.text.trim().is_empty() {
            candidate.interim.trim().to_owned()
        } else {
            candidate.text.trim().to_owned()
        };
        let record = InterruptionRecord {
            kind,
            text,
            paused: candidate.started.elapsed(),
        };
        self.switch.set(Pause::Playing);
        if kind == InterruptionKind::Real {
            // The held speech waits for the output's report of what was heard, so that the LLM
            // has cut its last reply back to it before the caller's turn reaches it.
            out.down(SystemFrame::Interruption);
            self.after_heard = Some(candidate.held);
        }
        out.up(SystemFrame::Call(CallEvent::Interruption(record)));
    }

    /// The bot fell silent while the caller spoke: their speech is an ordinary turn.
    fn release(&mut self, out: &Outbox) {
        if let Some(candidate) = self.candidate.take() {
            self.switch.set(Pause::Playing);
            out.down(SystemFrame::Interruption);
            for frame in candidate.held {
                out.down(frame);
            }
        }
    }
}

#[async_trait]
impl Processor for BargeInProcessor {
    fn name(&self) -> &'static str {
        "barge_in"
    }

    async fn process(
        &mut self,
        frame: Frame,
        direction: Direction,
        out: &Outbox,
    ) -> Result<(), ProcessorError> {
        let downstream = direction == Direction::Downstream;
        if let Some(held) = self.after_heard.as_mut() {
            match &frame {
                Frame::System(SystemFrame::AssistantHeard { .. }) if !downstream => {
                    out.forward(frame, direction);
                    for frame in self.after_heard.take().unwrap_or_default() {
                        out.down(frame);
                    }
                    return Ok(());
                }
                Frame::System(SystemFrame::Metric(_)) => {}
                _ if downstream => {
                    held.push(frame);
                    return Ok(());
                }
                _ => {}
            }
        }
        match &frame {
            Frame::System(SystemFrame::Start(params)) => self.allow = params.allow_interruptions,
            Frame::System(SystemFrame::BotStartedSpeaking) if !downstream => {
                self.bot_speaking = true
            }
            Frame::System(SystemFrame::BotStoppedSpeaking) if !downstream => {
                self.bot_speaking = false;
                if std::mem::take(&mut self.tentative) {
                    self.switch.set(Pause::Playing);
                }
                self.release(out);
            }
            Frame::System(SystemFrame::SpeechOnset(onset)) if downstream => {
                // The caller stops hearing the bot at their first voiced frames; the VAD's start
                // makes the sound a candidate, or its fading lets the bot go on.
                if *onset && self.allow && self.bot_speaking && self.candidate.is_none() {
                    self.tentative = true;
                    self.switch.set(Pause::Paused {
                        until: Some(Instant::now() + ONSET_PAUSE),
                    });
                } else if !*onset && std::mem::take(&mut self.tentative) {
                    // (A candidate clears `tentative`: the VAD's start made the sound one.)
                    self.switch.set(Pause::Playing);
                }
                return Ok(());
            }
            Frame::System(SystemFrame::UserStartedSpeaking) if downstream && self.allow => {
                self.tentative = false;
                if !self.bot_speaking {
                    out.down(SystemFrame::Interruption);
                } else if self.candidate.is_none() {
                    self.switch.set(Pause::Paused { until: None });
                    self.candidate = Some(Candidate {
                        started: Instant::now(),
                        stopped: None,
                        held: vec![frame],
                        interim: String::new(),
                        text: String::new(),
                    });
                    return Ok(());
                }
            }
            _ => {}
        }
        let Some(candidate) = self.candidate.as_mut().filter(|_| downstream) else {
            out.forward(frame, direction);
            return Ok(());
        };
        match &frame {
            Frame::System(SystemFrame::UserStartedSpeaking) => {
                // They go on before their words came back: the same speech, still judged.
                candidate.stopped = None;
                self.switch.set(Pause::Paused { until: None });
            }
            Frame::System(SystemFrame::UserStoppedSpeaking) => {
                let now = Instant::now();
                candidate.stopped = Some(now);
                self.switch.set(Pause::Paused {
                    until: Some(now + self.policy.resume_after),
                });
            }
            Frame::System(SystemFrame::InterimTranscription(t)) => {
                candidate.interim = t.text.clone()
            }
            Frame::System(SystemFrame::Transcription(t)) => {
                if !candidate.text.is_empty() {
                    candidate.text.push(' ');
                }
                candidate.text.push_str(t.text.trim());
            }
            Frame::System(SystemFrame::UserTurn(_) | SystemFrame::TurnDecision(_)) => {}
            _ => {
                out.forward(frame, direction);
                return Ok(());
            }
        }
        // An interim, or a final while they still speak, can only make it real; the final after
        // they stop settles it either way.
        let (heard, settles) = match &frame {
            Frame::System(SystemFrame::InterimTranscription(_)) => (Some(true), false),
            Frame::System(SystemFrame::Transcription(_)) => {
                (Some(false), candidate.stopped.is_some())
            }
            _ => (None, false),
        };
        candidate.held.push(frame);
        let (Some(interim), Some(candidate)) = (heard, self.candidate.as_ref()) else {
            return Ok(());
        };
        let text = if interim {
            &candidate.interim
        } else {
            &candidate.text
        };
        let kind = self.policy.judge(text, self.duration(candidate));
        if settles || kind == InterruptionKind::Real {
            self.decide(kind, out);
        }
        Ok(())
    }
}
