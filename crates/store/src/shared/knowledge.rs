//! Knowledge bases, documents and chunks.
//!
//! The SQL behind `KnowledgeStore`, the same text for both dialects.

use super::Pool;
use crate::error::{Result, StoreError};
use crate::model::*;
use chrono::{DateTime, Utc};
use std::time::Duration;

const BASE_COLUMNS: &str = "b.id, b.name, b.description, b.version, b.created_at, b.updated_at, \
     (SELECT COUNT(*) FROM kb_documents d WHERE d.knowledge_base_id = b.id) AS documents, \
     (SELECT COUNT(*) FROM kb_chunks c WHERE c.knowledge_base_id = b.id) AS chunks";

const DOCUMENT_COLUMNS: &str = "id, knowledge_base_id, name, format, size_bytes, sha256, status, \
     error, chunks_total, chunks_done, model, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct BaseRow {
    id: i64,
    name: String,
    description: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
    documents: i64,
    chunks: i64,
}

impl From<BaseRow> for KnowledgeBase {
    fn from(row: BaseRow) -> Self {
        KnowledgeBase {
            id: row.id,
            name: row.name,
            description: row.description,
            version: row.version,
            documents: row.documents,
            chunks: row.chunks,
            created_at: from_ms(row.created_at),
            updated_at: from_ms(row.updated_at),
        }
    }
}

