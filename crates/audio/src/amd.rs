//! Answering-machine detection from the first seconds of an answered call.
//!
//! The timing rules of Asterisk's `AMD()`, and the voicemail beep that ends a greeting.
//!
//! A person answers with a short word ("Hello?") and waits; a machine plays a long greeting. The
//! detector follows the callee's voice per 20 ms frame (the WebRTC VAD with short hysteresis, so
//! pauses between words split them) and decides:
//! - a greeting of `greeting` seconds of voice, or `max_words` words, is a **machine**;
//! - a short answer followed by `after_greeting_silence` of silence is a **person**;
//! - silence for `initial_silence`, or no decision within `total`, is **not sure** (the caller
//!   decides; vox treats it as a person, since hanging up on a person is an abandoned call).
//!
//! [`BeepDetector`] finds the tone a voicemail plays before recording: a frame whose energy is
//! almost all at one frequency (Goertzel over 300–2500 Hz), for at least 60 ms.

use crate::{AudioError, SampleRate, VadParams, VoiceDetector};

/// Timing rules; the defaults are Asterisk's `amd.conf` defaults, except `max_words` (Asterisk: 3)
/// which is 4 here, so "Hello, who is this?" is not a machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AmdParams {
    pub initial_silence_secs: f32,
    pub greeting_secs: f32,
    pub after_greeting_silence_secs: f32,
    pub total_secs: f32,
    pub min_word_secs: f32,
    pub max_words: u32,
}

impl Default for AmdParams {
    fn default() -> Self {
        Self {
            initial_silence_secs: 2.5,
            greeting_secs: 1.5,
            after_greeting_silence_secs: 0.8,
            total_secs: 5.0,
            min_word_secs: 0.1,
            max_words: 4,
        }
    }
}

/// What answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answerer {
    Human,
    Machine,
    NotSure,
}

/// A verdict, why, and after how much audio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AmdDecision {
    pub answerer: Answerer,
    pub reason: &'static str,
    pub after_secs: f32,
}

/// Follows one answered call's first seconds.
#[derive(Debug)]
pub struct MachineDetector {
    vad: VoiceDetector,
    params: AmdParams,
    frame_secs: f32,
    elapsed: f32,
    voice: f32,
    silence: f32,
    word: f32,
    words: u32,
    decided: Option<AmdDecision>,
}

impl MachineDetector {
    pub fn new(rate: SampleRate, params: AmdParams) -> Result<Self, AudioError> {
        let vad = VoiceDetector::new(
            rate,
            VadParams {
                confidence: 0.6,
                start_secs: 0.04,
                stop_secs: 0.1,
                min_volume: 0.3,
            },
        )?;
        Ok(Self {
            vad,
            params,
            frame_secs: crate::FRAME_MS as f32 / 1000.0,
            elapsed: 0.0,
            voice: 0.0,
            silence: 0.0,
            word: 0.0,
            words: 0,
            decided: None,
        })
    }

    /// The verdict, once there is one.
    pub fn decision(&self) -> Option<AmdDecision> {
        self.decided
    }

    /// Feeds one 20 ms frame; returns the verdict the first time there is one.
    pub fn push(&mut self, frame: &[i16]) -> Option<AmdDecision> {
        if self.decided.is_some() {
            return None;
        }
        self.vad.push(frame);
        self.elapsed += self.frame_secs;
        let p = self.params;
        if self.vad.in_speech() {
            self.voice += self.frame_secs;
            self.word += self.frame_secs;
            self.silence = 0.0;
        } else {
            if self.word >= p.min_word_secs {
                self.words += 1;
            }
            self.word = 0.0;
            self.silence += self.frame_secs;
        }
        let words = self.words + u32::from(self.word >= p.min_word_secs);
        let verdict = if words >= p.max_words {
            Some((Answerer::Machine, "too many words"))
        } else if self.voice >= p.greeting_secs {
            Some((Answerer::Machine, "a long greeting"))
        } else if self.voice == 0.0 && self.silence >= p.initial_silence_secs {
            Some((Answerer::NotSure, "silence after the answer"))
        } else if self.voice > 0.0 && self.silence >= p.after_greeting_silence_secs {
            Some((Answerer::Human, "a short greeting, then silence"))
        } else if self.elapsed >= p.total_secs {
            Some((Answerer::NotSure, "no decision in the analysis time"))
        } else {
            None
        };
        self.decided = verdict.map(|(answerer, reason)| AmdDecision {
            answerer,
            reason,
            after_secs: self.elapsed,
        });
        self.decided
    }
}

/// Finds a voicemail beep: a pure tone lasting at least 60 ms.
#[derive(Debug)]
pub struct BeepDetector {
    rate: f32,
    tone_frames: u32,
    /// Set once a beep has played and stopped.
    heard: bool,
}

impl BeepDetector {
    pub fn new(rate: SampleRate) -> Self {
        Self {
            rate: rate.hz() as f32,
            tone_frames: 0,
            heard: false,
        }
    }

