//! Local text-to-speech with a Piper voice, phonemised by espeak-ng, one sentence at a time.
//!
//! The worker loads the voice ([`PiperVoice`], the `neural` crate's model behind it); this side
//! turns text into what Piper reads, the way piper-phonemize does for Piper's reference
//! (github.com/rhasspy/piper, `src/python_run/piper/voice.py`): the text is split into sentences,
//! each sentence is phonemised by espeak-ng into IPA with its clause punctuation kept (`,` `;` `:`
//! after a clause, `.` `?` `!` at the end, which Piper reads as prosody), and each sentence is
//! synthesised on its own, so the first sentence plays while the next is made. espeak-ng's
//! command line drops punctuation, so each clause is phonemised by its own run (about 10 ms) and
//! its punctuation put back.

use async_trait::async_trait;
use audio::{Resampler, SampleRate};
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use pipeline::{ProviderError, TextToSpeech};
use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A loaded Piper voice, as the worker provides it.
pub trait PiperVoice: Send + Sync + std::fmt::Debug {
    /// The espeak-ng voice that phonemises for it (`en-us`).
    fn espeak_voice(&self) -> &str;
    /// The rate it speaks at (22 050 Hz for a medium voice).
    fn sample_rate(&self) -> u32;
    /// One sentence of espeak-ng IPA, punctuation kept, as 16-bit audio at [`Self::sample_rate`].
    /// Blocking: it runs the model.
    fn speak(&self, phonemes: &str) -> Result<Vec<i16>, String>;
}

/// A Piper voice as a provider.
#[derive(Debug, Clone)]
pub struct PiperTts {
    pub voice: Arc<dyn PiperVoice>,
    /// The phonemiser (`espeak-ng`).
    pub espeak: String,
    /// The longest one sentence may take, phonemes and audio.
    pub timeout: Duration,
}

impl PiperTts {
    pub fn new(voice: Arc<dyn PiperVoice>) -> Self {
        Self {
            voice,
            espeak: "espeak-ng".to_owned(),
            timeout: Duration::from_secs(20),
        }
    }

    fn error(message: impl Into<String>) -> ProviderError {
        ProviderError::Other {
            provider: "piper".to_owned(),
            message: message.into(),
        }
    }

