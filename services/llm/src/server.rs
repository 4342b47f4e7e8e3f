//! The HTTP face of the sidecar.
//!
//! OpenAI's chat completions route over the local model (streamed or whole), and its health.
//!
//! `POST /v1/chat/completions` follows <https://platform.openai.com/docs/api-reference/chat/create>
//! and, with `"stream": true`, its streaming form
//! (<https://platform.openai.com/docs/api-reference/chat-streaming>): Server-Sent Events, each
//! `data:` a `chat.completion.chunk` — the role first, then `delta.content` pieces, then the
//! `finish_reason` (`stop` or `length`), then the usage when `stream_options.include_usage` asks
//! — ending with `data: [DONE]`. A failure after the stream began is a `data: {"error": …}` event.
//! Errors before it use OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, 400
//! naming the field. Replies beyond `parallel` wait their turn; `GET /health` says how many run and
//! wait. A client that goes away stops its reply at the next token.
//!
//! `POST /v1/end-of-turn` is vox's own: `{"text"}` (a caller's words so far) answers
//! `{"probability"}`, how likely the words end the caller's turn ([`Engine::end_of_turn`]). Checks
//! take their own permits, so a long reply never holds a caller's turn up.

use crate::engine::{Engine, Finish};
use crate::request::{ChatRequest, Invalid};
use crate::stop::StopScanner;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// Shared by the handlers.
#[derive(Debug)]
pub struct Server {
    engine: Engine,
    /// The model's name, as responses and `GET /health` report it.
    pub model_name: String,
    /// Longest reply when a request names no `max_tokens`.
    pub default_max_tokens: usize,
    permits: Arc<Semaphore>,
    /// End-of-turn checks at once (`parallel` of them, beside the replies).
    checks: Arc<Semaphore>,
    parallel: usize,
    waiting: AtomicUsize,
    replies: AtomicU64,
    /// Tokens generated since start, over every reply.
    tokens: Arc<AtomicU64>,
}

impl Server {
    pub fn new(
        engine: Engine,
        model_name: String,
        default_max_tokens: usize,
        parallel: usize,
    ) -> Arc<Self> {
        let parallel = parallel.max(1);
        Arc::new(Self {
            engine,
            model_name,
            default_max_tokens: default_max_tokens.max(1),
            permits: Arc::new(Semaphore::new(parallel)),
            checks: Arc::new(Semaphore::new(parallel)),
            parallel,
            waiting: AtomicUsize::new(0),
            replies: AtomicU64::new(0),
            tokens: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Replies generating now.
    pub fn running(&self) -> usize {
        self.parallel - self.permits.available_permits()
    }
}

/// The sidecar's routes.
pub fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(complete))
        .route("/v1/end-of-turn", post(end_of_turn))
        .route("/health", get(health))
        .with_state(server)
}

/// A refused request in OpenAI's error shape.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    param: Option<String>,
}

impl ApiError {
    fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            param: Some(param.to_owned()),
        }
    }

    fn server(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            param: None,
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        Self::invalid(&invalid.param, format!("{invalid}"))
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

async fn health(State(server): State<Arc<Server>>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "model": server.model_name,
        "context_tokens": server.engine.context_tokens,
        "max_tokens": server.default_max_tokens,
        "threads": server.engine.threads,
        "parallel": server.parallel,
        "running": server.running(),
        "waiting": server.waiting.load(Ordering::Relaxed),
        "tokens_generated": server.tokens.load(Ordering::Relaxed),
    }))
}

/// Longest text an end-of-turn check reads, in characters.
pub const MAX_CHECK_CHARS: usize = 2_000;

async fn end_of_turn(
    State(server): State<Arc<Server>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid("body", format!("not a JSON document: {e}")))?;
    let text = match value.get("text") {
        Some(Value::String(text)) if text.trim().is_empty() => {
            return Err(ApiError::invalid("text", "must not be empty"));
        }
        Some(Value::String(text)) if text.chars().count() > MAX_CHECK_CHARS => {
            return Err(ApiError::invalid(
                "text",
                format!("must be at most {MAX_CHECK_CHARS} characters"),
            ));
        }
        Some(Value::String(text)) => text.trim().to_owned(),
        _ => return Err(ApiError::invalid("text", "must be a string")),
    };
    let _permit = server
        .checks
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::server("the sidecar is shutting down"))?;
    let engine = server.engine.clone();
    let probability = tokio::task::spawn_blocking(move || engine.end_of_turn(&text))
        .await
        .map_err(|e| ApiError::server(format!("the check's task failed: {e}")))?
        .map_err(|e| ApiError::server(e.to_string()))?;
    Ok(Json(json!({ "probability": probability })))
}

/// What the generating thread reports.
#[derive(Debug)]
enum Progress {
    Text(String),
    Done { finish: Finish, tokens: usize },
    Failed(String),
}

/// One reply's identity, shared by its chunks.
#[derive(Debug, Clone)]
struct Reply {
    id: String,
    created: u64,
    model: String,
    prompt_tokens: usize,
}

impl Reply {
    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    }

    fn usage(&self, completion_tokens: usize) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        })
    }
}

fn finish_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "stop",
        Finish::Length => "length",
    }
}

