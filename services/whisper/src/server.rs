//! The HTTP face of the sidecar.
//!
//! OpenAI's transcription route over the local engine, and its health.
//!
//! `POST /v1/audio/transcriptions` follows
//! <https://platform.openai.com/docs/api-reference/audio/createTranscription>: `multipart/form-data`
//! with `file` (here a 16-bit PCM WAV, mono or stereo, at 8, 16, 22.05, 24 or 48 kHz), `model`,
//! optional `language` (ISO 639-1), `prompt`, `temperature` and `response_format` (`json`, `text` or
//! `verbose_json`). Errors use OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`,
//! with 400 naming the field. Transcriptions beyond `parallel` wait their turn; `GET /health`
//! says how many run and wait.

use crate::engine::{Engine, Transcript};
use audio::{Resampler, SampleRate, wav};
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// OpenAI's upload limit.
const MAX_UPLOAD_BYTES: usize = 25 * 1024 * 1024;

/// Shared by the handlers.
#[derive(Debug)]
pub struct Sidecar {
    engine: Engine,
    /// The model's name, as `GET /health` and `verbose_json` report it.
    pub model_name: String,
    permits: Semaphore,
    parallel: usize,
    waiting: AtomicUsize,
}

impl Sidecar {
    pub fn new(engine: Engine, model_name: String, parallel: usize) -> Arc<Self> {
        let parallel = parallel.max(1);
        Arc::new(Self {
            engine,
            model_name,
            permits: Semaphore::new(parallel),
            parallel,
            waiting: AtomicUsize::new(0),
        })
    }
}

/// The sidecar's routes.
pub fn router(sidecar: Arc<Sidecar>) -> Router {
    Router::new()
        .route("/v1/audio/transcriptions", post(transcribe))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .with_state(sidecar)
}

/// A refused request in OpenAI's error shape.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    param: Option<&'static str>,
}

impl ApiError {
    fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            param: Some(param),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = if self.status.is_client_error() {
            "invalid_request_error"
        } else {
            "server_error"
        };
        let body = json!({"error": {
            "message": self.message,
            "type": kind,
            "param": self.param,
            "code": null,
        }});
        (self.status, Json(body)).into_response()
    }
}

async fn health(State(sidecar): State<Arc<Sidecar>>) -> Json<Value> {
    let running = sidecar.parallel - sidecar.permits.available_permits();
    Json(json!({
        "status": "ok",
        "model": sidecar.model_name,
        "multilingual": sidecar.engine.multilingual(),
        "parallel": sidecar.parallel,
        "running": running,
        "waiting": sidecar.waiting.load(Ordering::Relaxed),
        "threads": sidecar.engine.threads,
    }))
}

#[derive(Debug, Default)]
struct Request {
    file: Option<Vec<u8>>,
    language: Option<String>,
    prompt: Option<String>,
    format: Option<String>,
}

async fn read_form(mut form: Multipart) -> Result<Request, ApiError> {
    let mut req = Request::default();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::invalid("file", format!("malformed multipart body: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bad = |e: axum::extract::multipart::MultipartError| {
            ApiError::invalid("file", format!("reading field {name:?}: {e}"))
        };
        match name.as_str() {
            "file" => req.file = Some(field.bytes().await.map_err(bad)?.to_vec()),
            "language" => req.language = Some(field.text().await.map_err(bad)?),
            "prompt" => req.prompt = Some(field.text().await.map_err(bad)?),
            "response_format" => req.format = Some(field.text().await.map_err(bad)?),
            // `model`, `temperature` and the rest are accepted and ignored: there is one model.
            _ => {
                field.bytes().await.map_err(bad)?;
            }
        }
    }
    Ok(req)
}

