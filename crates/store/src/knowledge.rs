//! `KnowledgeStore`: the knowledge bases' part of the store.
//!
//! A supertrait of [`crate::Store`], so every store has it: bases, documents with their indexing
//! status, claiming work for the indexer, chunks with embeddings.

use crate::error::Result;
use crate::model::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

#[async_trait]
pub trait KnowledgeStore: Send + Sync {
    /// A new, empty base; a name already used is a `Conflict`.
    async fn create_knowledge_base(
        &self,
        name: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<KnowledgeBase>;
    async fn knowledge_base(&self, id: i64) -> Result<KnowledgeBase>;
    /// Every base, by name.
    async fn knowledge_bases(&self) -> Result<Vec<KnowledgeBase>>;
    async fn update_knowledge_base(
        &self,
        id: i64,
        name: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<KnowledgeBase>;
    /// The base with its documents and chunks.
    async fn delete_knowledge_base(&self, id: i64) -> Result<()>;

    /// Stores an upload: `pending` when it has text, `failed` with the reason when not.
    async fn add_document(&self, document: NewKbDocument) -> Result<KbDocument>;
    async fn document(&self, id: i64) -> Result<KbDocument>;
    /// A base's documents, newest first.
    async fn documents(&self, knowledge_base_id: i64) -> Result<Vec<KbDocument>>;
    /// The document and its chunks; the base's version moves on.
    async fn delete_document(&self, id: i64, now: DateTime<Utc>) -> Result<()>;
    /// Every document of the base that has text goes back to `pending` (a re-index); returns how many.
    async fn reindex_knowledge_base(&self, id: i64, now: DateTime<Utc>) -> Result<u64>;

    /// Claims the oldest pending document (or one whose indexer went quiet for `stale_after`)
    /// for indexing, atomically: two indexers never get the same one.
    async fn claim_document(
        &self,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> Result<Option<ClaimedDocument>>;
    /// Progress of a claimed document (also keeps its claim fresh).
    async fn document_progress(
        &self,
        id: i64,
        done: i64,
        total: i64,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Replaces the document's chunks with `chunks` (all from `model`), marks it indexed, removes
    /// older documents of the same name in its base (a newer upload replaces them once indexed)
    /// and moves the base's version on, in one transaction.
    async fn finish_document(
        &self,
        id: i64,
        model: &str,
        chunks: Vec<NewChunk>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Marks a claimed document failed with `error`; its old chunks, if any, are removed.
    async fn fail_document(&self, id: i64, error: &str, now: DateTime<Utc>) -> Result<()>;

    /// Every chunk of a base with its embedding, in id order (what an index is built from).
    async fn chunks(&self, knowledge_base_id: i64) -> Result<Vec<StoredChunk>>;
    /// Where chunks came from, for showing hits.
    async fn chunk_sources(&self, ids: &[i64]) -> Result<Vec<ChunkSource>>;
}
