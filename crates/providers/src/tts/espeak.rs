//! Local text-to-speech with espeak-ng.
//!
//! No API key, no network, always there (Debian's `espeak-ng`).
//!
//! The `espeak-ng` program writes a 22.05 kHz WAV to stdout (`--stdout`); it is resampled to the
//! call's rate. The text goes in on stdin, so nothing in it is read as an option.

use async_trait::async_trait;
use audio::{Resampler, SampleRate, wav};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, stream};
use pipeline::{ProviderError, TextToSpeech};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// espeak-ng as a provider.
#[derive(Debug, Clone)]
pub struct EspeakTts {
    /// The program to run (`espeak-ng`).
    pub program: String,
    /// An espeak voice, e.g. `en-us`.
    pub voice: String,
    /// Words per minute.
    pub speed: u32,
    pub timeout: Duration,
}

impl Default for EspeakTts {
    fn default() -> Self {
        Self {
            program: "espeak-ng".to_owned(),
            voice: "en-us".to_owned(),
            speed: 165,
            timeout: Duration::from_secs(10),
        }
    }
}

impl EspeakTts {
    fn error(&self, message: impl Into<String>) -> ProviderError {
        ProviderError::Other {
            provider: "espeak".to_owned(),
            message: message.into(),
        }
    }

    /// Speaks `text` at `rate` in one piece.
    pub async fn speak(&self, text: &str, rate: SampleRate) -> Result<Vec<i16>, ProviderError> {
        let mut child = tokio::process::Command::new(&self.program)
            .args(["--stdout", "-v", &self.voice, "-s", &self.speed.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.error(format!("cannot run {}: {e}", self.program)))?;
        let mut stdin = child.stdin.take().ok_or_else(|| self.error("no stdin"))?;
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| self.error(e.to_string()))?;
        drop(stdin);
        let output = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| ProviderError::Timeout {
                provider: "espeak".to_owned(),
                after: self.timeout,
            })?
            .map_err(|e| self.error(e.to_string()))?;
        if !output.status.success() {
            return Err(self.error(format!(
                "{} failed: {}",
                self.program,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let decoded = wav::decode(&with_true_lengths(output.stdout))
            .map_err(|e| self.error(e.to_string()))?;
        let native =
            SampleRate::from_hz(decoded.sample_rate_hz).map_err(|e| self.error(e.to_string()))?;
        let mut resampler = Resampler::new(native, rate).map_err(|e| self.error(e.to_string()))?;
        let mut samples = resampler.process(&decoded.channel(0));
        samples.extend(resampler.flush());
        Ok(samples)
    }
}

/// espeak-ng streams its WAV and cannot know the length up front, so its header claims about
/// 2 GiB; this writes the true RIFF and data lengths into the header.
fn with_true_lengths(mut bytes: Vec<u8>) -> Vec<u8> {
    let Some(data) = bytes.windows(4).position(|w| w == b"data") else {
        return bytes;
    };
    let total = bytes.len();
    if total >= 8 && data + 8 <= total {
        let riff = u32::try_from(total - 8).unwrap_or(u32::MAX);
        bytes[4..8].copy_from_slice(&riff.to_le_bytes());
        let payload = u32::try_from(total - data - 8).unwrap_or(u32::MAX);
        bytes[data + 4..data + 8].copy_from_slice(&payload.to_le_bytes());
    }
    bytes
}

#[async_trait]
impl TextToSpeech for EspeakTts {
    fn name(&self) -> &str {
        "espeak"
    }

    async fn synthesize(
        &self,
        text: &str,
        rate: SampleRate,
    ) -> Result<BoxStream<'static, Result<Vec<i16>, ProviderError>>, ProviderError> {
        let samples = self.speak(text, rate).await?;
        let chunk = rate.samples_in_ms(200) as usize;
        let chunks: Vec<Result<Vec<i16>, ProviderError>> =
            samples.chunks(chunk).map(|c| Ok(c.to_vec())).collect();
        Ok(stream::iter(chunks).boxed())
    }
}
