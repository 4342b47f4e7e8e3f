//! Fake voice providers that answer at published latencies, with jitter, and log when they did.
//!
//! For the voice-to-voice benchmark (`bench/src/bin/voice_to_voice.rs`): a streaming STT as
//! Deepgram's live transcription documents it, and OpenAI's chat completions and speech routes
//! (the shapes of [`crate::fake_providers`]). Both runtimes under test talk to them with their own
//! Deepgram and OpenAI clients, unchanged.
//!
//! Deepgram (`GET /v1/listen`, WebSocket): <https://developers.deepgram.com/reference/speech-to-text/listen-streaming>
//! (query `encoding=linear16`, `sample_rate`, `interim_results`, `endpointing`; binary audio up;
//! `Results` down with `is_final`, `speech_final`, `from_finalize` and
//! `channel.alternatives[0].transcript`), <https://developers.deepgram.com/docs/endpointing>
//! (a final result after `endpointing` ms of silence, 10 by default, `false` for none),
//! <https://developers.deepgram.com/docs/finalize> (`{"type": "Finalize"}` flushes what is
//! buffered and answers `from_finalize: true`, empty when an earlier final already had it) and
//! <https://developers.deepgram.com/docs/close-stream>. What it "hears": a 10 ms piece is speech when
//! a sample in it is louder than −36 dBFS ([`voiced`]); an utterance's final result is ready `stt`
//! after its last speech arrived (and not before `endpointing`), its words being the current
//! turn's sentence's words not given yet, as many as the speech heard so far makes of the
//! sentence's own (a pause mid-sentence gets the words before it); an interim result goes down
//! every 300 ms of speech with the words so far; speech after a second of quiet starts the next
//! turn's sentence.

use crate::fake_providers::{chat_stream, tone_pcm};
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// What each fake takes to answer, and how much that varies.
#[derive(Debug, Clone, Copy)]
pub struct Latencies {
    /// From an utterance's last speech to its final transcript.
    pub stt: Duration,
    /// From a chat request to its first token.
    pub llm: Duration,
    /// From a speech request to its first audio.
    pub tts: Duration,
    /// Each latency is drawn uniformly within ± this fraction of itself.
    pub jitter: f64,
}

/// A provider's moment, logged on the wall clock (the runtime under test may be another process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A final transcript with words went down.
    SttFinal,
    LlmRequest,
    LlmFirstToken,
    TtsRequest,
    TtsFirstAudio,
}

/// The fakes' shared state: latencies, the jitter's generator, the sentences, the log.
#[derive(Debug)]
pub struct Fakes {
    latencies: Latencies,
    rng: Mutex<rand::rngs::StdRng>,
    /// Each turn's words and how long its speech is, in order.
    sentences: Vec<(Vec<String>, Duration)>,
    log: Mutex<Vec<(Stage, SystemTime)>>,
}

impl Fakes {
    /// Fakes that transcribe the `n`th utterance after a second's quiet as `sentences[n]` (its
    /// text and its [`voiced`] length); the jitter is drawn from `seed`.
    pub fn new(latencies: Latencies, sentences: &[(String, Duration)], seed: u64) -> Arc<Self> {
        Arc::new(Self {
            latencies,
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
            sentences: sentences
                .iter()
                .map(|(s, length)| (s.split_whitespace().map(str::to_owned).collect(), *length))
                .collect(),
            log: Mutex::new(Vec::new()),
        })
    }

    fn draw(&self, base: Duration) -> Duration {
        let j = self.latencies.jitter;
        if j <= 0.0 {
            return base;
        }
        base.mul_f64(1.0 + self.rng.lock().random_range(-j..=j))
    }

    fn stamp(&self, stage: Stage) {
        self.log.lock().push((stage, SystemTime::now()));
    }

    /// Everything logged so far, in order.
    pub fn log(&self) -> Vec<(Stage, SystemTime)> {
        self.log.lock().clone()
    }
}

/// Whether a piece of little-endian 16-bit audio holds speech: a sample louder than −36 dBFS.
fn loud(piece: &[u8]) -> bool {
    piece
        .chunks_exact(2)
        .any(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs() > 500)
}

/// How much of `samples` is speech, as the fake STT hears it: its loud 10 ms pieces.
pub fn voiced(samples: &[i16], rate: audio::SampleRate) -> Duration {
    let bytes = audio::pcm_to_le_bytes(samples);
    let piece = rate.samples_in_ms(10) as usize * 2;
    Duration::from_millis(10) * bytes.chunks(piece).filter(|p| loud(p)).count() as u32
}

