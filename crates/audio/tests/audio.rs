//! The audio crate's suite.
//!
//! G.711 against the reference tables, resampling, WAV, the stereo recorder, the VAD and DTMF.

use audio::{
    AudioError, Resampler, SampleRate, StereoRecorder, Track, VadEvent, VadParams, VoiceDetector,
    dtmf, g711, pcm_from_le_bytes, wav,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn reference_decode_table(name: &str) -> Vec<i16> {
    std::fs::read_to_string(format!("{DATA}/{name}"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

fn speech_16k() -> Vec<i16> {
    let bytes = std::fs::read(format!("{DATA}/speech_16k.wav")).unwrap();
    let decoded = wav::decode(&bytes).unwrap();
    assert_eq!(decoded.sample_rate_hz, 16_000);
    decoded.samples
}

fn sine(rate: SampleRate, freq: f64, ms: u64, amplitude: f64) -> Vec<i16> {
    let n = rate.samples_in_ms(ms) as usize;
    (0..n)
        .map(|i| {
            (amplitude
                * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate.hz())).sin())
                as i16
        })
        .collect()
}

// The reference tables were generated once by CPython's `audioop` (the CCITT reference code,
// Sun Microsystems' g711.c): `ulaw2lin`/`alaw2lin` for every code, `lin2ulaw`/`lin2alaw` for
// every 16-bit sample from -32768 to 32767.

#[test]
fn ulaw_decoding_matches_the_reference_table_for_every_code() {
    let table = reference_decode_table("ulaw_decode.txt");
    for code in 0..=255u8 {
        assert_eq!(
            g711::ulaw_decode(code),
            table[usize::from(code)],
            "code {code:#04x}"
        );
    }
}

#[test]
fn alaw_decoding_matches_the_reference_table_for_every_code() {
    let table = reference_decode_table("alaw_decode.txt");
    for code in 0..=255u8 {
        assert_eq!(
            g711::alaw_decode(code),
            table[usize::from(code)],
            "code {code:#04x}"
        );
    }
}

#[test]
fn ulaw_encoding_matches_the_reference_for_every_16_bit_sample() {
    let reference = std::fs::read(format!("{DATA}/ulaw_encode.bin")).unwrap();
    for (i, sample) in (i16::MIN..=i16::MAX).enumerate() {
        assert_eq!(g711::ulaw_encode(sample), reference[i], "sample {sample}");
    }
}

#[test]
fn alaw_encoding_matches_the_reference_for_every_16_bit_sample() {
    let reference = std::fs::read(format!("{DATA}/alaw_encode.bin")).unwrap();
    for (i, sample) in (i16::MIN..=i16::MAX).enumerate() {
        assert_eq!(g711::alaw_encode(sample), reference[i], "sample {sample}");
    }
}

#[test]
fn g711_round_trips_keep_speech_within_the_codec_error() {
    let speech = speech_16k();
    let ulaw = g711::decode_ulaw(&g711::encode_ulaw(&speech));
    let alaw = g711::decode_alaw(&g711::encode_alaw(&speech));
    for (decoded, name) in [(ulaw, "ulaw"), (alaw, "alaw")] {
        let worst = speech
            .iter()
            .zip(&decoded)
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap();
        assert!(worst <= 1024, "{name} error {worst}");
    }
}

#[test]
fn pcm_bytes_with_an_odd_length_are_refused() {
    assert_eq!(
        pcm_from_le_bytes(&[1, 2, 3]),
        Err(AudioError::OddByteCount(3))
    );
    assert_eq!(pcm_from_le_bytes(&[1, 0, 0xff, 0xff]).unwrap(), vec![1, -1]);
}

#[test]
fn unsupported_sample_rates_are_refused() {
    assert_eq!(
        SampleRate::from_hz(44_100),
        Err(AudioError::UnsupportedRate(44_100))
    );
    assert_eq!(SampleRate::from_hz(24_000).unwrap().frame_samples(), 480);
}

/// Signal-to-noise ratio of `got` against `want` in dB, over the middle of the signal.
fn snr_db(want: &[i16], got: &[i16]) -> f64 {
    let n = want.len().min(got.len());
    let (from, to) = (n / 10, n - n / 10);
    let mut signal = 0.0;
    let mut noise = 0.0;
    for i in from..to {
        signal += f64::from(want[i]).powi(2);
        noise += (f64::from(want[i]) - f64::from(got[i])).powi(2);
    }
    10.0 * (signal / noise.max(1e-9)).log10()
}

fn resample_in_frames(from: SampleRate, to: SampleRate, input: &[i16], chunk: usize) -> Vec<i16> {
    let mut resampler = Resampler::new(from, to).unwrap();
    let mut out = Vec::new();
    for piece in input.chunks(chunk) {
        resampler.process_into(piece, &mut out);
    }
    out.extend(resampler.flush());
    out
}

#[test]
fn resampling_a_tone_upward_keeps_its_length_and_is_aligned_in_time() {
    for (from, to) in [
        (SampleRate::Hz8000, SampleRate::Hz16000),
        (SampleRate::Hz8000, SampleRate::Hz48000),
        (SampleRate::Hz16000, SampleRate::Hz24000),
    ] {
        let input = sine(from, 440.0, 1000, 12_000.0);
        let output = resample_in_frames(from, to, &input, 137);
        assert_eq!(
            output.len(),
            to.samples_in_ms(1000) as usize,
            "{from:?}->{to:?}"
        );
        let ideal = sine(to, 440.0, 1000, 12_000.0);
        let snr = snr_db(&ideal, &output);
        assert!(snr > 40.0, "{from:?}->{to:?}: SNR {snr:.1} dB");
    }
}

#[test]
fn resampling_downward_removes_what_the_new_rate_cannot_carry() {
    // 6 kHz cannot exist at 8 kHz (Nyquist 4 kHz): a good resampler filters it out instead of
    // folding it back as a 2 kHz alias, which a linear one would do.
    let tone = sine(SampleRate::Hz16000, 6_000.0, 500, 12_000.0);
    let output = resample_in_frames(SampleRate::Hz16000, SampleRate::Hz8000, &tone, 320);
    let energy: f64 = output[400..3600]
        .iter()
        .map(|&s| f64::from(s).powi(2))
        .sum::<f64>()
        / 3200.0;
    assert!(energy.sqrt() < 200.0, "alias RMS {}", energy.sqrt());
    let speech_band = sine(SampleRate::Hz16000, 1_000.0, 500, 12_000.0);
    let output = resample_in_frames(SampleRate::Hz16000, SampleRate::Hz8000, &speech_band, 320);
    let ideal = sine(SampleRate::Hz8000, 1_000.0, 500, 12_000.0);
    assert!(snr_db(&ideal, &output) > 40.0);
}

#[test]
fn resampling_at_the_same_rate_passes_samples_through() {
    let input = sine(SampleRate::Hz16000, 300.0, 100, 5_000.0);
    assert_eq!(
        resample_in_frames(SampleRate::Hz16000, SampleRate::Hz16000, &input, 50),
        input
    );
}

#[test]
fn wav_round_trips_stereo_samples() {
    let samples: Vec<i16> = (0..200).map(|i| i * 100 - 10_000).collect();
    let bytes = wav::encode(SampleRate::Hz8000, 2, &samples).unwrap();
    let decoded = wav::decode(&bytes).unwrap();
    assert_eq!((decoded.sample_rate_hz, decoded.channels), (8_000, 2));
    assert_eq!(decoded.samples, samples);
    assert_eq!(
        decoded.channel(1),
        samples
            .iter()
            .skip(1)
            .step_by(2)
            .copied()
            .collect::<Vec<_>>()
    );
}

#[test]
fn wav_decoding_refuses_garbage_and_other_sample_formats() {
    assert!(matches!(
        wav::decode(b"RIFF1234WAVEjunk"),
        Err(AudioError::Wav(_))
    ));
    let mut cursor = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 8,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
    writer.write_sample(3i8).unwrap();
    writer.finalize().unwrap();
    let err = wav::decode(&cursor.into_inner()).unwrap_err();
    assert!(err.to_string().contains("16-bit"), "{err}");
}

#[test]
fn stereo_recorder_keeps_caller_and_bot_aligned_across_gaps() {
    let mut recorder = StereoRecorder::new(SampleRate::Hz8000);
    recorder.write(Track::Caller, 0, &[1; 100]);
    // The bot starts speaking 1,000 samples (125 ms) into the call, after a gap.
    recorder.write(Track::Bot, 1_000, &[2; 100]);
    recorder.write(Track::Caller, 1_050, &[3; 10]);
    let stereo = recorder.finish();
    assert_eq!(stereo.len(), 2 * 1_100);
    let left: Vec<i16> = stereo.iter().step_by(2).copied().collect();
    let right: Vec<i16> = stereo.iter().skip(1).step_by(2).copied().collect();
    assert!(left[..100].iter().all(|&s| s == 1) && left[100..1_050].iter().all(|&s| s == 0));
    assert!(left[1_050..1_060].iter().all(|&s| s == 3));
    assert!(right[..1_000].iter().all(|&s| s == 0) && right[1_000..1_100].iter().all(|&s| s == 2));
}

#[test]
fn stereo_recorder_gives_back_completed_audio_and_keeps_positions_after() {
    let mut recorder = StereoRecorder::new(SampleRate::Hz16000);
    recorder.write(Track::Caller, 0, &[5; 320]);
    let first = recorder.take_until(160);
    assert_eq!(first.len(), 320);
    // A chunk that started before the taken part keeps only what lies after it.
    recorder.write(Track::Bot, 100, &[7; 100]);
    recorder.write(Track::Bot, 400, &[9; 10]);
    let rest = recorder.finish();
    let right: Vec<i16> = rest.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(right.len(), 410 - 160);
    assert!(right[..40].iter().all(|&s| s == 7));
    assert!(right[40..240].iter().all(|&s| s == 0));
    assert!(right[240..].iter().all(|&s| s == 9));
    let wav_bytes = {
        recorder.write(Track::Caller, 500, &[1; 20]);
        recorder.to_wav().unwrap()
    };
    assert_eq!(wav::decode(&wav_bytes).unwrap().channels, 2);
}

/// Writes `seconds` of a call's audio from second `from`, the way a worker does: caller frames
/// in order, and a second of bot speech each second, written from half a second back (late).
fn play_call(recorder: &mut StereoRecorder, from: u64, seconds: u64) {
    let rate = 8_000u64;
    for frame in from * 50..(from + seconds) * 50 {
        let at = frame * 160;
        let caller: Vec<i16> = (0..160).map(|i| ((at + i) % 200) as i16).collect();
        recorder.write(Track::Caller, at, &caller);
        if frame % 50 == 0 && at >= rate {
            let bot: Vec<i16> = (0..rate).map(|i| (i % 300) as i16 - 150).collect();
            recorder.write(Track::Bot, at - rate / 2, &bot);
        }
    }
}

#[test]
fn a_spilling_recorder_holds_a_bounded_stretch_and_spills_exactly_what_it_would_have_kept() {
    let mut whole = StereoRecorder::new(SampleRate::Hz8000);
    play_call(&mut whole, 0, 600);
    let expected = whole.to_wav().unwrap();

    let (spilled, parts) = std::sync::mpsc::channel::<Vec<i16>>();
    let mut recorder = StereoRecorder::new(SampleRate::Hz8000);
    let keep = 8_000 * 5;
    recorder.spill_to(
        keep,
        Box::new(move |samples| {
            let _ = spilled.send(samples.to_vec());
        }),
    );
    // Ten minutes of call: never more than twice `keep` (and a bot line) held at a time.
    let mut most = 0;
    for minute in 0..10 {
        play_call(&mut recorder, minute * 60, 60);
        most = most.max(recorder.held());
    }
    assert!(most <= 2 * keep + 8_000, "held {most} samples");
    assert!(recorder.close_spill());
    assert!(!recorder.spilling());
    let samples: Vec<i16> = parts.try_iter().flatten().collect();
    let mut file = wav::header(SampleRate::Hz8000, 2, (samples.len() * 2) as u32).unwrap();
    file.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
    assert_eq!(file.len(), expected.len());
    assert!(
        file == expected,
        "the spilled recording differs from the one kept whole"
    );
}

fn events(detector: &mut VoiceDetector, audio: &[i16], rate: SampleRate) -> Vec<(VadEvent, u64)> {
    let frame = rate.frame_samples();
    let mut out = Vec::new();
    for (i, chunk) in audio.chunks(frame).enumerate() {
        if let Some(event) = detector.push(chunk) {
            out.push((event, (i as u64 + 1) * 20));
        }
    }
    out
}

fn padded_speech() -> Vec<i16> {
    let mut audio = vec![0i16; 16_000];
    audio.extend(speech_16k());
    audio.extend(std::iter::repeat_n(0, 24_000));
    audio
}

#[test]
fn vad_reports_one_turn_for_a_spoken_sentence_between_silences() {
    let audio = padded_speech();
    let mut detector = VoiceDetector::new(SampleRate::Hz16000, VadParams::default()).unwrap();
    let seen = events(&mut detector, &audio, SampleRate::Hz16000);
    assert_eq!(
        seen.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![VadEvent::Started, VadEvent::Stopped],
        "{seen:?}"
    );
    // Speech starts at 1.0 s; the start needs 0.2 s of it.
    let started_ms = seen[0].1;
    assert!(
        (1_150..=1_600).contains(&started_ms),
        "started at {started_ms} ms"
    );
    // Speech ends at about 5.3 s; the stop needs 0.8 s of silence.
    let stopped_ms = seen[1].1;
    assert!(
        (5_600..=6_400).contains(&stopped_ms),
        "stopped at {stopped_ms} ms"
    );
}

#[test]
fn vad_works_at_every_supported_rate() {
    let speech = padded_speech();
    for rate in [SampleRate::Hz8000, SampleRate::Hz24000, SampleRate::Hz48000] {
        let mut resampler = Resampler::new(SampleRate::Hz16000, rate).unwrap();
        let mut audio = resampler.process(&speech);
        audio.extend(resampler.flush());
        let mut detector = VoiceDetector::new(rate, VadParams::default()).unwrap();
        let kinds: Vec<VadEvent> = events(&mut detector, &audio, rate)
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(
            kinds,
            vec![VadEvent::Started, VadEvent::Stopped],
            "{rate:?}"
        );
    }
}

#[test]
fn vad_ignores_a_burst_shorter_than_start_secs_and_quiet_speech() {
    let speech = speech_16k();
    let mut audio = vec![0i16; 8_000];
    audio.extend_from_slice(&speech[8_000..9_600]); // 100 ms of speech
    audio.extend(std::iter::repeat_n(0, 16_000));
    let mut detector = VoiceDetector::new(SampleRate::Hz16000, VadParams::default()).unwrap();
    assert!(events(&mut detector, &audio, SampleRate::Hz16000).is_empty());

    let whisper: Vec<i16> = padded_speech().iter().map(|&s| s / 400).collect();
    let mut detector = VoiceDetector::new(SampleRate::Hz16000, VadParams::default()).unwrap();
    assert!(
        events(&mut detector, &whisper, SampleRate::Hz16000).is_empty(),
        "below min_volume"
    );
}

#[test]
fn vad_refuses_parameters_outside_their_range() {
    let params = VadParams {
        confidence: 1.5,
        ..VadParams::default()
    };
    assert!(matches!(
        VoiceDetector::new(SampleRate::Hz16000, params),
        Err(AudioError::InvalidParameter(_))
    ));
}

/// A classifier that calls a frame speech exactly when told to, whatever it sounds like.
#[derive(Debug)]
struct Told(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl audio::SpeechClassifier for Told {
    fn confidence(&mut self, _frame: &[i16]) -> f32 {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            1.0
        } else {
            0.0
        }
    }
}

#[test]
fn another_classifier_replaces_webrtcs_and_the_loudness_gate_and_hysteresis_still_apply() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let rate = SampleRate::Hz16000;
    let says = std::sync::Arc::new(AtomicBool::new(false));
    let classifier = Box::new(Told(says.clone()));
    let mut detector =
        VoiceDetector::with_classifier(rate, VadParams::default(), classifier).unwrap();
    // Real speech the classifier calls quiet starts nothing.
    assert_eq!(events(&mut detector, &padded_speech(), rate), vec![]);
    // Silence it calls speech starts nothing either: the loudness gate holds.
    says.store(true, Ordering::SeqCst);
    assert_eq!(events(&mut detector, &vec![0; 16_000], rate), vec![]);
    // A loud tone it calls speech starts a turn after start_secs, and ends 0.8 s after it says
    // quiet.
    let tone = sine(rate, 440.0, 1_000, 8_000.0);
    let seen = events(&mut detector, &tone, rate);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, VadEvent::Started);
    assert!((200..=600).contains(&seen[0].1), "{seen:?}");
    says.store(false, Ordering::SeqCst);
    let seen = events(&mut detector, &tone, rate);
    assert_eq!(seen, vec![(VadEvent::Stopped, 800)]);
}

