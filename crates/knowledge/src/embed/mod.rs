//! Embeddings: the `Embedder` interface and its two implementations.
//!
//! The local all-MiniLM-L6-v2 (`minilm`) and any OpenAI-compatible `/embeddings` endpoint
//! (`openai`).

pub mod minilm;
pub mod openai;

pub use minilm::MiniLm;
pub use openai::OpenAiEmbeddings;

/// Why texts could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model's files are missing or unreadable (a deployment problem, said once at start).
    #[error("the embedding model could not be loaded from {path}: {message}")]
    Model { path: String, message: String },
    /// The model failed on this input.
    #[error("the embedding model failed: {0}")]
    Inference(String),
    /// The endpoint refused the key.
    #[error("the embeddings endpoint refused the API key ({status})")]
    Auth { status: u16 },
    /// The endpoint could not be reached or answered an error.
    #[error("the embeddings endpoint failed: {0}")]
    Endpoint(String),
    /// The endpoint answered something that is not an embeddings reply.
    #[error("the embeddings endpoint answered garbage: {0}")]
    Protocol(String),
}

/// Turns texts into unit-length vectors of one fixed size, one per text, in order.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// The model's name, stored with each vector so a change of model re-indexes.
    fn model(&self) -> &str;
    /// The length of every vector.
    fn dimensions(&self) -> usize;
    /// One vector per text, normalised to length 1 (so cosine is a dot product).
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Scales `vector` to length 1 (a zero vector stays zero).
pub fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}
