//! Users and API keys (admin only).

use super::{PageQuery, audit, snapshot};
use crate::AppState;
use crate::auth::{Authorized, check_password_strength, hash_password, new_api_key, role};
use crate::convert;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, patch};
use axum::{Json, Router};
use chrono::Utc;
use contracts::UserId;
use contracts::api::{
    ApiKeyView, CreateApiKey, CreateUser, CreatedApiKey, Page, UpdateUser, UserView,
};
use store::{NewApiKey, NewUser, UserUpdate};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}", patch(update_user))
        .route("/api-keys", get(list_keys).post(create_key))
        .route("/api-keys/{id}", delete(revoke_key))
}

async fn list_users(
    State(state): State<AppState>,
    _: Authorized<role::Admin>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<UserView>>> {
    let users = state.store.list_users(query.page()?).await?;
    Ok(Json(convert::page(users, convert::user)))
}

async fn create_user(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Admin>,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    check_password_strength("password", &body.password)?;
    let user = state
        .store
        .create_user(NewUser {
            email: body.email,
            name: body.name,
            password_hash: hash_password(body.password).await?,
            role: convert::role_in(body.role),
        })
        .await?;
    let view = convert::user(&user);
    audit(
        &state,
        &principal,
        "user.create",
        "user",
        user.id,
        None,
        snapshot(&view),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn update_user(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Admin>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    let before = convert::user(&state.store.user(UserId(id)).await?);
    let password_hash = match body.password {
        Some(password) => {
            check_password_strength("password", &password)?;
            Some(hash_password(password).await?)
        }
        None => None,
    };
    let user = state
        .store
        .update_user(
            UserId(id),
            UserUpdate {
                name: body.name,
                password_hash,
                role: body.role.map(convert::role_in),
                disabled: body.disabled,
                // A new password ends the sessions the old one opened (the store does it).
                end_sessions: false,
            },
        )
        .await?;
    let view = convert::user(&user);
    audit(
        &state,
        &principal,
        "user.update",
        "user",
        id,
        snapshot(&before),
        snapshot(&view),
    )
    .await?;
    Ok(Json(view))
}

async fn list_keys(
    State(state): State<AppState>,
    _: Authorized<role::Admin>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<ApiKeyView>>> {
    let keys = state.store.list_api_keys(query.page()?).await?;
    Ok(Json(convert::page(keys, convert::api_key)))
}

async fn create_key(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Admin>,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let (key, key_hash) = new_api_key();
    let stored = state
        .store
        .create_api_key(NewApiKey {
            name: body.name,
            prefix: key[..12].to_owned(),
            key_hash,
            role: convert::role_in(body.role),
            created_by: principal.user_id,
        })
        .await?;
    let view = convert::api_key(&stored);
    audit(
        &state,
        &principal,
        "api_key.create",
        "api_key",
        stored.id,
        None,
        snapshot(&view),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey { key, api_key: view }),
    ))
}

async fn revoke_key(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<role::Admin>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ApiKeyView>> {
    let revoked = state.store.revoke_api_key(id, Utc::now()).await?;
    let view = convert::api_key(&revoked);
    audit(
        &state,
        &principal,
        "api_key.revoke",
        "api_key",
        id,
        None,
        snapshot(&view),
    )
    .await?;
    Ok(Json(view))
}
