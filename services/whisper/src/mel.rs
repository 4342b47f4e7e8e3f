//! The Slaney-style mel filter bank Whisper was trained with.
//!
//! As `librosa.filters.mel(sr, n_fft, n_mels)` makes it, area-normalised.

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hertz to Slaney mels: linear below 1 kHz, logarithmic above.
fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// `n_mels` triangular filters over the `n_fft / 2 + 1` FFT bins from 0 Hz to Nyquist, each scaled
/// by `2 / bandwidth` (librosa's `norm="slaney"`).
pub fn filters(sample_rate: u32, n_fft: usize, n_mels: usize) -> Vec<Vec<f32>> {
    let bins = n_fft / 2 + 1;
    let nyquist = f64::from(sample_rate) / 2.0;
    let fft_hz: Vec<f64> = (0..bins)
        .map(|k| k as f64 * f64::from(sample_rate) / n_fft as f64)
        .collect();
    let (low, high) = (hz_to_mel(0.0), hz_to_mel(nyquist));
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(low + (high - low) * i as f64 / (n_mels + 1) as f64))
        .collect();
    (0..n_mels)
        .map(|m| {
            let (left, centre, right) = (edges[m], edges[m + 1], edges[m + 2]);
            let norm = 2.0 / (right - left);
            fft_hz
                .iter()
                .map(|f| {
                    let rising = (f - left) / (centre - left);
                    let falling = (right - f) / (right - centre);
                    (rising.min(falling).max(0.0) * norm) as f32
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_is_linear_below_one_kilohertz_and_inverts() {
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
        for hz in [0.0, 300.0, 1000.0, 4321.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
    }

    #[test]
    fn whisper_filter_bank_matches_librosa_values() {
        // librosa 0.10.2 `filters.mel(sr=16000, n_fft=400, n_mels=80)` (Whisper's mel_filters.npz).
        let f = filters(16_000, 400, 80);
        assert_eq!((f.len(), f[0].len()), (80, 201));
        let reference = [
            (0, 1, 0.024_862_595),
            (1, 1, 0.001_990_822),
            (1, 2, 0.022_871_772),
            (40, 42, 0.005_411_105),
            (40, 43, 0.014_735_566),
            (79, 198, 0.000_897_518),
            (79, 199, 0.000_448_759),
            (79, 200, 0.0),
        ];
        for (m, bin, want) in reference {
            let got = f[m][bin];
            assert!(
                (got - want).abs() < 1e-7,
                "filter {m} bin {bin}: {got} != {want}"
            );
        }
        let sum: f32 = f.iter().flatten().sum();
        assert!((sum - 1.999_024_2).abs() < 1e-5, "sum {sum}");
    }
}
