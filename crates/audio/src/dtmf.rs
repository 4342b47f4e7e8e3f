//! In-band DTMF: the keypad's dual tones, generated and detected.
//!
//! Each key is the sum of one low (row) and one high (column) tone, as ITU-T Q.23 assigns them:
//!
//! | | 1209 Hz | 1336 Hz | 1477 Hz | 1633 Hz |
//! |---|---|---|---|---|
//! | 697 Hz | 1 | 2 | 3 | A |
//! | 770 Hz | 4 | 5 | 6 | B |
//! | 852 Hz | 7 | 8 | 9 | C |
//! | 941 Hz | * | 0 | # | D |
//!
//! Q.24 asks a receiver to accept tones of 40 ms and more with pauses of 40 ms and more; [`tones`]
//! sends 100 ms of each key and 100 ms of quiet between keys, as phones do, at −9 dBFS a tone. The
//! [`Detector`] runs the Goertzel algorithm for the eight frequencies over each 20 ms frame and
//! reports a key once when one row tone and one column tone carry nearly all the frame's energy in
//! two frames running: the way to press keys on a call whose carrier has no digit events (a
//! media stream), and to hear keys pressed in the audio.

use crate::{AudioError, SampleRate};

const LOW: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
const HIGH: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// How long each key sounds, and the quiet after it, in milliseconds.
pub const TONE_MS: u64 = 100;
pub const GAP_MS: u64 = 100;
/// Each tone's amplitude: −9 dBFS, so that the pair peaks below −3 dBFS.
const AMPLITUDE: f64 = 0.355 * i16::MAX as f64;

/// The row and column of `key` (0-9, *, #, A-D; case-insensitive).
fn position(key: char) -> Option<(usize, usize)> {
    let key = key.to_ascii_uppercase();
    KEYS.iter().enumerate().find_map(|(row, keys)| {
        keys.iter()
            .position(|&k| k == key)
            .map(|column| (row, column))
    })
}

/// `digits` as in-band DTMF at `rate`: each key's tones for [`TONE_MS`], then [`GAP_MS`] of quiet.
pub fn tones(digits: &str, rate: SampleRate) -> Result<Vec<i16>, AudioError> {
    let hz = f64::from(rate.hz());
    let tone = rate.samples_in_ms(TONE_MS) as usize;
    let gap = rate.samples_in_ms(GAP_MS) as usize;
    let mut out = Vec::with_capacity(digits.chars().count() * (tone + gap));
    for key in digits.chars() {
        let (row, column) = position(key).ok_or_else(|| {
            AudioError::InvalidParameter(format!("{key:?} is not a keypad key (0-9, *, #, A-D)"))
        })?;
        let (low, high) = (LOW[row], HIGH[column]);
        out.extend((0..tone).map(|n| {
            let t = n as f64 / hz;
            let sample = AMPLITUDE
                * ((std::f64::consts::TAU * low * t).sin()
                    + (std::f64::consts::TAU * high * t).sin());
            sample.round() as i16
        }));
        out.extend(std::iter::repeat_n(0, gap));
    }
    Ok(out)
}

/// The power of `frequency` in `samples` (the Goertzel algorithm).
fn goertzel(samples: &[i16], frequency: f64, rate: f64) -> f64 {
    let coefficient = 2.0 * (std::f64::consts::TAU * frequency / rate).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coefficient * s1 * s2
}

/// Finds keys pressed in a call's audio, 20 ms frame by frame.
#[derive(Debug, Clone)]
pub struct Detector {
    rate: SampleRate,
    /// The key heard in the last frame, and whether it was reported.
    last: Option<char>,
    reported: bool,
}

impl Detector {
    pub fn new(rate: SampleRate) -> Self {
        Self {
            rate,
            last: None,
            reported: false,
        }
    }

    /// The key whose tones carry a 20 ms frame, if one does.
    fn key_in(&self, frame: &[i16]) -> Option<char> {
        let energy: f64 = frame.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        let n = frame.len() as f64;
        // Quieter than −45 dBFS on average: nothing to hear.
        if energy / n < (i16::MAX as f64 * 0.0056).powi(2) {
            return None;
        }
        let rate = f64::from(self.rate.hz());
        // Each tone's share of the frame's energy (a lone sinusoid at the frequency gives 1).
        let share = |f: f64| 2.0 * goertzel(frame, f, rate) / (n * energy);
        let strongest = |band: &[f64; 4]| {
            band.iter()
                .map(|&f| share(f))
                .enumerate()
                .fold(
                    (0, 0.0f64),
                    |best, (i, s)| if s > best.1 { (i, s) } else { best },
                )
        };
        let (row, low) = strongest(&LOW);
        let (column, high) = strongest(&HIGH);
        (low > 0.25 && high > 0.25 && low + high > 0.8).then(|| KEYS[row][column])
    }

    /// Feeds one 20 ms frame at the detector's rate; the key pressed, once, when its tones have
    /// lasted two frames.
    pub fn push(&mut self, frame: &[i16]) -> Result<Option<char>, AudioError> {
        if frame.len() != self.rate.frame_samples() {
            return Err(AudioError::FrameSize {
                expected: self.rate.frame_samples(),
                got: frame.len(),
            });
        }
        let key = self.key_in(frame);
        let pressed = match key {
            Some(key) if self.last == Some(key) && !self.reported => {
                self.reported = true;
                Some(key)
            }
            Some(key) if self.last == Some(key) => None,
            _ => {
                self.reported = false;
                None
            }
        };
        self.last = key;
        Ok(pressed)
    }

    /// Every key pressed in `samples`, in order (a trailing part frame is ignored).
    pub fn keys(&mut self, samples: &[i16]) -> String {
        samples
            .chunks_exact(self.rate.frame_samples())
            .filter_map(|frame| self.push(frame).ok().flatten())
            .collect()
    }
}
