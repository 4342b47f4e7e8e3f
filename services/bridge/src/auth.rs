//! Authentication and authorization: passwords, tokens, API keys, roles, login rate limits.
//!
//! Passwords are argon2id, access and refresh tokens JWT; the fleet secret authenticates workers.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use contracts::UserId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};
use store::Role;
use subtle::ConstantTimeEq;

/// Prefix of every API key, so a bearer token is recognised as a key without a database look-up.
pub const API_KEY_PREFIX: &str = "vox_";

/// Hashes a password with argon2id and a random salt (PHC string), off the async threads.
pub async fn hash_password(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::PasswordHasher;
        argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

/// At most this many argon2 runs at once (each holds about 19 MiB): a flood of logins waits
/// here rather than filling the blocking pool and the memory.
fn argon2_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        tokio::sync::Semaphore::new(2 * cores)
    })
}

/// A hash of a password nobody knows: an unknown email is checked against it, so it takes as
/// long to refuse as a known one (no user enumeration by timing).
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        use argon2::password_hash::PasswordHasher;
        let secret = format!("{:032x}", rand::random::<u128>());
        argon2::Argon2::default()
            .hash_password(secret.as_bytes())
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

/// Checks a password against a stored PHC string (`None`: the decoy), off the async threads
/// and at most a few at a time.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    let Ok(_slot) = argon2_slots().acquire().await else {
        return false;
    };
    let known = hash.is_some();
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| decoy_hash().to_owned());
        use argon2::password_hash::{PasswordVerifier, phc::PasswordHash};
        PasswordHash::new(&hash)
            .map(|parsed| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
            && known
    })
    .await
    .unwrap_or(false)
}

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD_LEN: usize = 10;

pub fn check_password_strength(field: &str, password: &str) -> ApiResult<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::invalid(
            field,
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// A new random API key (`vox_` + 40 hex characters) and its SHA-256 hash.
pub fn new_api_key() -> (String, String) {
    let bytes: [u8; 20] = rand::random();
    let key = format!("{API_KEY_PREFIX}{}", hex::encode(bytes));
    let hash = hash_api_key(&key);
    (key, hash)
}

pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TokenKind {
    Access,
    Refresh,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    typ: TokenKind,
    iat: i64,
    exp: i64,
    /// When it was issued, in milliseconds: a token older than the user's
    /// `sessions_valid_after` is refused (0 in tokens from before this claim).
    #[serde(default)]
    iat_ms: i64,
    /// A refresh token's id and family (M10: each is used once); absent from access tokens and
    /// from refresh tokens issued before rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fam: Option<String>,
}

/// A refresh token just issued, with what the store keeps of it.
#[derive(Debug, Clone)]
pub struct IssuedRefresh {
    pub token: String,
    pub record: store::NewRefreshToken,
}

/// A verified refresh token: its subject, and its id and family when it has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshSubject {
    pub subject: TokenSubject,
    pub id: Option<String>,
    pub family: Option<String>,
}

/// Signs and checks HS256 tokens with `JWT_SECRET`.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_ttl", &self.access_ttl)
            .finish_non_exhaustive()
    }
}

/// A verified token's subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSubject {
    pub user_id: UserId,
    /// When the token was issued, in milliseconds.
    pub issued_ms: i64,
}

impl TokenSubject {
    /// Whether `user` still accepts this token: enabled, and not signed out or given a new
    /// password since it was issued (M10).
    pub fn accepted_by(&self, user: &store::User) -> bool {
        !user.disabled && self.issued_ms >= user.sessions_valid_after.timestamp_millis()
    }
}

