//! `/auth/login`, `/auth/refresh`, `/auth/me`: sessions for operators.

use crate::AppState;
use crate::auth::{Principal, verify_password};
use crate::convert;
use crate::error::{ApiError, ApiJson, ApiResult};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use contracts::api::{LoginRequest, RefreshRequest, TokenResponse, UserView};
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
}

/// A new access token and the next refresh token of `family` (a new family for a sign-in),
/// kept in the store so that it is used once.
async fn session(
    state: &AppState,
    user: &store::User,
    family: Option<&str>,
) -> ApiResult<TokenResponse> {
    let refresh = state.tokens.issue_refresh(user, family)?;
    state
        .store
        .record_refresh_token(refresh.record, Utc::now())
        .await?;
    Ok(TokenResponse {
        access_token: state.tokens.issue_access(user)?,
        token_type: "Bearer".into(),
        expires_in: state.tokens.access_ttl.as_secs(),
        refresh_token: refresh.token,
        user: convert::user(user),
    })
}

/// The client's address: the peer's, or behind a proxy in `TRUSTED_PROXIES` the last address in
/// `X-Forwarded-For` that is not one of those proxies (the first one a trusted proxy saw). The
/// header is ignored from anyone else, so a client cannot pick its own address.
pub(crate) fn client_address(
    peer: std::net::IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &egress::Allowed,
) -> std::net::IpAddr {
    if !trusted.contains(peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in forwarded.into_iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(address) if trusted.contains(address) => client = address,
            Ok(address) => return address,
            // Garbage from beyond the trusted proxies: the last trusted hop is all we know.
            Err(_) => return client,
        }
    }
    client
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let address = client_address(peer.ip(), &headers, &state.config.trusted_proxies).to_string();
    let attempt = match state.limiter.reserve(&request.email, &address).await {
        Ok(attempt) => attempt,
        Err(wait) => {
            return Err(ApiError::too_many(
                "auth.rate_limited",
                format!("too many failed sign-ins; try again in {wait} s"),
                wait,
            ));
        }
    };
    let user = state.store.user_by_email(&request.email).await?;
    // An unknown email is checked against a decoy hash: as slow as a known one.
    let hash = user.as_ref().map(|user| user.password_hash.clone());
    let verified = verify_password(request.password.clone(), hash).await;
    match user {
        Some(user) if verified && !user.disabled => {
            state
                .limiter
                .succeeded(&request.email, &address, attempt)
                .await;
            Ok(Json(session(&state, &user, None).await?))
        }
        // The reserved attempt stays counted as a failure.
        _ => Err(ApiError::unauthorized(
            "wrong email or password, or the account is disabled",
        )),
    }
}

async fn refresh(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let presented = state.tokens.verify_refresh(&request.refresh_token)?;
    let subject = presented.subject;
    // Each refresh token works once (M10). One issued before rotation starts a family.
    let family = match &presented.id {
        None => None,
        Some(id) => match state.store.use_refresh_token(id, Utc::now()).await? {
            store::RefreshUse::Fresh { family, .. } => Some(family),
            store::RefreshUse::Reused { user_id, family } => {
                // A copy is in someone else's hands: the family is revoked, and every session
                // of the user ends, access tokens too.
                tracing::warn!(user = user_id.0, %family, "a refresh token was used twice");
                let end = store::UserUpdate {
                    end_sessions: true,
                    ..Default::default()
                };
                state.store.update_user(user_id, end).await?;
                return Err(ApiError::unauthorized(
                    "this refresh token was used before: every session is signed out",
                ));
            }
            store::RefreshUse::Unknown => {
                return Err(ApiError::unauthorized(
                    "the refresh token is unknown or expired",
                ));
            }
        },
    };
    let user = state
        .store
        .user(subject.user_id)
        .await
        .ok()
        .filter(|user| subject.accepted_by(user))
        .ok_or_else(|| {
            ApiError::unauthorized(
                "the session has ended (signed out, a new password, or the account is disabled)",
            )
        })?;
    Ok(Json(session(&state, &user, family.as_deref()).await?))
}

/// Ends every session of the signed-in user: their refresh tokens, and access tokens too, stop
/// working at once (M10).
async fn logout(State(state): State<AppState>, principal: Principal) -> ApiResult<StatusCode> {
    let Some(id) = principal.user_id else {
        return Err(ApiError::invalid(
            "authorization",
            "an API key has no session to end; revoke the key instead",
        ));
    };
    let end = store::UserUpdate {
        end_sessions: true,
        ..store::UserUpdate::default()
    };
    state.store.update_user(id, end).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<UserView>> {
    let id = principal
        .user_id
        .ok_or_else(|| ApiError::not_found("an API key has no user"))?;
    Ok(Json(convert::user(&state.store.user(id).await?)))
}
