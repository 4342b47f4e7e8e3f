//! The PostgreSQL backend.
//!
//! Leases pick rows with `FOR UPDATE SKIP LOCKED`, so concurrent leasers never wait on each other's
//! rows.

// Deliberately compiled once per backend: see the Design Notes in lib.rs.
#[allow(clippy::duplicate_mod)]
#[path = "shared/mod.rs"]
mod shared;

use crate::Backend;
use crate::error::Result;
use crate::model::{Lease, LeaseRequest, to_ms};
use sqlx::QueryBuilder;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

type Db = sqlx::Postgres;
type ThisStore = PgStore;
const BACKEND: Backend = Backend::Postgres;
/// Locks a row read inside a write transaction until it commits.
const LOCK_ROW: &str = " FOR UPDATE";

const MAX_CONNECTIONS: u32 = 16;

/// The store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: sqlx::PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }
}

async fn begin_write(pool: &sqlx::PgPool) -> Result<sqlx::Transaction<'static, Db>> {
    Ok(pool.begin().await?)
}

async fn run_migrations(pool: &sqlx::PgPool) -> Result<usize> {
    let before = shared::applied_migrations(pool).await;
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    // A rollback runs an older binary on a database a newer one migrated: migrations only add, so
    // the ones this binary does not know are left as they are.
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    let after = shared::applied_migrations(pool).await;
    Ok(usize::try_from(after - before).unwrap_or(0))
}

/// Picks due rows with `FOR UPDATE SKIP LOCKED` and updates them in one statement. The leader
/// row is read `FOR SHARE`, so a takeover waits until this lease has committed.
async fn lease_contacts(pool: &sqlx::PgPool, request: LeaseRequest) -> Result<Vec<Lease>> {
    shared::check_lease_request(&request)?;
    let mut tx = begin_write(pool).await?;
    let context = shared::lease_context(&mut tx, &request, " FOR SHARE").await?;
    shared::reclaim_expired(&mut tx, &request).await?;
    let mut update = QueryBuilder::<Db>::new("WITH picked AS (SELECT id FROM contacts WHERE ");
    shared::push_due_conditions(&mut update, &request, &context);
    if let Some(zones) = &context.allowed_zones {
        update
            .push(" AND timezone = ANY(")
            .push_bind(zones.clone())
            .push(")");
    }
    update
        .push(" ORDER BY next_attempt_at, id LIMIT ")
        .push_bind(i64::from(request.limit));
    update.push(" FOR UPDATE SKIP LOCKED) UPDATE contacts c SET status = 'leased', lease_owner = ");
    update.push_bind(request.owner.clone());
    update
        .push(", lease_expires_at = ")
        .push_bind(shared::expiry_ms(request.now, request.ttl));
    update
        .push(", attempts = c.attempts + 1, updated_at = ")
        .push_bind(to_ms(request.now));
    update.push(
        " FROM picked WHERE c.id = picked.id RETURNING c.id, c.phone, c.timezone, c.attempts",
    );
    let leased: Vec<shared::LeasedRow> = update.build_query_as().fetch_all(&mut *tx).await?;
    let leases = shared::insert_leased_calls(&mut tx, &request, &context, leased).await?;
    tx.commit().await?;
    Ok(leases)
}
