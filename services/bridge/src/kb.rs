//! The Backend's knowledge bases at work: the indexer (claims pending documents from the store, chunks, embeds in batches with progress, stores the chunks; a restart resumes where it stopped) and search (one in-memory hybrid index per base, rebuilt when the base's version moves).

use chrono::Utc;
use knowledge::index::Mode;
use knowledge::{ChunkParams, Embedder, Index, SearchParams};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{ClaimedDocument, KnowledgeBase, NewChunk, Store, StoreError};
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
}

/// Indexes documents and answers searches; shared by the routes and the background indexer.
pub struct Knowledge {
    store: Arc<dyn Store>,
    embedder: Option<Arc<dyn Embedder>>,
    indexes: RwLock<HashMap<i64, (i64, Arc<Index>)>>,
    wake: Notify,
    chunking: ChunkParams,
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
            wake: Notify::new(),
            chunking: ChunkParams::default(),
        }
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
            match self.index_next().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "the knowledge indexer could not claim work"),
            }
            let _ = tokio::time::timeout(IDLE_POLL, self.wake.notified()).await;
        }
    }

    /// Claims and indexes one document; `false` when there was none.
    pub async fn index_next(&self) -> Result<bool, StoreError> {
        let Some(claimed) = self.store.claim_document(Utc::now(), STALE_CLAIM).await? else {
            return Ok(false);
        };
        let id = claimed.document.id;
        let outcome = self.index(claimed).await;
        let now = Utc::now();
        match outcome {
            Ok((model, chunks)) => {
                match self.store.finish_document(id, &model, chunks, now).await {
                    Ok(()) | Err(StoreError::WrongState { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
            Err(reason) => {
                tracing::warn!(document = id, %reason, "a document could not be indexed");
                match self.store.fail_document(id, &reason, now).await {
                    Ok(()) | Err(StoreError::NotFound { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(true)
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
        &self,
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
            let index = self.index_of(&base, embedder.as_ref()).await?;
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

    /// The base's index at its current version, built from the store when stale; only chunks of
    /// the configured model take part.
    async fn index_of(
        &self,
        base: &KnowledgeBase,
        embedder: &dyn Embedder,
    ) -> Result<Arc<Index>, StoreError> {
        if let Some((version, index)) = self.indexes.read().get(&base.id)
            && *version == base.version
        {
            return Ok(index.clone());
        }
        let chunks = self.store.chunks(base.id).await?;
        let mut index = Index::new(embedder.dimensions());
        for chunk in chunks.iter().filter(|c| c.model == embedder.model()) {
            if let Err(error) = index.add(chunk.id, &chunk.text, &chunk.embedding) {
                tracing::warn!(chunk = chunk.id, %error, "a stored chunk does not fit the model");
            }
        }
        let index = Arc::new(index);
        self.indexes
            .write()
            .insert(base.id, (base.version, index.clone()));
        Ok(index)
    }

    /// Forgets a deleted base's index.
    pub fn forget(&self, base: i64) {
        self.indexes.write().remove(&base);
    }
}