    /// Feeds one frame; true once a beep has played and ended (the recording has started).
    pub fn push(&mut self, frame: &[i16]) -> bool {
        if self.heard {
            return true;
        }
        if tone_share(frame, self.rate) >= 0.7 {
            self.tone_frames += 1;
        } else {
            self.heard = self.tone_frames >= 3;
            self.tone_frames = 0;
        }
        self.heard
    }
}

/// The largest share of a frame's energy at a single frequency between 300 and 2500 Hz.
fn tone_share(frame: &[i16], rate: f32) -> f32 {
    let n = frame.len() as f32;
    let energy: f32 = frame.iter().map(|&s| f32::from(s) * f32::from(s)).sum();
    // Below about -50 dBFS there is no tone, only line noise.
    if n == 0.0 || energy / n < 100_000.0 {
        return 0.0;
    }
    let mut best = 0.0f32;
    let mut hz = 300.0;
    while hz <= 2500.0 {
        let coeff = 2.0 * (std::f32::consts::TAU * hz / rate).cos();
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &sample in frame {
            let s0 = f32::from(sample) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        best = best.max(power);
        hz += 10.0;
    }
    // A pure tone of amplitude A over n samples gives power ≈ (A·n/2)² and energy ≈ A²·n/2.
    (best * 2.0 / (n * energy)).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: SampleRate = SampleRate::Hz16000;

    fn tone(hz: f32, secs: f32, amplitude: f32) -> Vec<i16> {
        let n = (secs * 16_000.0) as usize;
        (0..n)
            .map(|i| (amplitude * (std::f32::consts::TAU * hz * i as f32 / 16_000.0).sin()) as i16)
            .collect()
    }

    /// `text` spoken by espeak-ng at 16 kHz, with `lead` and `tail` seconds of silence around it.
    fn spoken(text: &str, lead: f32, tail: f32) -> Vec<i16> {
        let path =
            std::env::temp_dir().join(format!("vox-amd-{}-{}.wav", std::process::id(), text.len()));
        let status = std::process::Command::new("espeak-ng")
            .args(["-v", "en-us", "-s", "170", "-w"])
            .arg(&path)
            .arg(text)
            .status()
            .expect("espeak-ng runs");
        assert!(status.success());
        let wav = crate::wav::decode(&std::fs::read(&path).unwrap()).unwrap();
        let _ = std::fs::remove_file(&path);
        let mut resampler =
            crate::Resampler::new(SampleRate::from_hz(wav.sample_rate_hz).unwrap(), RATE).unwrap();
        let mut speech = resampler.process(&wav.channel(0));
        speech.extend(resampler.flush());
        let mut audio = vec![0i16; (lead * 16_000.0) as usize];
        audio.extend(speech);
        audio.extend(vec![0i16; (tail * 16_000.0) as usize]);
        audio
    }

    fn detect(audio: &[i16]) -> AmdDecision {
        let mut amd = MachineDetector::new(RATE, AmdParams::default()).unwrap();
        audio
            .chunks(320)
            .find_map(|f| amd.push(f))
            .expect("a decision within the audio")
    }

    #[test]
    fn a_short_hello_then_silence_is_a_person() {
        let decision = detect(&spoken("Hello?", 0.3, 3.0));
        assert_eq!(decision.answerer, Answerer::Human, "{decision:?}");
        assert!(decision.after_secs < 2.5, "{decision:?}");
    }

    #[test]
    fn a_voicemail_greeting_is_a_machine_within_three_seconds() {
        let decision = detect(&spoken(
            "Hi, you have reached Sam. Please leave a message after the tone.",
            0.3,
            1.0,
        ));
        assert_eq!(decision.answerer, Answerer::Machine, "{decision:?}");
        assert!(decision.after_secs < 3.0, "{decision:?}");
    }

    #[test]
    fn silence_after_the_answer_is_not_sure() {
        let decision = detect(&vec![0i16; 16_000 * 4]);
        assert_eq!(decision.answerer, Answerer::NotSure);
        assert!((decision.after_secs - 2.5).abs() < 0.05, "{decision:?}");
    }

    #[test]
    fn a_pure_tone_is_a_beep_and_silence_or_noise_is_not() {
        let mut beep = BeepDetector::new(RATE);
        let mut audio = tone(1000.0, 0.3, 8000.0);
        audio.extend(vec![0; 3200]);
        let heard = audio.chunks(320).any(|f| beep.push(f));
        assert!(heard);
        let mut quiet = BeepDetector::new(RATE);
        let noise: Vec<i16> = (0..16_000)
            .map(|i: i32| {
                ((i.wrapping_mul(1_103_515_245).wrapping_add(12_345) >> 16) % 4000) as i16
            })
            .collect();
        assert!(!noise.chunks(320).any(|f| quiet.push(f)));
        assert!(tone_share(&tone(440.0, 0.02, 6000.0), 16_000.0) > 0.9);
    }
}
