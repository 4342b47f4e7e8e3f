//! The Backend's knowledge bases at work.
//!
//! The indexer (claims pending documents from the store, chunks, embeds in batches with progress,
//! stores the chunks; a restart resumes where it stopped) and search (one in-memory hybrid index
//! per base, rebuilt when the base's version moves).
//!
//! A rebuild runs in its own task, one at a time per base: a caller that gives up (a live call's
//! latency budget) does not cancel it, and while it runs longer than `FRESH_WAIT` a search is
//! answered from the base's previous index rather than not at all. The indexer starts the
//! rebuild as soon as a base's documents are all indexed (once for an upload of many files), so
//! the first search after an upload rarely waits.

use chrono::Utc;
use knowledge::index::Mode;
use knowledge::{ChunkParams, Embedder, Index, SearchParams};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{ClaimedDocument, DocumentStatus, KnowledgeBase, NewChunk, Store, StoreError};
use tokio::sync::Notify;

/// A claim older than this was left by an indexer that stopped; another takes it over.
const STALE_CLAIM: Duration = Duration::from_secs(300);
/// Chunks embedded per batch (and per progress update).
const EMBED_BATCH: usize = 32;
/// How often the indexer looks for work when nobody wakes it.
const IDLE_POLL: Duration = Duration::from_secs(5);

/// One search result with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub chunk_id: i64,
    pub document_id: i64,
    pub document_name: String,
    pub knowledge_base_id: i64,
    pub position: i64,
    pub text: String,
    /// Reciprocal-rank fusion score (higher is better).
    pub score: f32,
    /// Cosine similarity between the query and the chunk.
    pub similarity: f32,
}

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("no embedding model is configured (EMBEDDING_MODEL_DIR or EMBEDDINGS_URL)")]
    NoEmbedder,
    #[error(transparent)]
    Embed(#[from] knowledge::EmbedError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the search index could not be built: {0}")]
    Index(String),
}

/// How long a search waits for a base's index to be rebuilt before it uses the previous one.
const FRESH_WAIT: Duration = Duration::from_millis(500);

/// Indexes documents and answers searches; shared by the routes and the background indexer.
pub struct Knowledge {
    store: Arc<dyn Store>,
    embedder: Option<Arc<dyn Embedder>>,
    /// Per base: the version it was built from and the index.
    indexes: RwLock<HashMap<i64, (i64, Arc<Index>)>>,
    /// Per base: held while its index is rebuilt, so rebuilds of one base never overlap.
    builds: parking_lot::Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    wake: Notify,
    chunking: ChunkParams,
    /// How long a search waits for a rebuild before it uses the previous index.
    fresh_wait: Duration,
    /// Indexes built from the store so far.
    built: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Knowledge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Knowledge")
            .field("embedder", &self.embedder)
            .finish_non_exhaustive()
    }
}

impl Knowledge {
    pub fn new(store: Arc<dyn Store>, embedder: Option<Arc<dyn Embedder>>) -> Self {
        Self {
            store,
            embedder,
            indexes: RwLock::new(HashMap::new()),
            builds: parking_lot::Mutex::new(HashMap::new()),
            wake: Notify::new(),
            chunking: ChunkParams::default(),
            fresh_wait: FRESH_WAIT,
            built: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Changes how long a search waits for a base's index to be rebuilt before it answers from
    /// the previous one (`FRESH_WAIT`, 500 ms, by default).
    #[must_use]
    pub fn with_fresh_wait(mut self, wait: Duration) -> Self {
        self.fresh_wait = wait;
        self
    }

    /// The embedding model's name, when one is configured.
    pub fn model(&self) -> Option<&str> {
        self.embedder.as_deref().map(Embedder::model)
    }

    /// Tells the indexer there is work.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Indexes pending documents for ever; the Backend runs it as a task and aborts it on stop.
    pub async fn run_indexer(self: Arc<Self>) {
        loop {
            match Self::index_next(&self).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "the knowledge indexer could not claim work"),
            }
            let _ = tokio::time::timeout(IDLE_POLL, self.wake.notified()).await;
        }
    }

