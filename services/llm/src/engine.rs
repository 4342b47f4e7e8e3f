//! The model: a GGUF file loaded once by llama.cpp, generating token by token.
//!
//! Prompts are rendered in the model's own chat template.
//!
//! Each reply gets its own llama.cpp context on the calling (blocking) thread, so replies run side
//! by side over one copy of the weights. Generation stops when the model ends its turn, when the
//! token budget is spent, or when the caller's `on_text` says stop (a stop sequence, or a client
//! that went away).
//!
//! The same model also reads a caller's words for whether they end a turn ([`Engine::end_of_turn`]):
//! LiveKit's turn detector asks a small chat model how likely the user's message ends right there
//! (<https://docs.livekit.io/agents/build/turns/turn-detector/>); this asks SmolLM2 the same
//! question zero-shot, one forward pass over the prompt.

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// llama.cpp's backend may be initialised once per process.
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

fn backend() -> Result<&'static LlamaBackend, EngineError> {
    BACKEND
        .get_or_init(|| {
            let mut backend = LlamaBackend::init().map_err(|e| e.to_string())?;
            backend.void_logs();
            Ok(backend)
        })
        .as_ref()
        .map_err(|e| EngineError::Backend(e.clone()))
}

/// What went wrong in the model.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("llama.cpp backend: {0}")]
    Backend(String),
    #[error("the model file {path} cannot be read: {message}")]
    Unreadable { path: String, message: String },
    #[error("the model's chat template: {0}")]
    Template(String),
    #[error("decoding: {0}")]
    Decode(String),
}

/// Who said a message, as the chat template knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of the conversation, already reduced to text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// The most likely token, always (the same reply for the same conversation).
    Greedy,
    /// Drawn from the distribution sharpened or flattened by `temperature`.
    Temperature { temperature: f32, seed: u32 },
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model ended its turn, or `on_text` asked to stop.
    Stop,
    /// The token budget was spent.
    Length,
}

/// A finished generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    pub finish: Finish,
    pub tokens: usize,
}

/// A loaded GGUF model; cloning shares it.
#[derive(Clone)]
pub struct Engine {
    model: Arc<LlamaModel>,
    /// Context window for one reply (prompt and answer), in tokens.
    pub context_tokens: u32,
    /// CPU threads per reply.
    pub threads: i32,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("context_tokens", &self.context_tokens)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads the GGUF file at `path`; a missing, unreadable or non-GGUF file is `Unreadable`.
    pub fn load(path: &Path, context_tokens: u32, threads: i32) -> Result<Self, EngineError> {
        let unreadable = |message: String| EngineError::Unreadable {
            path: path.display().to_string(),
            message,
        };
        std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
        if !path.is_file() {
            return Err(unreadable("not a file".into()));
        }
        let model = LlamaModel::load_from_file(backend()?, path, &LlamaModelParams::default())
            .map_err(|e| unreadable(format!("not a GGUF model llama.cpp can load ({e})")))?;
        Ok(Self {
            model: Arc::new(model),
            context_tokens: context_tokens.max(64),
            threads: threads.max(1),
        })
    }

