//! The SQLite backend, the embedded default.
//!
//! One file in WAL mode; writes serialise on `BEGIN IMMEDIATE`.
//! Commits are `synchronous=FULL`: a result the Backend accepted survives a power cut, because the
//! worker deletes its outbox copy as soon as it is accepted.

// Deliberately compiled once per backend: see the Design Notes in lib.rs.
#[allow(clippy::duplicate_mod)]
#[path = "shared/mod.rs"]
mod shared;

use crate::error::{Result, StoreError};
use crate::model::{Lease, LeaseRequest, to_ms};
use crate::{Backend, rows::to_json};
use sqlx::QueryBuilder;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

type Db = sqlx::Sqlite;
type ThisStore = SqliteStore;
const BACKEND: Backend = Backend::Sqlite;
/// Nothing to add: `BEGIN IMMEDIATE` already holds the write lock for the whole transaction.
const LOCK_ROW: &str = "";

/// How long a writer waits for the file's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_CONNECTIONS: u32 = 8;

/// The store on one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing, with its folder) the file a `sqlite://PATH` URL names.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        if let Some(folder) = options.get_filename().parent()
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder).map_err(|error| {
                StoreError::invalid(
                    "DATABASE_URL",
                    format!("cannot create {}: {error}", folder.display()),
                )
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }
}

async fn begin_write(pool: &sqlx::SqlitePool) -> Result<sqlx::Transaction<'static, Db>> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

async fn run_migrations(pool: &sqlx::SqlitePool) -> Result<usize> {
    let before = shared::applied_migrations(pool).await;
    let mut migrator = sqlx::migrate!("./migrations/sqlite");
    // A rollback runs an older binary on a database a newer one migrated: migrations only add, so
    // the ones this binary does not know are left as they are.
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    let after = shared::applied_migrations(pool).await;
    Ok(usize::try_from(after - before).unwrap_or(0))
}

/// One `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING` inside an immediate transaction:
/// no other writer can run between the pick and the update.
async fn lease_contacts(pool: &sqlx::SqlitePool, request: LeaseRequest) -> Result<Vec<Lease>> {
    shared::check_lease_request(&request)?;
    let mut tx = begin_write(pool).await?;
    let context = shared::lease_context(&mut tx, &request, "").await?;
    shared::reclaim_expired(&mut tx, &request).await?;
    let now = to_ms(request.now);
    let mut update =
        QueryBuilder::<Db>::new("UPDATE contacts SET status = 'leased', lease_owner = ");
    update.push_bind(request.owner.clone());
    update
        .push(", lease_expires_at = ")
        .push_bind(shared::expiry_ms(request.now, request.ttl));
    update
        .push(", attempts = attempts + 1, updated_at = ")
        .push_bind(now);
    update.push(" WHERE id IN (SELECT id FROM contacts WHERE ");
    shared::push_due_conditions(&mut update, &request, &context);
    if let Some(zones) = &context.allowed_zones {
        update
            .push(" AND timezone IN (SELECT value FROM json_each(")
            .push_bind(to_json(zones));
        update.push("))");
    }
    update
        .push(" ORDER BY next_attempt_at, id LIMIT ")
        .push_bind(i64::from(request.limit));
    update.push(") RETURNING id, phone, timezone, attempts");
    let leased: Vec<shared::LeasedRow> = update.build_query_as().fetch_all(&mut *tx).await?;
    let leases = shared::insert_leased_calls(&mut tx, &request, &context, leased).await?;
    tx.commit().await?;
    Ok(leases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_commit_is_synced_to_disk_before_it_is_acknowledged() {
        let folder = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", folder.path().join("vox.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        let (level,): (i64,) = sqlx::query_as("PRAGMA synchronous")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        // 2 is FULL: WAL with NORMAL (1) may lose the last commits on a power cut.
        assert_eq!(level, 2);
    }
}
