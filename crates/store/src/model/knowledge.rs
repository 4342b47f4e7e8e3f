//! Knowledge bases, their documents (with indexing status) and chunks (with one embedding each).

use chrono::{DateTime, Utc};

/// A named set of documents a bot can search.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeBase {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// Bumped whenever its searchable chunks change, so a cached index knows it is stale.
    pub version: i64,
    pub documents: i64,
    pub chunks: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a document is in indexing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentStatus {
    /// Waiting for the indexer.
    Pending,
    /// Being chunked and embedded (`chunks_done` of `chunks_total`).
    Indexing,
    /// Searchable.
    Indexed,
    /// Unreadable or unembeddable; `error` says why. The base's other documents are unaffected.
    Failed,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Indexing => "indexing",
            Self::Indexed => "indexed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "indexing" => Self::Indexing,
            "indexed" => Self::Indexed,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// One uploaded document.
#[derive(Debug, Clone, PartialEq)]
pub struct KbDocument {
    pub id: i64,
    pub knowledge_base_id: i64,
    pub name: String,
    /// `pdf`, `docx`, `html`, `markdown` or `text`.
    pub format: String,
    pub size_bytes: i64,
    /// Of the uploaded bytes, hex.
    pub sha256: String,
    pub status: DocumentStatus,
    pub error: Option<String>,
    pub chunks_total: i64,
    pub chunks_done: i64,
    /// The embedding model of its chunks, once indexed.
    pub model: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A document as uploaded: its text when it could be read, else why not (stored as failed).
#[derive(Debug, Clone)]
pub struct NewKbDocument {
    pub knowledge_base_id: i64,
    pub name: String,
    pub format: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub body: Result<String, String>,
    pub now: DateTime<Utc>,
}

/// A document the indexer claimed, with its text.
#[derive(Debug, Clone)]
pub struct ClaimedDocument {
    pub document: KbDocument,
    pub body: String,
}

/// A chunk to store: its place in the document, its text, its unit vector.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChunk {
    pub position: i64,
    pub start_byte: i64,
    pub end_byte: i64,
    pub text: String,
    pub embedding: Vec<f32>,
}

/// A stored chunk, as search needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChunk {
    pub id: i64,
    pub document_id: i64,
    pub knowledge_base_id: i64,
    pub position: i64,
    pub text: String,
    pub model: String,
    pub embedding: Vec<f32>,
}

/// A chunk's source, for showing a search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkSource {
    pub chunk_id: i64,
    pub document_id: i64,
    pub document_name: String,
    pub knowledge_base_id: i64,
    pub position: i64,
    pub text: String,
}

/// Embeddings as stored: f32 little-endian.
pub fn embedding_to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The stored bytes back to a vector; `None` when the length is not a multiple of 4.
pub fn embedding_from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}
