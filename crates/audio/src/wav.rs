//! WAV files in memory: 16-bit PCM in and out, mono or stereo, through hound.

use crate::{AudioError, SampleRate};
use std::io::Cursor;

/// A decoded WAV file: interleaved samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    pub sample_rate_hz: u32,
    pub channels: u16,
    pub samples: Vec<i16>,
}

impl Wav {
    /// The samples of one channel (0 is left).
    pub fn channel(&self, index: u16) -> Vec<i16> {
        self.samples
            .iter()
            .skip(usize::from(index))
            .step_by(usize::from(self.channels.max(1)))
            .copied()
            .collect()
    }

    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        let frames = self.samples.len() as u64 / u64::from(self.channels.max(1));
        frames * 1000 / u64::from(self.sample_rate_hz.max(1))
    }
}

fn spec(rate: SampleRate, channels: u16) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: rate.hz(),
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Encodes interleaved PCM16 as a WAV file.
pub fn encode(rate: SampleRate, channels: u16, interleaved: &[i16]) -> Result<Vec<u8>, AudioError> {
    let mut cursor = Cursor::new(Vec::with_capacity(44 + interleaved.len() * 2));
    {
        let mut writer = hound::WavWriter::new(&mut cursor, spec(rate, channels))
            .map_err(|e| AudioError::Wav(e.to_string()))?;
        let mut samples = writer.get_i16_writer(interleaved.len() as u32);
        for &sample in interleaved {
            samples.write_sample(sample);
        }
        samples
            .flush()
            .map_err(|e| AudioError::Wav(e.to_string()))?;
        writer
            .finalize()
            .map_err(|e| AudioError::Wav(e.to_string()))?;
    }
    Ok(cursor.into_inner())
}

/// The 44-byte header of a 16-bit PCM WAV file whose samples (`data_bytes` of them, little
/// endian) follow it: what [`encode`] writes before the samples, for a file written in pieces.
pub fn header(rate: SampleRate, channels: u16, data_bytes: u32) -> Result<Vec<u8>, AudioError> {
    let mut bytes = encode(rate, channels, &[])?;
    if bytes.len() != 44 {
        return Err(AudioError::Wav(format!(
            "a {}-byte header, not 44",
            bytes.len()
        )));
    }
    bytes[4..8].copy_from_slice(&(36u32.saturating_add(data_bytes)).to_le_bytes());
    bytes[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    Ok(bytes)
}

/// Decodes a 16-bit PCM WAV file of any rate; other sample formats are refused.
pub fn decode(bytes: &[u8]) -> Result<Wav, AudioError> {
    let reader =
        hound::WavReader::new(Cursor::new(bytes)).map_err(|e| AudioError::Wav(e.to_string()))?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
        return Err(AudioError::Wav(format!(
            "only 16-bit integer PCM is supported, got {} bits {:?}",
            spec.bits_per_sample, spec.sample_format
        )));
    }
    let samples = reader
        .into_samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AudioError::Wav(e.to_string()))?;
    Ok(Wav {
        sample_rate_hz: spec.sample_rate,
        channels: spec.channels,
        samples,
    })
}
