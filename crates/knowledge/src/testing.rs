//! A test double for the embedding model (feature `test-util`).
//!
//! Each word hashed into one of 64 dimensions, normalised; enough for a search to find a passage
//! that shares words with the query, with no model files.

use crate::embed::{EmbedError, Embedder, normalize};
use crate::index::terms;

/// Words hashed into 64 dimensions (model name `words-64`).
#[derive(Debug, Default, Clone, Copy)]
pub struct WordsEmbedder;

#[async_trait::async_trait]
impl Embedder for WordsEmbedder {
    fn model(&self) -> &str {
        "words-64"
    }

    fn dimensions(&self) -> usize {
        64
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts
            .iter()
            .map(|text| {
                let mut vector = vec![0f32; 64];
                for word in terms(text) {
                    let slot = word
                        .bytes()
                        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
                    vector[slot % 64] += 1.0;
                }
                normalize(&mut vector);
                vector
            })
            .collect())
    }
}