    /// The prompt for `turns`, in the model's own chat format, ready for the assistant's reply.
    pub fn prompt(&self, turns: &[Turn]) -> Result<String, EngineError> {
        let messages = turns
            .iter()
            .filter(|turn| !turn.text.is_empty())
            .map(|turn| LlamaChatMessage::new(turn.role.as_str().to_owned(), turn.text.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EngineError::Template(e.to_string()))?;
        let template = self
            .model
            .chat_template(None)
            .map_err(|e| EngineError::Template(e.to_string()))?;
        self.model
            .apply_chat_template(&template, &messages, true)
            .map_err(|e| EngineError::Template(e.to_string()))
    }

    /// `prompt` as the model's tokens.
    pub fn tokenize(&self, prompt: &str) -> Vec<LlamaToken> {
        self.model.vocab().tokenize(prompt.as_bytes(), false, true)
    }

    /// How likely the user's message `text` ends where it stops, on the current thread: the
    /// chance that the model's next token after it is the end of the message or a full stop,
    /// question or exclamation mark. One forward pass over the chat prompt (an empty system
    /// message, then `text` as the user's).
    pub fn end_of_turn(&self, text: &str) -> Result<f32, EngineError> {
        let decode = |e: &dyn std::fmt::Display| EngineError::Decode(e.to_string());
        let template = self
            .model
            .chat_template(None)
            .map_err(|e| EngineError::Template(e.to_string()))?;
        // An empty system prompt: the template's default persona read the words worse on the
        // development set (docs/benchmarks.md, turn accuracy).
        let messages = [("system", ""), ("user", text)]
            .into_iter()
            .map(|(role, text)| LlamaChatMessage::new(role.to_owned(), text.to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EngineError::Template(e.to_string()))?;
        let whole = self
            .model
            .apply_chat_template(&template, &messages, false)
            .map_err(|e| EngineError::Template(e.to_string()))?;
        // The prompt stops where the user's words do; what the template puts after them starts
        // with the token that ends a message.
        let cut = whole
            .rfind(text)
            .map(|at| at + text.len())
            .ok_or_else(|| EngineError::Template("the template dropped the message".into()))?;
        let (prompt, after) = whole.split_at(cut);
        let prompt = self.tokenize(prompt);
        let mut ends: Vec<LlamaToken> = self.tokenize(after).into_iter().take(1).collect();
        for mark in [".", "?", "!"] {
            ends.extend(self.model.vocab().tokenize(mark.as_bytes(), false, false));
        }
        let tokens = prompt.len() as u32 + 1;
        if tokens > self.context_tokens {
            return Err(EngineError::Decode(format!(
                "{tokens} prompt tokens do not fit {} tokens",
                self.context_tokens
            )));
        }
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(tokens))
            .with_n_batch(tokens)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let mut context = self
            .model
            .new_context(backend()?, params)
            .map_err(|e| decode(&e))?;
        let mut batch = LlamaBatch::new(prompt.len(), 1);
        let last = prompt.len() as i32 - 1;
        for (i, token) in (0i32..).zip(prompt.iter().copied()) {
            batch
                .add(token, i, &[0], i == last)
                .map_err(|e| decode(&e))?;
        }
        context.decode(&mut batch).map_err(|e| decode(&e))?;
        let logits = context.get_logits_ith(last);
        let top = logits.iter().copied().fold(f32::MIN, f32::max);
        let total: f32 = logits.iter().map(|l| (l - top).exp()).sum();
        ends.sort();
        ends.dedup();
        Ok(ends
            .iter()
            .filter_map(|t| logits.get(t.0 as usize))
            .map(|l| (l - top).exp() / total)
            .sum())
    }

    /// Generates after `prompt` on the current thread, at most `max_tokens`, calling `on_text` once
    /// per token with the text it completes (empty while a character is split across tokens);
    /// `on_text` returns `false` to stop.
    pub fn generate(
        &self,
        prompt: &[LlamaToken],
        max_tokens: usize,
        sampling: Sampling,
        mut on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generated, EngineError> {
        if prompt.is_empty() || prompt.len() + max_tokens > self.context_tokens as usize {
            return Err(EngineError::Decode(format!(
                "{} prompt tokens and {max_tokens} to generate do not fit {} tokens",
                prompt.len(),
                self.context_tokens
            )));
        }
        let backend = backend()?;
        let decode = |e: &dyn std::fmt::Display| EngineError::Decode(e.to_string());
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(self.context_tokens))
            .with_n_batch(self.context_tokens)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let mut context = self
            .model
            .new_context(backend, params)
            .map_err(|e| decode(&e))?;
        let vocab = self.model.vocab();
        let mut batch = LlamaBatch::new(self.context_tokens as usize, 1);
        let last = prompt.len() as i32 - 1;
        for (i, token) in (0i32..).zip(prompt.iter().copied()) {
            batch
                .add(token, i, &[0], i == last)
                .map_err(|e| decode(&e))?;
        }
        context.decode(&mut batch).map_err(|e| decode(&e))?;
        let mut sampler = match sampling {
            Sampling::Greedy => LlamaSampler::chain_simple([LlamaSampler::greedy()]),
            Sampling::Temperature { temperature, seed } => LlamaSampler::chain_simple([
                LlamaSampler::temp(temperature),
                LlamaSampler::dist(seed),
            ]),
        };
        let mut pending: Vec<u8> = Vec::new();
        let mut generated = 0;
        for position in (prompt.len() as i32..).take(max_tokens) {
            let token = sampler.sample(&context, batch.n_tokens() - 1);
            sampler.accept(token);
            if vocab.is_eog(token) {
                return Ok(Generated {
                    finish: Finish::Stop,
                    tokens: generated,
                });
            }
            generated += 1;
            pending.extend(vocab.token_to_piece(token, false, None));
            // Hand over the longest complete UTF-8 prefix; a character split across tokens waits.
            let valid = match std::str::from_utf8(&pending) {
                Ok(text) => text.len(),
                Err(e) => e.valid_up_to(),
            };
            let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
            pending.drain(..valid);
            if !on_text(&text) {
                return Ok(Generated {
                    finish: Finish::Stop,
                    tokens: generated,
                });
            }
            batch.clear();
            batch
                .add(token, position, &[0], true)
                .map_err(|e| decode(&e))?;
            context.decode(&mut batch).map_err(|e| decode(&e))?;
        }
        Ok(Generated {
            finish: Finish::Length,
            tokens: generated,
        })
    }
}