/// A server of [`router`] on a loopback port of its own; its address.
pub async fn serve(fakes: Arc<Fakes>, speech_secs: f64) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = router(fakes, speech_secs);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(address)
}

/// A bot that hears through `deepgram` and answers and speaks through `openai`: what
/// [`provider_env`] points at the fakes.
pub fn bot() -> contracts::runtime_config::BotSpec {
    use contracts::runtime_config::{BotSpec, ProviderSettings};
    BotSpec::new(
        "en-US",
        "You book appointments.",
        ProviderSettings::named("deepgram"),
        ProviderSettings::named("openai"),
        ProviderSettings::named("openai"),
    )
}

/// Where a pipeline's `deepgram` and `openai` providers reach the fakes at `address` (as the
/// platform's own endpoints, so its keys may go there).
pub fn provider_env(address: std::net::SocketAddr) -> providers::factory::ProviderEnv {
    providers::factory::ProviderEnv {
        keys: [
            ("openai".to_owned(), "bench".to_owned()),
            ("deepgram".to_owned(), "bench".to_owned()),
        ]
        .into(),
        base_urls: [
            ("openai".to_owned(), format!("http://{address}/v1")),
            ("deepgram".to_owned(), format!("ws://{address}")),
        ]
        .into(),
        http: Some(reqwest::Client::new()),
        ..Default::default()
    }
}

/// `/v1/listen`, `/v1/chat/completions` and `/v1/audio/speech` over `fakes`; each speech reply is
/// `speech_secs` of tone at 24 kHz.
pub fn router(fakes: Arc<Fakes>, speech_secs: f64) -> Router {
    let samples = (speech_secs * 24_000.0) as usize;
    Router::new()
        .route("/v1/listen", get(listen))
        .route("/v1/chat/completions", post(chat))
        .route(
            "/v1/audio/speech",
            post(move |state, _request: Bytes| speech(state, samples)),
        )
        .with_state(fakes)
}

async fn chat(State(fakes): State<Arc<Fakes>>, _request: Bytes) -> impl IntoResponse {
    fakes.stamp(Stage::LlmRequest);
    tokio::time::sleep(fakes.draw(fakes.latencies.llm)).await;
    fakes.stamp(Stage::LlmFirstToken);
    ([("content-type", "text/event-stream")], chat_stream())
}

async fn speech(State(fakes): State<Arc<Fakes>>, samples: usize) -> impl IntoResponse {
    fakes.stamp(Stage::TtsRequest);
    tokio::time::sleep(fakes.draw(fakes.latencies.tts)).await;
    fakes.stamp(Stage::TtsFirstAudio);
    (
        [("content-type", "application/octet-stream")],
        tone_pcm(samples),
    )
}

async fn listen(
    upgrade: WebSocketUpgrade,
    Query(query): Query<HashMap<String, String>>,
    State(fakes): State<Arc<Fakes>>,
) -> Response {
    let Some(rate) = query
        .get("sample_rate")
        .and_then(|r| r.parse::<usize>().ok())
    else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            "sample_rate is required",
        )
            .into_response();
    };
    let endpointing = match query.get("endpointing").map(String::as_str) {
        Some("false") => None,
        Some(ms) => Some(Duration::from_millis(ms.parse().unwrap_or(10))),
        None => Some(Duration::from_millis(10)),
    };
    let interims = query.get("interim_results").map(String::as_str) == Some("true");
    upgrade.on_upgrade(move |socket| {
        Listening {
            fakes,
            piece: rate / 100,
            endpointing,
            interims,
            turn: None,
            said: 0,
            voiced: Duration::ZERO,
            last_voiced: None,
            pending: false,
            due: None,
            finalize_at: None,
        }
        .run(socket)
    })
}

/// One live transcription connection.
struct Listening {
    fakes: Arc<Fakes>,
    /// Samples in 10 ms.
    piece: usize,
    endpointing: Option<Duration>,
    interims: bool,
    /// The sentence being spoken, and how many of its words went down in final results.
    turn: Option<usize>,
    said: usize,
    /// Speech heard in this turn.
    voiced: Duration,
    last_voiced: Option<Instant>,
    /// Speech came that no final result has covered yet.
    pending: bool,
    /// When the endpointed final result goes down.
    due: Option<Instant>,
    /// When the answer to `Finalize` goes down.
    finalize_at: Option<Instant>,
}

fn results(transcript: &str, is_final: bool, from_finalize: bool) -> Message {
    Message::Text(
        json!({
            "type": "Results", "channel_index": [0, 1], "duration": 0.3, "start": 0.0,
            "is_final": is_final, "speech_final": is_final && !from_finalize,
            "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.99, "words": []}]},
            "metadata": {"request_id": "fake", "model_info": {"name": "fake", "version": "1", "arch": "fake"}, "model_uuid": "fake"},
        })
        .to_string()
        .into(),
    )
}