async fn complete(State(server): State<Arc<Server>>, body: Bytes) -> Result<Response, ApiError> {
    let request = ChatRequest::parse(&body)?;
    let engine = server.engine.clone();
    let turns = request.turns.clone();
    let prompt = tokio::task::spawn_blocking(move || {
        engine.prompt(&turns).map(|prompt| engine.tokenize(&prompt))
    })
    .await
    .map_err(|e| ApiError::server(format!("the prompt task failed: {e}")))?
    .map_err(|e| ApiError::server(e.to_string()))?;
    let context = server.engine.context_tokens as usize;
    if prompt.len() >= context {
        return Err(ApiError::invalid(
            "messages",
            format!(
                "the conversation is {} tokens; the model's context holds {context}",
                prompt.len()
            ),
        ));
    }
    let max_tokens = match request.max_tokens {
        Some(max) if prompt.len() + max > context => {
            return Err(ApiError::invalid(
                "max_tokens",
                format!(
                    "{} prompt tokens and {max} to generate exceed the context of {context}",
                    prompt.len()
                ),
            ));
        }
        Some(max) => max,
        None => server.default_max_tokens.min(context - prompt.len()),
    };
    let reply = Reply {
        id: format!(
            "chatcmpl-{:x}-{}",
            std::process::id(),
            server.replies.fetch_add(1, Ordering::Relaxed)
        ),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        model: server.model_name.clone(),
        prompt_tokens: prompt.len(),
    };
    server.waiting.fetch_add(1, Ordering::Relaxed);
    let permit = server.permits.clone().acquire_owned().await;
    server.waiting.fetch_sub(1, Ordering::Relaxed);
    let permit = permit.map_err(|_| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "the sidecar is shutting down".into(),
        param: None,
    })?;
    let progress = generate(&server, permit, prompt, max_tokens, &request);
    if request.stream {
        Ok(Sse::new(sse(reply, request.include_usage, progress)).into_response())
    } else {
        whole(reply, progress).await
    }
}

/// Starts the reply on a blocking thread; its progress arrives on the receiver. The permit is
/// held until generation ends.
fn generate(
    server: &Server,
    permit: OwnedSemaphorePermit,
    prompt: Vec<llama_cpp_2::token::LlamaToken>,
    max_tokens: usize,
    request: &ChatRequest,
) -> mpsc::UnboundedReceiver<Progress> {
    let (tx, rx) = mpsc::unbounded_channel();
    let engine = server.engine.clone();
    let counter = server.tokens.clone();
    let mut scanner = StopScanner::new(request.stop.clone());
    let sampling = request.sampling;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut stopped = false;
        let generated = engine.generate(&prompt, max_tokens, sampling, |piece| {
            counter.fetch_add(1, Ordering::Relaxed);
            let scan = scanner.push(piece);
            if !scan.text.is_empty() && tx.send(Progress::Text(scan.text)).is_err() {
                return false;
            }
            stopped = scan.stopped;
            !stopped && !tx.is_closed()
        });
        let _ = tx.send(match generated {
            Ok(generated) => {
                let rest = scanner.finish();
                if !stopped && !rest.is_empty() {
                    let _ = tx.send(Progress::Text(rest));
                }
                Progress::Done {
                    finish: if stopped {
                        Finish::Stop
                    } else {
                        generated.finish
                    },
                    tokens: generated.tokens,
                }
            }
            Err(error) => Progress::Failed(error.to_string()),
        });
    });
    rx
}

/// A whole `chat.completion` once generation ends.
async fn whole(
    reply: Reply,
    mut progress: mpsc::UnboundedReceiver<Progress>,
) -> Result<Response, ApiError> {
    let mut text = String::new();
    loop {
        match progress.recv().await {
            Some(Progress::Text(piece)) => text.push_str(&piece),
            Some(Progress::Done { finish, tokens }) => {
                return Ok(Json(json!({
                    "id": reply.id, "object": "chat.completion", "created": reply.created,
                    "model": reply.model,
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": finish_reason(finish),
                    }],
                    "usage": reply.usage(tokens),
                }))
                .into_response());
            }
            Some(Progress::Failed(message)) => return Err(ApiError::server(message)),
            None => return Err(ApiError::server("the generating thread ended early")),
        }
    }
}

/// Where the event stream stands.
#[derive(Debug)]
enum Streaming {
    Role,
    Pieces,
    Usage(usize),
    Done,
    Ended,
}

/// The reply as Server-Sent Events.
fn sse(
    reply: Reply,
    include_usage: bool,
    progress: mpsc::UnboundedReceiver<Progress>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let data = |value: Value| SseEvent::default().data(value.to_string());
    stream::unfold((Streaming::Role, progress), move |(state, mut progress)| {
        let reply = reply.clone();
        async move {
            let (event, next) = match state {
                Streaming::Role => (
                    data(reply.chunk(json!({"role": "assistant", "content": ""}), None)),
                    Streaming::Pieces,
                ),
                Streaming::Pieces => match progress.recv().await {
                    Some(Progress::Text(piece)) => (
                        data(reply.chunk(json!({"content": piece}), None)),
                        Streaming::Pieces,
                    ),
                    Some(Progress::Done { finish, tokens }) => (
                        data(reply.chunk(json!({}), Some(finish_reason(finish)))),
                        if include_usage {
                            Streaming::Usage(tokens)
                        } else {
                            Streaming::Done
                        },
                    ),
                    Some(Progress::Failed(message)) => (
                        data(json!({"error": {"message": message, "type": "server_error",
                                "param": null, "code": null}})),
                        Streaming::Ended,
                    ),
                    None => (
                        data(
                            json!({"error": {"message": "the generating thread ended early",
                                "type": "server_error", "param": null, "code": null}}),
                        ),
                        Streaming::Ended,
                    ),
                },
                Streaming::Usage(tokens) => (
                    data(json!({
                        "id": reply.id, "object": "chat.completion.chunk",
                        "created": reply.created, "model": reply.model,
                        "choices": [], "usage": reply.usage(tokens),
                    })),
                    Streaming::Done,
                ),
                Streaming::Done => (SseEvent::default().data("[DONE]"), Streaming::Ended),
                Streaming::Ended => return None,
            };
            Some((Ok(event), (next, progress)))
        }
    })
    .boxed()
}
