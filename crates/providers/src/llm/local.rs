//! The local LLM: a GGUF model run in-process by llama.cpp (llama-cpp-2), no key and no network.
//!
//! The model is loaded once per process from a file on disk (nothing is ever downloaded) and
//! shared by every call; each reply gets its own context on a blocking thread, formatted with the
//! chat template the model carries, decoded greedily, and streamed token by token. A reply whose
//! stream is dropped (barge-in) stops generating at the next token. Small local models cannot be
//! trusted with tools, so none are offered; tool results in the context are passed as text.

use async_trait::async_trait;
use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use pipeline::{LanguageModel, LlmEvent, LlmRequest, Message, ProviderError};
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;

/// llama.cpp's backend may be initialised once per process.
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

fn backend() -> Result<&'static LlamaBackend, ProviderError> {
    BACKEND
        .get_or_init(|| {
            let mut backend = LlamaBackend::init().map_err(|e| e.to_string())?;
            backend.void_logs();
            Ok(backend)
        })
        .as_ref()
        .map_err(|e| error(format!("llama.cpp backend: {e}")))
}

fn error(message: impl Into<String>) -> ProviderError {
    ProviderError::Other {
        provider: "llama".to_owned(),
        message: message.into(),
    }
}

/// A loaded GGUF model; cloning shares it.
#[derive(Clone)]
pub struct LocalLlm {
    model: Arc<LlamaModel>,
    /// Longest reply, in tokens.
    pub max_tokens: usize,
    /// Context window for one reply (prompt and answer).
    pub context_tokens: u32,
    pub threads: i32,
}

impl std::fmt::Debug for LocalLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLlm")
            .field("max_tokens", &self.max_tokens)
            .field("context_tokens", &self.context_tokens)
            .finish_non_exhaustive()
    }
}

impl LocalLlm {
    /// Loads the model at `path` (a GGUF file).
    pub fn load(path: &Path) -> Result<Self, ProviderError> {
        if !path.is_file() {
            return Err(error(format!(
                "model file {} does not exist",
                path.display()
            )));
        }
        let model = LlamaModel::load_from_file(backend()?, path, &LlamaModelParams::default())
            .map_err(|e| error(format!("cannot load {}: {e}", path.display())))?;
        Ok(Self {
            model: Arc::new(model),
            max_tokens: 96,
            context_tokens: 2_048,
            threads: 2,
        })
    }

    /// The prompt for `request`, in the model's own chat format.
    pub fn prompt(&self, request: &LlmRequest) -> Result<String, ProviderError> {
        let mut chat = vec![("system", request.system.clone())];
        for message in &request.messages {
            chat.push(match message {
                Message::User(text) => ("user", text.clone()),
                Message::Assistant { text, .. } => ("assistant", text.clone()),
                Message::ToolResult { name, content, .. } => {
                    ("user", format!("(tool {name} returned: {content})"))
                }
            });
        }
        let messages = chat
            .into_iter()
            .filter(|(_, text)| !text.is_empty())
            .map(|(role, text)| LlamaChatMessage::new(role.to_owned(), text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| error(e.to_string()))?;
        let template = self
            .model
            .chat_template(None)
            .map_err(|e| error(format!("chat template: {e}")))?;
        self.model
            .apply_chat_template(&template, &messages, true)
            .map_err(|e| error(format!("chat template: {e}")))
    }

    /// Generates greedily on the current thread, sending text pieces until the model ends its
    /// turn, `max_tokens` are out, or the receiver is gone.
    fn generate(
        &self,
        prompt: &str,
        out: &mpsc::UnboundedSender<Result<LlmEvent, ProviderError>>,
    ) -> Result<(), ProviderError> {
        let backend = backend()?;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(self.context_tokens))
            .with_n_batch(self.context_tokens)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let mut context = self
            .model
            .new_context(backend, params)
            .map_err(|e| error(format!("context: {e}")))?;
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(prompt.as_bytes(), false, true);
        if tokens.len() + self.max_tokens >= self.context_tokens as usize {
            return Err(error(format!(
                "the conversation ({} tokens) does not fit the context",
                tokens.len()
            )));
        }
        let mut batch = LlamaBatch::new(self.context_tokens as usize, 1);
        let last = tokens.len() as i32 - 1;
        for (i, token) in (0i32..).zip(tokens.iter().copied()) {
            batch
                .add(token, i, &[0], i == last)
                .map_err(|e| error(e.to_string()))?;
        }
        context
            .decode(&mut batch)
            .map_err(|e| error(format!("decode: {e}")))?;
        let mut sampler = LlamaSampler::chain_simple([LlamaSampler::greedy()]);
        let mut pending: Vec<u8> = Vec::new();
        let first_position = tokens.len() as i32;
        for position in (first_position..).take(self.max_tokens) {
            let token = sampler.sample(&context, batch.n_tokens() - 1);
            sampler.accept(token);
            if vocab.is_eog(token) || out.is_closed() {
                break;
            }
            pending.extend(vocab.token_to_piece(token, false, None));
            // Send the longest complete UTF-8 prefix; a character split across tokens waits.
            let valid = match std::str::from_utf8(&pending) {
                Ok(text) => text.len(),
                Err(e) => e.valid_up_to(),
            };
            if valid > 0 {
                let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
                pending.drain(..valid);
                let _ = out.send(Ok(LlmEvent::Text(text)));
            }
            batch.clear();
            batch
                .add(token, position, &[0], true)
                .map_err(|e| error(e.to_string()))?;
            context
                .decode(&mut batch)
                .map_err(|e| error(format!("decode: {e}")))?;
        }
        Ok(())
    }
}

#[async_trait]
impl LanguageModel for LocalLlm {
    fn name(&self) -> &str {
        "llama"
    }

    async fn stream(
        &self,
        request: &LlmRequest,
    ) -> Result<BoxStream<'static, Result<LlmEvent, ProviderError>>, ProviderError> {
        let prompt = self.prompt(request)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = this.generate(&prompt, &tx) {
                let _ = tx.send(Err(e));
            }
        });
        Ok(stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed())
    }
}
