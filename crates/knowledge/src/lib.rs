//! Knowledge bases a bot searches during a call.
//!
//! Text out of documents (`extract`), chunks with overlap (`chunk`), embeddings (`embed`:
//! all-MiniLM-L6-v2 run in Rust by candle from files on disk, or any OpenAI-compatible endpoint)
//! and hybrid search (`index`: exact cosine over the vectors fused with BM25 over the words).
//!
//! The crate holds no state of its own and does no storage: the Backend keeps documents and chunks
//! in the store and builds an [`index::Index`] over them.

pub mod chunk;
pub mod embed;
pub mod extract;
pub mod index;
#[cfg(feature = "test-util")]
pub mod testing;

pub use chunk::{Chunk, ChunkParams, chunk};
pub use embed::{EmbedError, Embedder};
pub use extract::{ExtractError, Format, extract};
pub use index::{Hit, Index, SearchParams};
