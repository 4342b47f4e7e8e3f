//! Text-to-speech: ElevenLabs and Cartesia over WebSocket, OpenAI-compatible speech over HTTP, and local espeak-ng.

pub mod cartesia;
pub mod elevenlabs;
pub mod espeak;
pub mod openai;

pub use cartesia::CartesiaTts;
pub use elevenlabs::ElevenLabsTts;
pub use espeak::EspeakTts;
pub use openai::OpenAiTts;

use audio::{Resampler, SampleRate};
use pipeline::ProviderError;

/// PCM16 bytes arriving in pieces of any length: keeps an odd trailing byte for the next piece
/// and resamples to the rate the pipeline asked for.
pub(crate) struct PcmAssembler {
    carry: Option<u8>,
    resampler: Resampler,
}

impl PcmAssembler {
    pub(crate) fn new(
        provider: &str,
        from: SampleRate,
        to: SampleRate,
    ) -> Result<Self, ProviderError> {
        Ok(Self {
            carry: None,
            resampler: Resampler::new(from, to).map_err(|e| ProviderError::Other {
                provider: provider.to_owned(),
                message: e.to_string(),
            })?,
        })
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<i16> {
        let mut joined = Vec::with_capacity(bytes.len() + 1);
        joined.extend(self.carry.take());
        joined.extend_from_slice(bytes);
        if joined.len() % 2 == 1 {
            self.carry = joined.pop();
        }
        let samples: Vec<i16> = joined
            .chunks_exact(2)
            .map(|p| i16::from_le_bytes([p[0], p[1]]))
            .collect();
        self.resampler.process(&samples)
    }

    pub(crate) fn finish(&mut self) -> Vec<i16> {
        self.resampler.flush()
    }
}
