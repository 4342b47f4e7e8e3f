//! Benchmark: CPU time of the per-frame audio path of a phone call.
//!
//! μ-law in → 16 kHz → VAD, and 16 kHz → μ-law out.
//!
//! One 20 ms frame of caller audio arrives as 160 μ-law bytes: it is decoded, resampled to 16 kHz
//! and run through the VAD; one 20 ms frame of bot audio at 16 kHz is resampled to 8 kHz and
//! encoded. The baseline, timed in the same run, is the G.711 decode and encode alone (what any
//! carrier edge must do); the path is reported as a multiple of it and against the goal of
//! 0.2 ms per frame.

use anyhow::Context;
use audio::{Resampler, SampleRate, VadParams, VoiceDetector, g711, wav};
use clap::Parser;
use std::time::Instant;

const SECONDS: usize = 600;

/// CPU time of the per-frame audio path of a phone call, against G.711 alone (no options).
#[derive(Debug, Parser)]
struct Args {}

fn main() -> anyhow::Result<()> {
    Args::parse();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/audio/tests/data/speech_16k.wav"
    );
    let speech = wav::decode(&std::fs::read(path).context("read the speech sample")?)?.samples;
    // Ten minutes of call audio at 8 kHz, speech with pauses, as the carrier sends it.
    let mut down = Resampler::new(SampleRate::Hz16000, SampleRate::Hz8000)?;
    let mut clip = down.process(&speech);
    clip.extend(down.flush());
    clip.extend(vec![0; 8_000]);
    let frames_needed = SECONDS * 50;
    let mut caller_ulaw: Vec<Vec<u8>> = Vec::with_capacity(frames_needed);
    while caller_ulaw.len() < frames_needed {
        for frame in clip.chunks_exact(160) {
            caller_ulaw.push(g711::encode_ulaw(frame));
        }
    }
    caller_ulaw.truncate(frames_needed);
    let bot_frames: Vec<Vec<i16>> = speech.chunks_exact(320).map(<[i16]>::to_vec).collect();

    // Baseline: the codec alone.
    let started = Instant::now();
    let mut sink = 0i64;
    for (i, payload) in caller_ulaw.iter().enumerate() {
        let pcm = g711::decode_ulaw(payload);
        let out = g711::encode_ulaw(&pcm);
        sink += i64::from(out[i % out.len()]);
    }
    let baseline = started.elapsed();

    // The full path.
    let mut up = Resampler::new(SampleRate::Hz8000, SampleRate::Hz16000)?;
    let mut out_resampler = Resampler::new(SampleRate::Hz16000, SampleRate::Hz8000)?;
    let mut vad = VoiceDetector::new(SampleRate::Hz16000, VadParams::default())?;
    let mut events = 0;
    let mut pcm16 = Vec::with_capacity(640);
    let started = Instant::now();
    for (i, payload) in caller_ulaw.iter().enumerate() {
        let pcm8 = g711::decode_ulaw(payload);
        pcm16.clear();
        up.process_into(&pcm8, &mut pcm16);
        if vad.push(&pcm16).is_some() {
            events += 1;
        }
        let bot = out_resampler.process(&bot_frames[i % bot_frames.len()]);
        let encoded = g711::encode_ulaw(&bot);
        sink += i64::from(encoded.first().copied().unwrap_or(0));
    }
    let path_time = started.elapsed();

    let frames = caller_ulaw.len() as f64;
    let per_frame_us = path_time.as_secs_f64() * 1e6 / frames;
    let baseline_us = baseline.as_secs_f64() * 1e6 / frames;
    println!(
        "audio path, {SECONDS} s of call audio ({} frames of 20 ms), one core",
        caller_ulaw.len()
    );
    println!("  baseline (G.711 decode + encode): {baseline_us:.3} µs per frame");
    println!(
        "  full path (decode, 8→16 kHz, VAD, 16→8 kHz, encode): {per_frame_us:.3} µs per frame"
    );
    println!("  ratio to baseline: ×{:.1}", per_frame_us / baseline_us);
    println!(
        "  share of the 200 µs goal: {:.1} %",
        per_frame_us / 200.0 * 100.0
    );
    println!(
        "  CPU per second of call audio: {:.2} ms (real-time factor {:.4}); VAD turns seen: {events}",
        per_frame_us * 50.0 / 1000.0,
        per_frame_us / 20_000.0
    );
    std::hint::black_box(sink);
    Ok(())
}
