//! The knowledge crate's suite.
//!
//! The Rust MiniLM against the reference vectors, the OpenAI-compatible client against a local
//! endpoint, text extraction from each format, chunking and hybrid search.

mod chunking;
mod embeddings;
mod extraction;
mod search;