impl Tokens {
    pub fn new(secret: &SecretString, access_ttl: Duration, refresh_ttl: Duration) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            access_ttl,
            refresh_ttl,
        }
    }

    fn issue(
        &self,
        user: &store::User,
        kind: TokenKind,
        ttl: Duration,
        refresh: Option<(&str, &str)>,
    ) -> ApiResult<String> {
        let issued = Utc::now();
        let now = issued.timestamp();
        let claims = Claims {
            sub: user.id.to_string(),
            role: user.role.as_str().to_owned(),
            typ: kind,
            iat: now,
            exp: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            iat_ms: issued.timestamp_millis(),
            jti: refresh.map(|(id, _)| id.to_owned()),
            fam: refresh.map(|(_, family)| family.to_owned()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    pub fn issue_access(&self, user: &store::User) -> ApiResult<String> {
        self.issue(user, TokenKind::Access, self.access_ttl, None)
    }

    /// The next refresh token of `family`, or the first of a new family (a sign-in).
    pub fn issue_refresh(
        &self,
        user: &store::User,
        family: Option<&str>,
    ) -> ApiResult<IssuedRefresh> {
        let id = hex::encode(rand::random::<[u8; 16]>());
        let family = family.map_or_else(|| hex::encode(rand::random::<[u8; 16]>()), str::to_owned);
        let token = self.issue(
            user,
            TokenKind::Refresh,
            self.refresh_ttl,
            Some((&id, &family)),
        )?;
        let ttl = chrono::Duration::from_std(self.refresh_ttl).unwrap_or(chrono::Duration::MAX);
        Ok(IssuedRefresh {
            token,
            record: store::NewRefreshToken {
                id,
                user_id: user.id,
                family,
                expires_at: Utc::now() + ttl,
            },
        })
    }

    fn verify(&self, token: &str, kind: TokenKind) -> ApiResult<TokenSubject> {
        self.verify_claims(token, kind).map(|(subject, _)| subject)
    }

    fn verify_claims(&self, token: &str, kind: TokenKind) -> ApiResult<(TokenSubject, Claims)> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| ApiError::unauthorized("the token is invalid or expired"))?;
        if data.claims.typ != kind {
            return Err(ApiError::unauthorized("wrong kind of token"));
        }
        let id = data
            .claims
            .sub
            .parse()
            .map_err(|_| ApiError::unauthorized("the token is invalid"))?;
        let subject = TokenSubject {
            user_id: UserId(id),
            issued_ms: data.claims.iat_ms,
        };
        Ok((subject, data.claims))
    }

    pub fn verify_access(&self, token: &str) -> ApiResult<TokenSubject> {
        self.verify(token, TokenKind::Access)
    }

    pub fn verify_refresh(&self, token: &str) -> ApiResult<RefreshSubject> {
        let (subject, claims) = self.verify_claims(token, TokenKind::Refresh)?;
        Ok(RefreshSubject {
            subject,
            id: claims.jti,
            family: claims.fam,
        })
    }
}

/// Who is calling: an operator (by JWT) or a machine client (by API key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `user:<id>` or `api_key:<id>`, as written to the audit log.
    pub actor: String,
    pub role: Role,
    pub user_id: Option<UserId>,
}

impl Principal {
    /// 403 unless the caller's role is at least `role`.
    pub fn require(&self, role: Role) -> ApiResult<()> {
        if self.role >= role {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "this needs the {role} role; you are {}",
            self.role
        )))
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))?;
        if token.starts_with(API_KEY_PREFIX) {
            let key = state
                .store
                .api_key_by_hash(&hash_api_key(token), Utc::now())
                .await?
                .filter(|key| key.revoked_at.is_none())
                .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))?;
            return Ok(Principal {
                actor: format!("api_key:{}", key.id),
                role: key.role,
                user_id: None,
            });
        }
        let subject = state.tokens.verify_access(token)?;
        let user = match state.store.user(subject.user_id).await {
            Ok(user) if subject.accepted_by(&user) => user,
            Ok(_) | Err(store::StoreError::NotFound { .. }) => {
                return Err(ApiError::unauthorized("the account is disabled or gone"));
            }
            Err(other) => return Err(other.into()),
        };
        Ok(Principal {
            actor: format!("user:{}", user.id),
            role: user.role,
            user_id: Some(user.id),
        })
    }
}

/// A fleet worker, authenticated with `Authorization: Bearer $VOXCORE_SECRET`.
#[derive(Debug, Clone, Copy)]
pub struct Fleet;

impl FromRequestParts<AppState> for Fleet {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let presented = bearer(parts).unwrap_or_default().as_bytes();
        let expected = state.config.voxcore_secret.expose_secret().as_bytes();
        if bool::from(presented.ct_eq(expected)) {
            return Ok(Fleet);
        }
        Err(ApiError::unauthorized("this route needs the fleet secret"))
    }
}

