//! Chat LLMs: OpenAI-compatible chat completions (OpenAI, Groq, vLLM, llama.cpp server, Ollama) and Anthropic Messages.

pub mod anthropic;
pub mod openai;

pub use anthropic::AnthropicLlm;
pub use openai::OpenAiLlm;