/// Decodes the upload to 16 kHz mono floats.
fn to_whisper_audio(file: &[u8]) -> Result<Vec<f32>, ApiError> {
    let decoded = wav::decode(file)
        .map_err(|e| ApiError::invalid("file", format!("not a 16-bit PCM WAV file: {e}")))?;
    let rate = SampleRate::from_hz(decoded.sample_rate_hz).map_err(|_| {
        ApiError::invalid(
            "file",
            format!(
                "sample rate {} Hz is not supported (8000, 16000, 22050, 24000 or 48000)",
                decoded.sample_rate_hz
            ),
        )
    })?;
    if decoded.channels == 0 || decoded.channels > 2 {
        return Err(ApiError::invalid(
            "file",
            format!("{} channels (mono or stereo expected)", decoded.channels),
        ));
    }
    let mono: Vec<i16> = if decoded.channels == 2 {
        decoded
            .samples
            .chunks_exact(2)
            .map(|lr| ((i32::from(lr[0]) + i32::from(lr[1])) / 2) as i16)
            .collect()
    } else {
        decoded.samples
    };
    if mono.is_empty() {
        return Err(ApiError::invalid("file", "the audio is empty"));
    }
    let pcm = if rate == SampleRate::Hz16000 {
        mono
    } else {
        let mut resampler = Resampler::new(rate, SampleRate::Hz16000)
            .map_err(|e| ApiError::invalid("file", e.to_string()))?;
        let mut out = resampler.process(&mono);
        out.extend(resampler.flush());
        out
    };
    Ok(pcm.iter().map(|s| f32::from(*s) / 32768.0).collect())
}

async fn transcribe(
    State(sidecar): State<Arc<Sidecar>>,
    form: Multipart,
) -> Result<Response, ApiError> {
    let req = read_form(form).await?;
    let file = req
        .file
        .ok_or_else(|| ApiError::invalid("file", "the field \"file\" is required"))?;
    let format = req.format.unwrap_or_else(|| "json".to_owned());
    if !matches!(format.as_str(), "json" | "text" | "verbose_json") {
        return Err(ApiError::invalid(
            "response_format",
            format!("response_format {format:?} is not supported (json, text or verbose_json)"),
        ));
    }
    let language = match req.language.filter(|l| !l.is_empty()) {
        Some(lang) if whisper_rs::get_lang_id(&lang).is_none() => {
            return Err(ApiError::invalid(
                "language",
                format!("{lang:?} is not an ISO 639-1 language whisper knows"),
            ));
        }
        Some(lang) if lang != "en" && !sidecar.engine.multilingual() => {
            return Err(ApiError::invalid(
                "language",
                format!("the loaded model is English-only and cannot transcribe {lang:?}"),
            ));
        }
        other => other,
    };
    if req.prompt.as_deref().is_some_and(|p| p.contains('\0')) {
        return Err(ApiError::invalid(
            "prompt",
            "the prompt contains a NUL byte",
        ));
    }
    let samples = to_whisper_audio(&file)?;
    let duration_s = samples.len() as f64 / 16_000.0;

    sidecar.waiting.fetch_add(1, Ordering::Relaxed);
    let permit = sidecar.permits.acquire().await;
    sidecar.waiting.fetch_sub(1, Ordering::Relaxed);
    let _permit = permit.map_err(|_| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "the sidecar is shutting down".into(),
        param: None,
    })?;
    let engine = sidecar.engine.clone();
    let prompt = req.prompt;
    let started = std::time::Instant::now();
    let transcript: Transcript = tokio::task::spawn_blocking(move || {
        engine.transcribe(&samples, language.as_deref(), prompt.as_deref())
    })
    .await
    .map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("the transcription task failed: {e}"),
        param: None,
    })?
    .map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: e.to_string(),
        param: None,
    })?;
    tracing::debug!(
        audio_s = duration_s,
        took_ms = started.elapsed().as_millis() as u64,
        "transcribed"
    );
    Ok(match format.as_str() {
        "text" => transcript.text.into_response(),
        "verbose_json" => Json(json!({
            "task": "transcribe",
            "language": transcript.language,
            "duration": duration_s,
            "text": transcript.text,
            "segments": transcript.segments.iter().enumerate().map(|(id, s)| json!({
                "id": id,
                "start": s.start_ms as f64 / 1000.0,
                "end": s.end_ms as f64 / 1000.0,
                "text": s.text,
                "no_speech_prob": s.no_speech_prob,
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
        _ => Json(json!({"text": transcript.text})).into_response(),
    })
}