impl Listening {
    fn words(&self) -> &[String] {
        self.turn
            .and_then(|t| self.fakes.sentences.get(t))
            .map_or(&[], |(words, _)| words.as_slice())
    }

    /// How many of this turn's words the speech so far has said.
    fn heard(&self) -> usize {
        let Some((words, length)) = self.turn.and_then(|t| self.fakes.sentences.get(t)) else {
            return 0;
        };
        if self.voiced + Duration::from_millis(50) >= *length {
            return words.len();
        }
        let share = self.voiced.as_secs_f64() / length.as_secs_f64().max(0.01);
        ((words.len() as f64 * share).floor() as usize).min(words.len())
    }

    /// The words of this turn heard and not given by a final result yet.
    fn rest(&mut self) -> String {
        let heard = self.heard().max(self.said);
        let words = self.words();
        let text = words[self.said.min(words.len())..heard.min(words.len())].join(" ");
        self.said = heard;
        self.pending = false;
        self.due = None;
        text
    }

    /// Reads 10 ms pieces of audio; returns an interim result to send, if one is due.
    fn hear(&mut self, audio: &[u8]) -> Option<Message> {
        let mut interim = None;
        for piece in audio.chunks(self.piece * 2) {
            let now = Instant::now();
            if loud(piece) {
                let new_turn = self
                    .last_voiced
                    .is_none_or(|at| now - at >= Duration::from_secs(1));
                if new_turn {
                    self.turn = Some(self.turn.map_or(0, |t| t + 1));
                    self.said = 0;
                    self.voiced = Duration::ZERO;
                }
                self.last_voiced = Some(now);
                self.pending = true;
                self.due = None;
                self.voiced += Duration::from_millis(10);
                if self.interims && self.voiced.as_millis().is_multiple_of(300) {
                    let so_far = self.heard();
                    if so_far > self.said {
                        interim = Some(results(&self.words()[..so_far].join(" "), false, false));
                    }
                }
            } else if self.pending
                && self.due.is_none()
                && let (Some(last), Some(endpointing)) = (self.last_voiced, self.endpointing)
            {
                self.due = Some(last + self.fakes.draw(self.fakes.latencies.stt).max(endpointing));
            }
        }
        interim
    }

    async fn run(mut self, mut socket: WebSocket) {
        let far = || Instant::now() + Duration::from_secs(3_600);
        loop {
            let due = self.due.unwrap_or_else(far);
            let finalize_at = self.finalize_at.unwrap_or_else(far);
            let reply = tokio::select! {
                message = socket.recv() => match message {
                    Some(Ok(Message::Binary(audio))) => self.hear(&audio),
                    Some(Ok(Message::Text(text))) => {
                        let kind = serde_json::from_str::<serde_json::Value>(&text)
                            .ok()
                            .and_then(|v| v["type"].as_str().map(str::to_owned));
                        match kind.as_deref() {
                            Some("Finalize") => {
                                // What was buffered is ready once its latency has passed.
                                let ready = match (self.pending, self.last_voiced) {
                                    (true, Some(last)) => last + self.fakes.draw(self.fakes.latencies.stt),
                                    _ => Instant::now(),
                                };
                                self.finalize_at = Some(ready.max(Instant::now()));
                                None
                            }
                            Some("CloseStream") => {
                                let metadata = json!({"type": "Metadata", "request_id": "fake", "duration": 0.0, "channels": 1});
                                let _ = socket.send(Message::Text(metadata.to_string().into())).await;
                                let _ = socket.send(Message::Close(None)).await;
                                return;
                            }
                            _ => None,
                        }
                    }
                    Some(Ok(_)) => None,
                    Some(Err(_)) | None => return,
                },
                _ = tokio::time::sleep_until(due), if self.due.is_some() => {
                    let text = self.rest();
                    if !text.is_empty() {
                        self.fakes.stamp(Stage::SttFinal);
                    }
                    Some(results(&text, true, false))
                }
                _ = tokio::time::sleep_until(finalize_at), if self.finalize_at.is_some() => {
                    self.finalize_at = None;
                    let text = self.rest();
                    if !text.is_empty() {
                        self.fakes.stamp(Stage::SttFinal);
                    }
                    Some(results(&text, true, true))
                }
            };
            if let Some(reply) = reply
                && socket.send(reply).await.is_err()
            {
                return;
            }
        }
    }
}