    /// Claims and indexes one document; `false` when there was none.
    pub async fn index_next(self: &Arc<Self>) -> Result<bool, StoreError> {
        let Some(claimed) = self.store.claim_document(Utc::now(), STALE_CLAIM).await? else {
            return Ok(false);
        };
        let id = claimed.document.id;
        let base = claimed.document.knowledge_base_id;
        let outcome = self.index(claimed).await;
        let now = Utc::now();
        match outcome {
            Ok((model, chunks)) => {
                match self.store.finish_document(id, &model, chunks, now).await {
                    Ok(()) => self.settle(base).await,
                    Err(StoreError::WrongState { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
            Err(reason) => {
                tracing::warn!(document = id, %reason, "a document could not be indexed");
                match self.store.fail_document(id, &reason, now).await {
                    Ok(()) => self.settle(base).await,
                    Err(StoreError::NotFound { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(true)
    }

    /// Rebuilds the base's index once its documents are all settled: an upload of many files is
    /// built once after its last one rather than after each (a rebuild reads every chunk).
    async fn settle(self: &Arc<Self>, base: i64) {
        let waiting = match self.store.documents(base).await {
            Ok(documents) => documents
                .iter()
                .any(|d| matches!(d.status, DocumentStatus::Pending | DocumentStatus::Indexing)),
            Err(error) => {
                tracing::warn!(base, %error, "could not list a knowledge base's documents");
                false
            }
        };
        if !waiting {
            self.warm(base);
        }
    }

    /// How many times an index was built from the store (for tests and metrics).
    pub fn builds(&self) -> u64 {
        self.built.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn index(&self, claimed: ClaimedDocument) -> Result<(String, Vec<NewChunk>), String> {
        let embedder = self
            .embedder
            .as_ref()
            .ok_or_else(|| SearchError::NoEmbedder.to_string())?;
        let id = claimed.document.id;
        let pieces = knowledge::chunk(&claimed.body, self.chunking);
        let total = pieces.len() as i64;
        let started = Instant::now();
        let mut chunks = Vec::with_capacity(pieces.len());
        for batch in pieces.chunks(EMBED_BATCH) {
            let texts: Vec<String> = batch.iter().map(|c| c.text.clone()).collect();
            let vectors = embedder.embed(&texts).await.map_err(|e| e.to_string())?;
            for (piece, embedding) in batch.iter().zip(vectors) {
                chunks.push(NewChunk {
                    position: piece.index as i64,
                    start_byte: piece.start as i64,
                    end_byte: piece.end as i64,
                    text: piece.text.clone(),
                    embedding,
                });
            }
            let done = chunks.len() as i64;
            if let Err(error) = self
                .store
                .document_progress(id, done, total, Utc::now())
                .await
            {
                tracing::warn!(%error, document = id, "could not record indexing progress");
            }
        }
        tracing::info!(
            document = id,
            chunks = total,
            seconds = started.elapsed().as_secs_f32(),
            "document indexed"
        );
        Ok((embedder.model().to_owned(), chunks))
    }

    /// The best `top_k` passages for `query` across `bases`.
    pub async fn search(
        self: &Arc<Self>,
        bases: &[i64],
        query: &str,
        top_k: usize,
        mode: Mode,
    ) -> Result<Vec<Passage>, SearchError> {
        let embedder = self.embedder.as_ref().ok_or(SearchError::NoEmbedder)?;
        let vector = embedder
            .embed(&[query.to_owned()])
            .await?
            .pop()
            .unwrap_or_default();
        let params = SearchParams {
            top_k,
            mode,
            ..SearchParams::default()
        };
        let mut hits = Vec::new();
        for &base in bases {
            let base = self.store.knowledge_base(base).await?;
            let index = self.index_of(&base, embedder).await?;
            hits.extend(index.search(&vector, query, &params));
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.similarity.total_cmp(&a.similarity))
        });
        hits.truncate(top_k);
        let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
        let sources = self.store.chunk_sources(&ids).await?;
        Ok(hits
            .iter()
            .filter_map(|hit| {
                let source = sources.iter().find(|s| s.chunk_id == hit.id)?;
                Some(Passage {
                    chunk_id: source.chunk_id,
                    document_id: source.document_id,
                    document_name: source.document_name.clone(),
                    knowledge_base_id: source.knowledge_base_id,
                    position: source.position,
                    text: source.text.clone(),
                    score: hit.score,
                    similarity: hit.similarity,
                })
            })
            .collect())
    }

    /// The base's index at its current version: rebuilt when stale (in its own task), the previous
    /// one answering when the rebuild takes longer than `FRESH_WAIT`.
    async fn index_of(
        self: &Arc<Self>,
        base: &KnowledgeBase,
        embedder: &Arc<dyn Embedder>,
    ) -> Result<Arc<Index>, SearchError> {
        let cached = self.indexes.read().get(&base.id).cloned();
        if let Some((version, index)) = &cached
            && *version == base.version
        {
            return Ok(index.clone());
        }
        let this = self.clone();
        let (id, embedder) = (base.id, embedder.clone());
        let build = tokio::spawn(async move { this.rebuild(id, embedder).await });
        let built = match cached {
            Some((_, previous)) => match tokio::time::timeout(self.fresh_wait, build).await {
                Ok(built) => built,
                Err(_) => {
                    tracing::info!(
                        base = id,
                        "the index is being rebuilt; searching the previous one"
                    );
                    return Ok(previous);
                }
            },
            None => build.await,
        };
        built.map_err(|e| SearchError::Index(e.to_string()))?
    }

    /// Starts rebuilding a base's index now (after its chunks changed), without waiting.
    fn warm(self: &Arc<Self>, base: i64) {
        let Some(embedder) = self.embedder.clone() else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(error) = this.rebuild(base, embedder).await {
                tracing::warn!(base, %error, "could not rebuild a knowledge base's index");
            }
        });
    }

    /// Builds the base's index from the store unless another build just did; only chunks of the
    /// configured model take part. Builds of one base run one at a time.
    async fn rebuild(
        &self,
        id: i64,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Arc<Index>, SearchError> {
        let lock = self.builds.lock().entry(id).or_default().clone();
        let _one_at_a_time = lock.lock().await;
        let base = self.store.knowledge_base(id).await?;
        if let Some((version, index)) = self.indexes.read().get(&id)
            && *version == base.version
        {
            return Ok(index.clone());
        }
        let chunks = self.store.chunks(id).await?;
        self.built
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Stemming every chunk's words is CPU work: off the async threads.
        let index = tokio::task::spawn_blocking(move || {
            let (fit, misfit): (Vec<_>, Vec<_>) = chunks
                .iter()
                .filter(|c| c.model == embedder.model())
                .partition(|c| c.embedding.len() == embedder.dimensions());
            for chunk in misfit {
                tracing::warn!(
                    chunk = chunk.id,
                    dimensions = chunk.embedding.len(),
                    "a stored chunk does not fit the model"
                );
            }
            let rows: Vec<(i64, &str, &[f32])> = fit
                .iter()
                .map(|c| (c.id, c.text.as_str(), c.embedding.as_slice()))
                .collect();
            let mut index = Index::new(embedder.dimensions());
            // Every vector was checked to fit just above.
            index.add_all(&rows).map(|()| index)
        })
        .await
        .map_err(|e| SearchError::Index(e.to_string()))?
        .map_err(|e| SearchError::Index(e.to_string()))?;
        let index = Arc::new(index);
        self.indexes
            .write()
            .insert(id, (base.version, index.clone()));
        Ok(index)
    }

    /// Forgets a deleted base's index.
    pub fn forget(&self, base: i64) {
        self.indexes.write().remove(&base);
        self.builds.lock().remove(&base);
    }
}

#[cfg(test)]
mod tests;
