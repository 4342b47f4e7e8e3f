//! Whisper's log-mel features (80 mel bands × 800 frames of 8 s at 16 kHz) that Smart Turn reads.
//!
//! The arithmetic follows `pipecat/audio/turn/smart_turn/_whisper_features.py` in PyPI's
//! `pipecat-ai` 1.14 (itself vendored from Hugging Face's `WhisperFeatureExtractor`): zero-mean
//! unit-variance waveform, reflect-padded 400-point periodic-Hann STFT with a hop of 160, power
//! spectrum onto 80 Slaney-normalised mel filters, log10 floored at 1e-10, the last frame dropped,
//! clamped to 8 below the maximum and mapped by `(x + 4) / 4`. The tests compare the output with
//! that reference on the same audio.

use realfft::RealFftPlanner;
use std::sync::{Arc, OnceLock};

/// Samples the features are computed over: 8 s at 16 kHz.
pub const WINDOW_SAMPLES: usize = 16_000 * 8;
/// Mel bands.
pub const MELS: usize = 80;
/// Frames (10 ms hops).
pub const FRAMES: usize = 800;

const N_FFT: usize = 400;
const HOP: usize = 160;
const BINS: usize = N_FFT / 2 + 1;

fn hertz_to_mel(hz: f64) -> f64 {
    let logstep = 27.0 / 6.4f64.ln();
    if hz >= 1000.0 {
        15.0 + (hz / 1000.0).ln() * logstep
    } else {
        3.0 * hz / 200.0
    }
}

fn mel_to_hertz(mel: f64) -> f64 {
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= 15.0 {
        1000.0 * (logstep * (mel - 15.0)).exp()
    } else {
        200.0 * mel / 3.0
    }
}

struct Tables {
    window: Vec<f64>,
    /// Per mel band, its first bin and the weights from there (a triangle spans few bins).
    filters: Vec<(usize, Vec<f64>)>,
    fft: Arc<dyn realfft::RealToComplex<f64>>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let window = (0..N_FFT)
            .map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos())
            .collect();
        let (low, high) = (hertz_to_mel(0.0), hertz_to_mel(8_000.0));
        let edges: Vec<f64> = (0..MELS + 2)
            .map(|i| mel_to_hertz(low + (high - low) * i as f64 / (MELS + 1) as f64))
            .collect();
        let filters = (0..MELS)
            .map(|m| {
                let norm = 2.0 / (edges[m + 2] - edges[m]);
                let row: Vec<f64> = (0..BINS)
                    .map(|bin| {
                        let hz = 8_000.0 * bin as f64 / (BINS - 1) as f64;
                        let down = (hz - edges[m]) / (edges[m + 1] - edges[m]);
                        let up = (edges[m + 2] - hz) / (edges[m + 2] - edges[m + 1]);
                        down.min(up).max(0.0) * norm
                    })
                    .collect();
                let first = row.iter().position(|&w| w > 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&w| w > 0.0).unwrap_or(first);
                (first, row[first..=last].to_vec())
            })
            .collect();
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        Tables {
            window,
            filters,
            fft,
        }
    })
}

/// The features of `audio` (16 kHz, in [-1, 1]), row-major `MELS × FRAMES`. Shorter audio is
/// padded with silence at the end, longer audio cut to its first 8 s (Smart Turn passes the last 8 s).
pub fn log_mel(audio: &[f32]) -> Vec<f32> {
    let tables = tables();
    let mut x = vec![0.0f32; WINDOW_SAMPLES];
    let n = audio.len().min(WINDOW_SAMPLES);
    x[..n].copy_from_slice(&audio[..n]);
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / WINDOW_SAMPLES as f64;
    let var = x
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / WINDOW_SAMPLES as f64;
    let scale = 1.0 / (var + 1e-7).sqrt();
    let normalised: Vec<f64> = x
        .iter()
        .map(|&v| f64::from(((f64::from(v) - mean) * scale) as f32))
        .collect();
    // Reflect padding of N_FFT / 2 on each side (numpy's "reflect": the edge is not repeated).
    let pad = N_FFT / 2;
    let len = WINDOW_SAMPLES + 2 * pad;
    let sample = |i: usize| -> f64 {
        let j = i as isize - pad as isize;
        let last = WINDOW_SAMPLES as isize - 1;
        let k = if j < 0 {
            -j
        } else if j > last {
            2 * last - j
        } else {
            j
        };
        normalised[k as usize]
    };
    let frames = (len - N_FFT) / HOP + 1;
    let mut mel = vec![0.0f64; MELS * FRAMES];
    let mut input = tables.fft.make_input_vec();
    let mut spectrum = tables.fft.make_output_vec();
    let mut scratch = tables.fft.make_scratch_vec();
    for frame in 0..frames.min(FRAMES) {
        for (k, slot) in input.iter_mut().enumerate() {
            *slot = sample(frame * HOP + k) * tables.window[k];
        }
        tables
            .fft
            .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .expect("buffers sized by the plan");
        let power: Vec<f64> = spectrum.iter().map(|c| c.norm_sqr()).collect();
        for (m, (first, weights)) in tables.filters.iter().enumerate() {
            let energy: f64 = weights
                .iter()
                .zip(&power[*first..])
                .map(|(w, p)| w * p)
                .sum();
            mel[m * FRAMES + frame] = energy.max(1e-10).log10();
        }
    }
    let max = mel.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    mel.iter()
        .map(|&v| ((v.max(max - 8.0) + 4.0) / 4.0) as f32)
        .collect()
}
