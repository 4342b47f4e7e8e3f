//! Knowledge bases over HTTP.
//!
//! Create, rename, delete; upload documents (one file per request, at most 25 MiB, its text
//! extracted at once: readable ones wait for the indexer, unreadable ones are stored as failed with
//! why); delete a document, re-index a base; try a search; and the fleet's search for a live call's
//! `search_knowledge` tool.

use super::{audit, snapshot};
use crate::AppState;
use crate::auth::{Authorized, Fleet, role};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, body_bytes};
use crate::kb::{Passage, SearchError};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use knowledge::index::Mode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::{KbDocument, KnowledgeBase, NewKbDocument};

/// The largest document accepted (413 beyond).
pub(crate) const UPLOAD_LIMIT: usize = 25 * 1024 * 1024;
/// The most passages one search returns.
const MAX_TOP_K: usize = 20;

pub fn router() -> Router<crate::AppState> {
    Router::new()
        .route("/knowledge-bases", get(list).post(create))
        .route(
            "/knowledge-bases/{id}",
            get(show).put(update).delete(remove),
        )
        .route(
            "/knowledge-bases/{id}/documents",
            post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route(
            "/knowledge-bases/{id}/documents/{document}",
            delete(remove_document),
        )
        .route("/knowledge-bases/{id}/reindex", post(reindex))
        .route("/knowledge-bases/{id}/search", post(search_base))
        .route("/knowledge/search", post(search_for_call))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct BaseView {
    id: i64,
    name: String,
    description: String,
    documents: i64,
    chunks: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<KnowledgeBase> for BaseView {
    fn from(base: KnowledgeBase) -> Self {
        Self {
            id: base.id,
            name: base.name,
            description: base.description,
            documents: base.documents,
            chunks: base.chunks,
            created_at: base.created_at,
            updated_at: base.updated_at,
        }
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct DocumentView {
    id: i64,
    knowledge_base_id: i64,
    name: String,
    format: String,
    size_bytes: i64,
    sha256: String,
    /// `pending`, `indexing`, `indexed` or `failed`.
    status: String,
    /// Why a failed document could not be indexed.
    error: Option<String>,
    chunks_total: i64,
    chunks_done: i64,
    model: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<KbDocument> for DocumentView {
    fn from(d: KbDocument) -> Self {
        Self {
            id: d.id,
            knowledge_base_id: d.knowledge_base_id,
            name: d.name,
            format: d.format,
            size_bytes: d.size_bytes,
            sha256: d.sha256,
            status: d.status.as_str().to_owned(),
            error: d.error,
            chunks_total: d.chunks_total,
            chunks_done: d.chunks_done,
            model: d.model,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A base with its documents and the embedding model the Backend indexes with.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct BaseDetail {
    knowledge_base: BaseView,
    documents: Vec<DocumentView>,
    /// `None` when no embedding model is configured: uploads are refused.
    embedding_model: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct BaseInput {
    #[schemars(schema_with = "contracts::shape::non_blank", length(max = 200))]
    name: String,
    #[serde(default)]
    #[schemars(length(max = 2000))]
    description: String,
}

async fn list(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
) -> ApiResult<Json<Vec<BaseView>>> {
    let bases = state.store.knowledge_bases().await?;
    Ok(Json(bases.into_iter().map(BaseView::from).collect()))
}

async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiJson(body): ApiJson<BaseInput>,
) -> ApiResult<(StatusCode, Json<BaseView>)> {
    let base = state
        .store
        .create_knowledge_base(&body.name, &body.description, Utc::now())
        .await?;
    let view = BaseView::from(base);
    audit(
        &state,
        &principal,
        "knowledge.create",
        "knowledge_base",
        view.id,
        None,
        snapshot(&view),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn show(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<BaseDetail>> {
    // Documents first: the base's counts, read after, are never older than the list they sum
    // (read the other way round, a document indexed in between showed as indexed and uncounted).
    let documents = state.store.documents(id).await?;
    let base = state.store.knowledge_base(id).await?;
    Ok(Json(BaseDetail {
        knowledge_base: base.into(),
        documents: documents.into_iter().map(DocumentView::from).collect(),
        embedding_model: state.knowledge.model().map(str::to_owned),
    }))
}

async fn update(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<BaseInput>,
) -> ApiResult<Json<BaseView>> {
    let before = BaseView::from(state.store.knowledge_base(id).await?);
    let base = state
        .store
        .update_knowledge_base(id, &body.name, &body.description, Utc::now())
        .await?;
    let view = BaseView::from(base);
    audit(
        &state,
        &principal,
        "knowledge.update",
        "knowledge_base",
        id,
        snapshot(&before),
        snapshot(&view),
    )
    .await?;
    Ok(Json(view))
}

async fn remove(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let before = BaseView::from(state.store.knowledge_base(id).await?);
    state.store.delete_knowledge_base(id).await?;
    state.knowledge.forget(id);
    audit(
        &state,
        &principal,
        "knowledge.delete",
        "knowledge_base",
        id,
        snapshot(&before),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct UploadQuery {
    /// The file's name; its extension says the format (`.pdf`, `.docx`, `.md`, `.html`, `.txt`),
    /// else the request's content type does.
    #[schemars(schema_with = "document_name")]
    name: String,
}

/// A document's name: its extension says the format (letters in any case).
fn document_name(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let any_case = |extension: &str| -> String {
        extension
            .chars()
            .map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase()))
            .collect()
    };
    let extensions: Vec<String> = knowledge::Format::EXTENSIONS
        .iter()
        .map(|e| any_case(e))
        .collect();
    schemars::json_schema!({
        "type": "string",
        "pattern": format!("\\.({})$", extensions.join("|")),
        "description": "The file's name, ending in .txt, .md, .html, .pdf or .docx (or .text, .csv, .log, .markdown, .htm, .xhtml)"
    })
}

/// One document as the request body (any content type), up to `UPLOAD_LIMIT`.
async fn upload(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    request: axum::extract::Request,
) -> ApiResult<(StatusCode, Json<DocumentView>)> {
    let name = query.name;
    if contracts::shape::is_blank(&name) {
        return Err(ApiError::invalid("name", "the file's name is required"));
    }
    if state.knowledge.model().is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "knowledge.no_embedder",
            SearchError::NoEmbedder.to_string(),
        ));
    }
    state.store.knowledge_base(id).await?;
    let content_type = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let format = knowledge::Format::detect(&name, content_type.as_deref()).map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            e.to_string(),
        )
    })?;
    let too_large = format!(
        "a document may be at most {} MiB",
        UPLOAD_LIMIT / (1024 * 1024)
    );
    let bytes = body_bytes(request, &state, &too_large).await?;
    if bytes.is_empty() {
        return Err(ApiError::invalid("body", "the file is empty"));
    }
    let size = bytes.len() as i64;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let text = tokio::task::spawn_blocking(move || knowledge::extract(format, &bytes))
        .await
        .map_err(|e| ApiError::internal(format!("extraction stopped: {e}")))?;
    let document = state
        .store
        .add_document(NewKbDocument {
            knowledge_base_id: id,
            name,
            format: format.name().to_owned(),
            size_bytes: size,
            sha256,
            body: text.map_err(|e| e.to_string()),
            now: Utc::now(),
        })
        .await?;
    state.knowledge.wake();
    let view = DocumentView::from(document);
    audit(
        &state,
        &principal,
        "knowledge.upload",
        "kb_document",
        view.id,
        None,
        snapshot(&view),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn remove_document(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath((id, document)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    let before = state.store.document(document).await?;
    if before.knowledge_base_id != id {
        return Err(ApiError::not_found(format!(
            "knowledge base {id} has no document {document}"
        )));
    }
    state.store.delete_document(document, Utc::now()).await?;
    audit(
        &state,
        &principal,
        "knowledge.delete_document",
        "kb_document",
        document,
        snapshot(&DocumentView::from(before)),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Reindexed {
    /// Documents queued for indexing again.
    queued: u64,
}

async fn reindex(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Operator>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Reindexed>> {
    let queued = state.store.reindex_knowledge_base(id, Utc::now()).await?;
    state.knowledge.wake();
    audit(
        &state,
        &principal,
        "knowledge.reindex",
        "knowledge_base",
        id,
        None,
        Some(serde_json::json!({ "queued": queued })),
    )
    .await?;
    Ok(Json(Reindexed { queued }))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct SearchInput {
    #[schemars(schema_with = "contracts::shape::non_blank")]
    query: String,
    /// Passages wanted, 1 to 20 (default 5).
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_TOP_K))]
    top_k: Option<usize>,
    /// `hybrid` (default), `vector` or `keyword`.
    #[serde(default)]
    #[schemars(extend("enum" = ["hybrid", "vector", "keyword", null]))]
    mode: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct PassageView {
    chunk_id: i64,
    document_id: i64,
    document_name: String,
    knowledge_base_id: i64,
    position: i64,
    text: String,
    score: f32,
    similarity: f32,
}

impl From<Passage> for PassageView {
    fn from(p: Passage) -> Self {
        Self {
            chunk_id: p.chunk_id,
            document_id: p.document_id,
            document_name: p.document_name,
            knowledge_base_id: p.knowledge_base_id,
            position: p.position,
            text: p.text,
            score: p.score,
            similarity: p.similarity,
        }
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct SearchResults {
    passages: Vec<PassageView>,
    took_ms: f64,
}

fn checked(query: &str, top_k: Option<usize>, mode: Option<&str>) -> ApiResult<(usize, Mode)> {
    if query.trim().is_empty() {
        return Err(ApiError::invalid("query", "must not be empty"));
    }
    let top_k = top_k.unwrap_or(5);
    if !(1..=MAX_TOP_K).contains(&top_k) {
        return Err(ApiError::invalid(
            "top_k",
            format!("must be between 1 and {MAX_TOP_K}"),
        ));
    }
    let mode = match mode.unwrap_or("hybrid") {
        "hybrid" => Mode::Hybrid,
        "vector" => Mode::Vector,
        "keyword" => Mode::Keyword,
        other => {
            return Err(ApiError::invalid(
                "mode",
                format!("{other:?} is not hybrid, vector or keyword"),
            ));
        }
    };
    Ok((top_k, mode))
}

async fn run_search(
    state: &AppState,
    bases: &[i64],
    query: &str,
    top_k: usize,
    mode: Mode,
) -> ApiResult<Json<SearchResults>> {
    let started = std::time::Instant::now();
    let passages = state
        .knowledge
        .search(bases, query, top_k, mode)
        .await
        .map_err(|e| match e {
            SearchError::Store(e) => ApiError::from(e),
            SearchError::NoEmbedder => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "knowledge.no_embedder",
                e.to_string(),
            ),
            SearchError::Embed(e) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "knowledge.embedding_failed",
                e.to_string(),
            ),
            SearchError::Index(e) => ApiError::internal(e),
        })?;
    Ok(Json(SearchResults {
        passages: passages.into_iter().map(PassageView::from).collect(),
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    }))
}

async fn search_base(
    State(state): State<AppState>,
    _: Authorized<role::Viewer>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<SearchInput>,
) -> ApiResult<Json<SearchResults>> {
    let (top_k, mode) = checked(&body.query, body.top_k, body.mode.as_deref())?;
    run_search(&state, &[id], &body.query, top_k, mode).await
}

/// The fleet's search for a call's `search_knowledge` tool.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct CallSearchInput {
    call_id: contracts::CallId,
    #[schemars(schema_with = "contracts::shape::non_blank")]
    query: String,
    /// The bases the bot's tool names.
    #[schemars(length(min = 1))]
    knowledge_base_ids: Vec<i64>,
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_TOP_K))]
    top_k: Option<usize>,
}

async fn search_for_call(
    State(state): State<AppState>,
    _: Fleet,
    ApiJson(body): ApiJson<CallSearchInput>,
) -> ApiResult<Json<SearchResults>> {
    let (top_k, mode) = checked(&body.query, body.top_k, None)?;
    if body.knowledge_base_ids.is_empty() {
        return Err(ApiError::invalid(
            "knowledge_base_ids",
            "name at least one knowledge base",
        ));
    }
    // Only a call the Backend knows may search (the worker's secret is checked by `Fleet`), and
    // only the bases its bot's version names.
    let call = state.store.call(body.call_id).await?;
    let bot = state
        .store
        .bot_version(call.bot_id, call.bot_version)
        .await?;
    let allowed: Vec<i64> = bot
        .spec
        .tools
        .iter()
        .filter_map(|tool| match tool {
            contracts::runtime_config::ToolSpec::SearchKnowledge {
                knowledge_base_ids, ..
            } => Some(knowledge_base_ids.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect();
    if let Some((position, id)) = body
        .knowledge_base_ids
        .iter()
        .enumerate()
        .find(|(_, id)| !allowed.contains(id))
    {
        return Err(ApiError {
            field: Some(format!("knowledge_base_ids[{position}]")),
            ..ApiError::forbidden(format!(
                "the bot of call {} (version {}) does not search knowledge base {id}",
                body.call_id.0, call.bot_version
            ))
        });
    }
    run_search(&state, &body.knowledge_base_ids, &body.query, top_k, mode).await
}