const ALL_KEYS: &str = "123A456B789C*0#D";

#[test]
fn every_dtmf_key_sent_is_heard_once_at_phone_and_wideband_rates() {
    for rate in [SampleRate::Hz8000, SampleRate::Hz16000] {
        let audio = dtmf::tones(ALL_KEYS, rate).unwrap();
        assert_eq!(dtmf::Detector::new(rate).keys(&audio), ALL_KEYS, "{rate:?}");
        // The same key twice is two presses: the gap between them is heard.
        let audio = dtmf::tones("55#", rate).unwrap();
        assert_eq!(dtmf::Detector::new(rate).keys(&audio), "55#");
    }
}

#[test]
fn dtmf_keys_survive_a_g711_carrier() {
    let audio = dtmf::tones("0123456789*#", SampleRate::Hz8000).unwrap();
    for carried in [
        g711::decode_ulaw(&g711::encode_ulaw(&audio)),
        g711::decode_alaw(&g711::encode_alaw(&audio)),
    ] {
        assert_eq!(
            dtmf::Detector::new(SampleRate::Hz8000).keys(&carried),
            "0123456789*#"
        );
    }
}

#[test]
fn speech_single_tones_and_quiet_are_not_heard_as_keys() {
    let rate = SampleRate::Hz16000;
    assert_eq!(dtmf::Detector::new(rate).keys(&speech_16k()), "");
    assert_eq!(
        dtmf::Detector::new(rate).keys(&sine(rate, 697.0, 500, 12_000.0)),
        ""
    );
    assert_eq!(
        dtmf::Detector::new(rate).keys(&sine(rate, 1336.0, 500, 12_000.0)),
        ""
    );
    assert_eq!(dtmf::Detector::new(rate).keys(&vec![0; 16_000]), "");
    // A whisper of a key, at −60 dBFS, is below what the detector listens to.
    let faint: Vec<i16> = dtmf::tones("5", rate)
        .unwrap()
        .iter()
        .map(|&x| x / 400)
        .collect();
    assert_eq!(dtmf::Detector::new(rate).keys(&faint), "");
}

#[test]
fn a_key_that_is_not_on_the_keypad_is_refused() {
    let error = dtmf::tones("12x", SampleRate::Hz8000).unwrap_err();
    assert!(error.to_string().contains("'x'"), "{error}");
    let mut detector = dtmf::Detector::new(SampleRate::Hz8000);
    assert!(matches!(
        detector.push(&[0; 10]),
        Err(AudioError::FrameSize {
            expected: 160,
            got: 10
        })
    ));
}