#[derive(sqlx::FromRow)]
struct DocumentRow {
    id: i64,
    knowledge_base_id: i64,
    name: String,
    format: String,
    size_bytes: i64,
    sha256: String,
    status: String,
    error: Option<String>,
    chunks_total: i64,
    chunks_done: i64,
    model: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<DocumentRow> for KbDocument {
    type Error = StoreError;

    fn try_from(row: DocumentRow) -> Result<Self> {
        Ok(KbDocument {
            id: row.id,
            knowledge_base_id: row.knowledge_base_id,
            name: row.name,
            format: row.format,
            size_bytes: row.size_bytes,
            sha256: row.sha256,
            status: DocumentStatus::parse(&row.status)
                .ok_or_else(|| StoreError::corrupt("kb_documents.status", &row.status))?,
            error: row.error,
            chunks_total: row.chunks_total,
            chunks_done: row.chunks_done,
            model: row.model,
            created_at: from_ms(row.created_at),
            updated_at: from_ms(row.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct ChunkRow {
    id: i64,
    document_id: i64,
    knowledge_base_id: i64,
    position: i64,
    text: String,
    model: String,
    embedding: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct SourceRow {
    id: i64,
    document_id: i64,
    name: String,
    knowledge_base_id: i64,
    position: i64,
    text: String,
}

fn check_base(name: &str, description: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(StoreError::invalid("name", "must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(StoreError::invalid(
            "name",
            "must be at most 200 characters",
        ));
    }
    if description.chars().count() > 2000 {
        return Err(StoreError::invalid(
            "description",
            "must be at most 2000 characters",
        ));
    }
    Ok(())
}

pub(super) async fn create_knowledge_base(
    pool: &Pool,
    name: &str,
    description: &str,
    now: DateTime<Utc>,
) -> Result<KnowledgeBase> {
    check_base(name, description)?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO knowledge_bases (name, description, version, created_at, updated_at) \
         VALUES ($1, $2, 0, $3, $3) RETURNING id",
    )
    .bind(name.trim())
    .bind(description.trim())
    .bind(to_ms(now))
    .fetch_one(pool)
    .await
    .map_err(StoreError::conflict_on("knowledge base"))?;
    knowledge_base(pool, id).await
}

pub(super) async fn knowledge_base(pool: &Pool, id: i64) -> Result<KnowledgeBase> {
    let sql = format!("SELECT {BASE_COLUMNS} FROM knowledge_bases b WHERE b.id = $1");
    let row: Option<BaseRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(KnowledgeBase::from)
        .ok_or_else(|| StoreError::not_found("knowledge base", id))
}

pub(super) async fn knowledge_bases(pool: &Pool) -> Result<Vec<KnowledgeBase>> {
    let sql = format!("SELECT {BASE_COLUMNS} FROM knowledge_bases b ORDER BY b.name, b.id");
    let rows: Vec<BaseRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(KnowledgeBase::from).collect())
}

pub(super) async fn update_knowledge_base(
    pool: &Pool,
    id: i64,
    name: &str,
    description: &str,
    now: DateTime<Utc>,
) -> Result<KnowledgeBase> {
    check_base(name, description)?;
    let updated = sqlx::query(
        "UPDATE knowledge_bases SET name = $2, description = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(name.trim())
    .bind(description.trim())
    .bind(to_ms(now))
    .execute(pool)
    .await
    .map_err(StoreError::conflict_on("knowledge base"))?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::not_found("knowledge base", id));
    }
    knowledge_base(pool, id).await
}

pub(super) async fn delete_knowledge_base(pool: &Pool, id: i64) -> Result<()> {
    let deleted = sqlx::query("DELETE FROM knowledge_bases WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(StoreError::not_found("knowledge base", id));
    }
    Ok(())
}

pub(super) async fn add_document(pool: &Pool, document: NewKbDocument) -> Result<KbDocument> {
    if document.name.trim().is_empty() {
        return Err(StoreError::invalid("name", "must not be empty"));
    }
    let (status, body, error) = match document.body {
        Ok(body) => (DocumentStatus::Pending, Some(body), None),
        Err(error) => (DocumentStatus::Failed, None, Some(error)),
    };
    let sql = format!(
        "INSERT INTO kb_documents (knowledge_base_id, name, format, size_bytes, sha256, body, \
         status, error, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {DOCUMENT_COLUMNS}"
    );
    let row: DocumentRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(document.knowledge_base_id)
        .bind(document.name.trim())
        .bind(&document.format)
        .bind(document.size_bytes)
        .bind(&document.sha256)
        .bind(body)
        .bind(status.as_str())
        .bind(error)
        .bind(to_ms(document.now))
        .fetch_one(pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::not_found("knowledge base", document.knowledge_base_id)
            }
            _ => StoreError::from(e),
        })?;
    KbDocument::try_from(row)
}

pub(super) async fn document(pool: &Pool, id: i64) -> Result<KbDocument> {
    let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM kb_documents WHERE id = $1");
    let row: Option<DocumentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(KbDocument::try_from)
        .transpose()?
        .ok_or_else(|| StoreError::not_found("document", id))
}

pub(super) async fn documents(pool: &Pool, knowledge_base_id: i64) -> Result<Vec<KbDocument>> {
    knowledge_base(pool, knowledge_base_id).await?;
    let sql = format!(
        "SELECT {DOCUMENT_COLUMNS} FROM kb_documents WHERE knowledge_base_id = $1 ORDER BY id DESC"
    );
    let rows: Vec<DocumentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(knowledge_base_id)
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(KbDocument::try_from).collect()
}

pub(super) async fn delete_document(pool: &Pool, id: i64, now: DateTime<Utc>) -> Result<()> {
    let mut tx = super::super::begin_write(pool).await?;
    let base: Option<i64> =
        sqlx::query_scalar("DELETE FROM kb_documents WHERE id = $1 RETURNING knowledge_base_id")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let base = base.ok_or_else(|| StoreError::not_found("document", id))?;
    bump(&mut tx, base, now).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn reindex_knowledge_base(
    pool: &Pool,
    id: i64,
    now: DateTime<Utc>,
) -> Result<u64> {
    knowledge_base(pool, id).await?;
    let done = sqlx::query(
        "UPDATE kb_documents SET status = 'pending', error = NULL, chunks_done = 0, \
         claimed_at = NULL, updated_at = $2 WHERE knowledge_base_id = $1 AND body IS NOT NULL",
    )
    .bind(id)
    .bind(to_ms(now))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn claim_document(
    pool: &Pool,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> Result<Option<ClaimedDocument>> {
    let now_ms = to_ms(now);
    let stale = now_ms - i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX / 2);
    let claimable = "(status = 'pending' OR (status = 'indexing' AND claimed_at < $2))";
    let sql = format!(
        "UPDATE kb_documents SET status = 'indexing', claimed_at = $1, updated_at = $1, \
         chunks_done = 0 \
         WHERE id = (SELECT id FROM kb_documents WHERE {claimable} ORDER BY id LIMIT 1) \
         AND {claimable} RETURNING id"
    );
    let mut tx = super::super::begin_write(pool).await?;
    let id: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(now_ms)
        .bind(stale)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(id) = id else {
        tx.commit().await?;
        return Ok(None);
    };
    let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM kb_documents WHERE id = $1");
    let row: DocumentRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM kb_documents WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(ClaimedDocument {
        document: KbDocument::try_from(row)?,
        body: body.unwrap_or_default(),
    }))
}

pub(super) async fn document_progress(
    pool: &Pool,
    id: i64,
    done: i64,
    total: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE kb_documents SET chunks_done = $2, chunks_total = $3, claimed_at = $4, \
         updated_at = $4 WHERE id = $1 AND status = 'indexing'",
    )
    .bind(id)
    .bind(done)
    .bind(total)
    .bind(to_ms(now))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn finish_document(
    pool: &Pool,
    id: i64,
    model: &str,
    chunks: Vec<NewChunk>,
    now: DateTime<Utc>,
) -> Result<()> {
    let now_ms = to_ms(now);
    let total = i64::try_from(chunks.len()).unwrap_or(i64::MAX);
    let mut tx = super::super::begin_write(pool).await?;
    let found: Option<(i64, String)> = sqlx::query_as(
        "UPDATE kb_documents SET status = 'indexed', error = NULL, model = $2, \
         chunks_total = $3, chunks_done = $3, claimed_at = NULL, updated_at = $4 \
         WHERE id = $1 AND status = 'indexing' RETURNING knowledge_base_id, name",
    )
    .bind(id)
    .bind(model)
    .bind(total)
    .bind(now_ms)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((base, name)) = found else {
        // Deleted, or re-queued by a re-index while it was being embedded: nothing to keep.
        return Err(StoreError::WrongState {
            entity: "document",
            id: id.to_string(),
            actual: "not indexing".into(),
            message: "it was deleted or re-queued while being indexed".into(),
        });
    };
    sqlx::query("DELETE FROM kb_chunks WHERE document_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for chunk in chunks {
        sqlx::query(
            "INSERT INTO kb_chunks (document_id, knowledge_base_id, position, start_byte, \
             end_byte, text, model, embedding) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(base)
        .bind(chunk.position)
        .bind(chunk.start_byte)
        .bind(chunk.end_byte)
        .bind(&chunk.text)
        .bind(model)
        .bind(embedding_to_bytes(&chunk.embedding))
        .execute(&mut *tx)
        .await?;
    }
    // A newer upload of the same file replaces the older ones now that it can answer in their
    // place (their chunks go with them), in the same step, so searches never see neither.
    sqlx::query("DELETE FROM kb_documents WHERE knowledge_base_id = $1 AND name = $2 AND id < $3")
        .bind(base)
        .bind(&name)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    bump(&mut tx, base, now).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn fail_document(
    pool: &Pool,
    id: i64,
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut tx = super::super::begin_write(pool).await?;
    let base: Option<i64> = sqlx::query_scalar(
        "UPDATE kb_documents SET status = 'failed', error = $2, claimed_at = NULL, \
         updated_at = $3 WHERE id = $1 RETURNING knowledge_base_id",
    )
    .bind(id)
    .bind(error)
    .bind(to_ms(now))
    .fetch_optional(&mut *tx)
    .await?;
    let base = base.ok_or_else(|| StoreError::not_found("document", id))?;
    let removed = sqlx::query("DELETE FROM kb_chunks WHERE document_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if removed.rows_affected() > 0 {
        bump(&mut tx, base, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn chunks(pool: &Pool, knowledge_base_id: i64) -> Result<Vec<StoredChunk>> {
    let rows: Vec<ChunkRow> = sqlx::query_as(
        "SELECT id, document_id, knowledge_base_id, position, text, model, embedding \
         FROM kb_chunks WHERE knowledge_base_id = $1 ORDER BY id",
    )
    .bind(knowledge_base_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(StoredChunk {
                embedding: embedding_from_bytes(&row.embedding)
                    .ok_or_else(|| StoreError::corrupt("kb_chunks.embedding", row.id))?,
                id: row.id,
                document_id: row.document_id,
                knowledge_base_id: row.knowledge_base_id,
                position: row.position,
                text: row.text,
                model: row.model,
            })
        })
        .collect()
}

pub(super) async fn chunk_sources(pool: &Pool, ids: &[i64]) -> Result<Vec<ChunkSource>> {
    let mut sources = Vec::with_capacity(ids.len());
    // Few ids per search (top k); one indexed lookup each keeps the SQL the same in both dialects.
    for &id in ids {
        let row: Option<SourceRow> = sqlx::query_as(
            "SELECT c.id, c.document_id, d.name, c.knowledge_base_id, c.position, c.text \
             FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id WHERE c.id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?;
        if let Some(row) = row {
            sources.push(ChunkSource {
                chunk_id: row.id,
                document_id: row.document_id,
                document_name: row.name,
                knowledge_base_id: row.knowledge_base_id,
                position: row.position,
                text: row.text,
            });
        }
    }
    Ok(sources)
}

/// Moves the base's version on: its searchable chunks changed.
async fn bump(
    tx: &mut sqlx::Transaction<'static, super::Db>,
    base: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE knowledge_bases SET version = version + 1, updated_at = $2 WHERE id = $1")
        .bind(base)
        .bind(to_ms(now))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