/// Failed logins allowed within [`LoginLimiter::window`]: per account from one address
/// (`max_per_account`), per account from everywhere (ten times that: a spread-out guess), and
/// per address. A guesser on one address cannot lock the account's owner out elsewhere (M8).
#[derive(Debug)]
pub struct LoginLimiter {
    pub max_per_account: usize,
    pub max_per_address: usize,
    pub window: Duration,
    failures: tokio::sync::Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(max_per_account: usize, max_per_address: usize, window: Duration) -> Self {
        Self {
            max_per_account,
            max_per_address,
            window,
            failures: Default::default(),
        }
    }

    /// Keys kept before expired ones are swept.
    const MAX_KEYS: usize = 10_000;

    /// The keys an attempt counts under: the account from this address, the account, the address.
    fn keys(account: &str, address: &str) -> [String; 3] {
        // An email is at most 320 characters: a longer "account" is not kept whole.
        let account: String = account.trim().to_lowercase().chars().take(320).collect();
        [
            format!("account:{account}|{address}"),
            format!("account:{account}"),
            format!("address:{address}"),
        ]
    }

    fn limits(&self) -> [usize; 3] {
        [
            self.max_per_account,
            self.max_per_account * 10,
            self.max_per_address,
        ]
    }

    /// Takes one attempt for the account and the address, or `Err` with the seconds to wait when
    /// either is locked out. The attempt counts as a failure from now on (so concurrent attempts
    /// cannot all pass the check) until [`LoginLimiter::succeeded`] gives it back.
    pub async fn reserve(&self, account: &str, address: &str) -> Result<Instant, u64> {
        let now = Instant::now();
        let mut failures = self.failures.lock().await;
        let keys = Self::keys(account, address);
        for (key, max) in keys.iter().zip(self.limits()) {
            if let Some(times) = failures.get_mut(key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > self.window)
                {
                    times.pop_front();
                }
                if times.len() >= max {
                    let oldest = *times.front().expect("non-empty");
                    return Err(self
                        .window
                        .saturating_sub(now.duration_since(oldest))
                        .as_secs()
                        .max(1));
                }
            }
        }
        // Many distinct keys (a spray of made-up emails) are dropped once their window is over.
        if failures.len() >= Self::MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) <= self.window)
            });
        }
        for key in keys {
            failures.entry(key).or_default().push_back(now);
        }
        Ok(now)
    }

    /// A successful login clears the account's failures from this address and gives the
    /// attempt back to the account and the address.
    pub async fn succeeded(&self, account: &str, address: &str, attempt: Instant) {
        let [here, account_key, address_key] = Self::keys(account, address);
        let mut failures = self.failures.lock().await;
        failures.remove(&here);
        for key in [account_key, address_key] {
            if let Some(times) = failures.get_mut(&key)
                && let Some(at) = times.iter().position(|t| *t == attempt)
            {
                times.remove(at);
            }
        }
    }
}

/// The least role a route needs, as a type: checked while the request's head is read, before
/// any body is parsed, so a caller without the role learns nothing about the input's validity.
pub mod role {
    /// A role as a marker type.
    pub trait MinRole {
        const ROLE: store::Role;
    }
    #[derive(Debug)]
    pub struct Viewer;
    #[derive(Debug)]
    pub struct Operator;
    #[derive(Debug)]
    pub struct Admin;
    impl MinRole for Viewer {
        const ROLE: store::Role = store::Role::Viewer;
    }
    impl MinRole for Operator {
        const ROLE: store::Role = store::Role::Operator;
    }
    impl MinRole for Admin {
        const ROLE: store::Role = store::Role::Admin;
    }
}

/// A [`Principal`] that has at least the role `R`.
#[derive(Debug)]
pub struct Authorized<R>(pub Principal, pub std::marker::PhantomData<R>);

impl<R: role::MinRole + Send + Sync> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        principal.require(R::ROLE)?;
        Ok(Authorized(principal, std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The algorithm, version and cost parameters of a PHC string (`$argon2id$v=19$m=…,t=…,p=…`).
    fn cost(phc: &str) -> Vec<&str> {
        phc.split('$').skip(1).take(3).collect()
    }

    #[tokio::test]
    async fn the_decoy_hash_costs_what_a_users_hash_costs_and_verifies_nothing() {
        let users = hash_password("correct horse battery".into()).await.unwrap();
        assert_eq!(cost(decoy_hash()), cost(&users));
        assert_eq!(cost(&users).len(), 3, "{users}");
        assert!(verify_password("correct horse battery".into(), Some(users)).await);
        assert!(!verify_password("correct horse battery".into(), None).await);
    }
}
