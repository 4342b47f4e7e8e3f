//! Users and API keys.

use super::{Pool, now_ms, simple_page};
use crate::error::{Result, StoreError};
use crate::model::*;
use crate::rows::{ApiKeyRow, UserRow};
use crate::validate;
use chrono::{DateTime, Utc};
use contracts::UserId;

const USER_COLUMNS: &str =
    "id, email, name, password_hash, role, disabled, created_at, updated_at, sessions_valid_after";
const API_KEY_COLUMNS: &str =
    "id, name, prefix, key_hash, role, created_by, created_at, last_used_at, revoked_at";

pub(super) async fn create_user(pool: &Pool, user: NewUser) -> Result<User> {
    validate::user(&user)?;
    let now = now_ms();
    let sql = format!(
        "INSERT INTO users (email, name, password_hash, role, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, FALSE, $5, $5) RETURNING {USER_COLUMNS}"
    );
    let row: UserRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user.email.trim().to_lowercase())
        .bind(user.name.trim())
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(now)
        .fetch_one(pool)
        .await
        .map_err(StoreError::conflict_on("user"))?;
    row.try_into()
}

pub(super) async fn user(pool: &Pool, id: UserId) -> Result<User> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| StoreError::not_found("user", id))?
        .try_into()
}

pub(super) async fn user_by_email(pool: &Pool, email: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
    let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(email.trim().to_lowercase())
        .fetch_optional(pool)
        .await?;
    row.map(User::try_from).transpose()
}

pub(super) async fn list_users(pool: &Pool, page: Page) -> Result<Paged<User>> {
    simple_page(pool, USER_COLUMNS, "users", None, page, UserRow::row_id).await
}

pub(super) async fn update_user(pool: &Pool, id: UserId, update: UserUpdate) -> Result<User> {
    if let Some(name) = &update.name
        && name.trim().is_empty()
    {
        return Err(StoreError::invalid("name", "must not be empty"));
    }
    let sql = format!(
        "UPDATE users SET name = COALESCE($2, name), password_hash = COALESCE($3, password_hash), \
         role = COALESCE($4, role), disabled = COALESCE($5, disabled), updated_at = $6, \
         sessions_valid_after = CASE WHEN $7 THEN $6 ELSE sessions_valid_after END \
         WHERE id = $1 RETURNING {USER_COLUMNS}"
    );
    let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .bind(update.name.as_deref().map(str::trim))
        .bind(update.password_hash.clone())
        .bind(update.role.map(Role::as_str))
        .bind(update.disabled)
        .bind(now_ms())
        .bind(update.end_sessions || update.password_hash.is_some())
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| StoreError::not_found("user", id))?
        .try_into()
}

pub(super) async fn create_api_key(pool: &Pool, key: NewApiKey) -> Result<ApiKey> {
    if key.name.trim().is_empty() {
        return Err(StoreError::invalid("name", "must not be empty"));
    }
    if key.key_hash.len() < 32 {
        return Err(StoreError::invalid(
            "key_hash",
            "must be a full hash of the key",
        ));
    }
    let sql = format!(
        "INSERT INTO api_keys (name, prefix, key_hash, role, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {API_KEY_COLUMNS}"
    );
    let row: ApiKeyRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key.name.trim())
        .bind(&key.prefix)
        .bind(&key.key_hash)
        .bind(key.role.as_str())
        .bind(key.created_by.map(|id| id.0))
        .bind(now_ms())
        .fetch_one(pool)
        .await
        .map_err(StoreError::conflict_on("api key"))?;
    row.try_into()
}

/// How stale `last_used_at` may get before a use writes it again: a busy key does not make
/// every request a write.
const LAST_USED_EVERY_MS: i64 = 60_000;

/// The key with this hash. Only a live key's use is written (at most once a minute), so unknown
/// and revoked keys cost a read, never a write (L2).
pub(super) async fn api_key_by_hash(
    pool: &Pool,
    key_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<ApiKey>> {
    let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1");
    let row: Option<ApiKeyRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key_hash)
        .fetch_optional(pool)
        .await?;
    let Some(mut key) = row.map(ApiKey::try_from).transpose()? else {
        return Ok(None);
    };
    let stale = key
        .last_used_at
        .is_none_or(|at| to_ms(now) - to_ms(at) >= LAST_USED_EVERY_MS);
    if key.revoked_at.is_none() && stale {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(key.id)
            .bind(to_ms(now))
            .execute(pool)
            .await?;
        key.last_used_at = Some(now);
    }
    Ok(Some(key))
}

pub(super) async fn list_api_keys(pool: &Pool, page: Page) -> Result<Paged<ApiKey>> {
    simple_page(
        pool,
        API_KEY_COLUMNS,
        "api_keys",
        None,
        page,
        ApiKeyRow::row_id,
    )
    .await
}

pub(super) async fn revoke_api_key(pool: &Pool, id: i64, now: DateTime<Utc>) -> Result<ApiKey> {
    let sql = format!(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 \
         RETURNING {API_KEY_COLUMNS}"
    );
    let row: Option<ApiKeyRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(to_ms(now))
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| StoreError::not_found("api key", id))?
        .try_into()
}

/// Keeps a refresh token just issued; the user's expired ones are pruned.
pub(super) async fn record_refresh_token(
    pool: &Pool,
    token: NewRefreshToken,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut tx = super::super::begin_write(pool).await?;
    sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1 AND expires_at <= $2")
        .bind(token.user_id.0)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO refresh_tokens (id, user_id, family, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&token.id)
    .bind(token.user_id.0)
    .bind(&token.family)
    .bind(to_ms(token.expires_at))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Uses a refresh token once, in one transaction: its first use marks it used; a second use
/// marks every token of its family used, so none of them works again.
pub(super) async fn use_refresh_token(
    pool: &Pool,
    id: &str,
    now: DateTime<Utc>,
) -> Result<RefreshUse> {
    let now = to_ms(now);
    let mut tx = super::super::begin_write(pool).await?;
    let fresh: Option<(i64, String)> = sqlx::query_as(
        "UPDATE refresh_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL \
         AND expires_at > $2 RETURNING user_id, family",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((user_id, family)) = fresh {
        tx.commit().await?;
        return Ok(RefreshUse::Fresh {
            user_id: UserId(user_id),
            family,
        });
    }
    let used: Option<(i64, String)> = sqlx::query_as(
        "SELECT user_id, family FROM refresh_tokens WHERE id = $1 AND used_at IS NOT NULL",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id, family)) = used else {
        tx.rollback().await?;
        return Ok(RefreshUse::Unknown);
    };
    sqlx::query("UPDATE refresh_tokens SET used_at = COALESCE(used_at, $2) WHERE family = $1")
        .bind(&family)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(RefreshUse::Reused {
        user_id: UserId(user_id),
        family,
    })
}