    /// The IPA of one clause (no punctuation of its own), espeak-ng's lines joined by spaces.
    async fn phonemise(&self, clause: &str) -> Result<String, ProviderError> {
        let mut child = tokio::process::Command::new(&self.espeak)
            .args(["-q", "--ipa", "-v", self.voice.espeak_voice()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Self::error(format!("cannot run {}: {e}", self.espeak)))?;
        let mut stdin = child.stdin.take().ok_or_else(|| Self::error("no stdin"))?;
        stdin
            .write_all(clause.as_bytes())
            .await
            .map_err(|e| Self::error(e.to_string()))?;
        drop(stdin);
        let output = child
            .wait_with_output()
            .await
            .map_err(|e| Self::error(e.to_string()))?;
        if !output.status.success() {
            return Err(Self::error(format!(
                "{} failed: {}",
                self.espeak,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        Ok(without_language_marks(
            &text.split_whitespace().collect::<Vec<_>>().join(" "),
        ))
    }

    /// One sentence's phonemes: each clause's IPA followed by its punctuation.
    async fn sentence_phonemes(&self, sentence: &[Clause]) -> Result<String, ProviderError> {
        let phonemised =
            futures_util::future::try_join_all(sentence.iter().map(|c| self.phonemise(&c.text)))
                .await?;
        let mut phonemes = String::new();
        for (clause, ipa) in sentence.iter().zip(phonemised) {
            if ipa.is_empty() {
                continue;
            }
            if !phonemes.is_empty() {
                phonemes.push(' ');
            }
            phonemes.push_str(&ipa);
            phonemes.extend(clause.punctuation);
        }
        Ok(phonemes)
    }

    /// One sentence as audio at `rate`.
    async fn sentence(
        &self,
        sentence: &[Clause],
        rate: SampleRate,
    ) -> Result<Vec<i16>, ProviderError> {
        let phonemes = self.sentence_phonemes(sentence).await?;
        if phonemes.is_empty() {
            return Ok(Vec::new());
        }
        let voice = self.voice.clone();
        let native =
            SampleRate::from_hz(voice.sample_rate()).map_err(|e| Self::error(e.to_string()))?;
        let spoken = tokio::task::spawn_blocking(move || voice.speak(&phonemes))
            .await
            .map_err(|e| Self::error(e.to_string()))?
            .map_err(Self::error)?;
        let mut resampler = Resampler::new(native, rate).map_err(|e| Self::error(e.to_string()))?;
        let mut samples = resampler.process(&spoken);
        samples.extend(resampler.flush());
        Ok(samples)
    }

    /// `text` in one piece at `rate` (tests and tools; calls stream [`TextToSpeech::synthesize`]).
    pub async fn speak(&self, text: &str, rate: SampleRate) -> Result<Vec<i16>, ProviderError> {
        let mut audio = self.synthesize(text, rate).await?;
        let mut samples = Vec::new();
        while let Some(piece) = audio.next().await {
            samples.extend(piece?);
        }
        Ok(samples)
    }
}

/// A clause of a sentence and the punctuation that closed it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clause {
    pub(crate) text: String,
    pub(crate) punctuation: Option<char>,
}

/// Sentences of clauses. A clause ends at `,` `;` `:` and a sentence at `.` `?` `!`, each only
/// when followed by a space or the end ("3.5" and "1,000" stay whole).
pub(crate) fn sentences(text: &str) -> Vec<Vec<Clause>> {
    let mut sentences = Vec::new();
    let mut sentence = Vec::new();
    let mut clause = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        // "Really?!" and "Wait..." keep one mark: the last.
        if matches!(c, '.' | '?' | '!')
            && chars.peek().is_some_and(|n| matches!(n, '.' | '?' | '!'))
        {
            continue;
        }
        let ends = chars.peek().is_none_or(|next| next.is_whitespace());
        let (closes_clause, closes_sentence) = match c {
            ',' | ';' | ':' => (ends, false),
            '.' | '?' | '!' => (ends, ends),
            _ => (false, false),
        };
        if !closes_clause {
            clause.push(c);
            continue;
        }
        push_clause(&mut sentence, &mut clause, Some(c));
        if closes_sentence && !sentence.is_empty() {
            sentences.push(std::mem::take(&mut sentence));
        }
    }
    push_clause(&mut sentence, &mut clause, None);
    if !sentence.is_empty() {
        sentences.push(sentence);
    }
    sentences
}

fn push_clause(sentence: &mut Vec<Clause>, clause: &mut String, punctuation: Option<char>) {
    let text = clause.trim();
    if text.chars().any(char::is_alphanumeric) {
        sentence.push(Clause {
            text: text.to_owned(),
            punctuation,
        });
    } else if let (Some(mark), Some(last)) = (punctuation, sentence.last_mut()) {
        last.punctuation = Some(mark);
    }
    clause.clear();
}

/// espeak-ng marks a word it read in another language with `(fr)` … `(en)`; Piper reads only
/// phonemes.
fn without_language_marks(ipa: &str) -> String {
    let mut out = String::with_capacity(ipa.len());
    let mut rest = ipa;
    while let Some(open) = rest.find('(') {
        out.push_str(&rest[..open]);
        match rest[open..].find(')') {
            Some(close)
                if rest[open + 1..open + close]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                rest = &rest[open + close + 1..];
            }
            _ => {
                out.push('(');
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[async_trait]
impl TextToSpeech for PiperTts {
    fn name(&self) -> &str {
        "piper"
    }

    async fn synthesize(
        &self,
        text: &str,
        rate: SampleRate,
    ) -> Result<BoxStream<'static, Result<Vec<i16>, ProviderError>>, ProviderError> {
        let queue: VecDeque<Vec<Clause>> = sentences(text).into();
        let provider = self.clone();
        // The first sentence is made before the stream is handed over, so a voice that cannot
        // speak fails here, where the chain can fall back.
        let mut queue = queue;
        let first = match queue.pop_front() {
            Some(sentence) => Some(provider.timed(&sentence, rate).await?),
            None => None,
        };
        let rest = stream::unfold((provider, queue), move |(provider, mut queue)| async move {
            let sentence = queue.pop_front()?;
            let spoken = provider.timed(&sentence, rate).await;
            let done = spoken.is_err();
            if done {
                queue.clear();
            }
            Some((spoken, (provider, queue)))
        });
        Ok(stream::iter(first.map(Ok)).chain(rest).boxed())
    }
}

impl PiperTts {
    async fn timed(
        &self,
        sentence: &[Clause],
        rate: SampleRate,
    ) -> Result<Vec<i16>, ProviderError> {
        tokio::time::timeout(self.timeout, self.sentence(sentence, rate))
            .await
            .map_err(|_| ProviderError::Timeout {
                provider: "piper".to_owned(),
                after: self.timeout,
            })?
    }
}

#[cfg(test)]
mod tests {
    use super::{Clause, sentences, without_language_marks};

    fn clause(text: &str, punctuation: Option<char>) -> Clause {
        Clause {
            text: text.to_owned(),
            punctuation,
        }
    }

    #[test]
    fn text_splits_into_sentences_of_clauses_keeping_their_punctuation() {
        assert_eq!(
            sentences("Hello, how are you? It costs 3.50 dollars, or 1,000 cents!! Bye"),
            vec![
                vec![clause("Hello", Some(',')), clause("how are you", Some('?'))],
                vec![
                    clause("It costs 3.50 dollars", Some(',')),
                    clause("or 1,000 cents", Some('!'))
                ],
                vec![clause("Bye", None)],
            ]
        );
        assert_eq!(
            sentences("Wait... what?"),
            vec![
                vec![clause("Wait", Some('.'))],
                vec![clause("what", Some('?'))]
            ]
        );
        assert!(sentences("  ... ").is_empty());
    }

    #[test]
    fn espeaks_language_marks_are_left_out_and_other_brackets_kept() {
        assert_eq!(without_language_marks("ðə (fr)kafˈe(en) ɪz"), "ðə kafˈe ɪz");
        assert_eq!(without_language_marks("a (b c"), "a (b c");
    }
}
