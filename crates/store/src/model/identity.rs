//! Operators and machine clients: users, roles and API keys.

use chrono::{DateTime, Utc};
use contracts::UserId;
use std::fmt;
use std::str::FromStr;

/// What an operator or API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "operator" => Ok(Role::Operator),
            "viewer" => Ok(Role::Viewer),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    /// An argon2id PHC string; the store never sees a clear password.
    pub password_hash: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Tokens issued before this are refused: a password change or a sign-out ends every
    /// session the user had.
    pub sessions_valid_after: DateTime<Utc>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// End every session the user has now (a sign-out); a new password does it too.
    pub end_sessions: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    /// The first characters of the key, kept in clear to recognise it in lists.
    pub prefix: String,
    /// SHA-256 (or similar) of the whole key; the key itself is shown once and never stored.
    pub key_hash: String,
    pub role: Role,
    pub created_by: Option<UserId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub role: Role,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A refresh token as the store keeps it: its id (the token's `jti`), its family (every token
/// since one sign-in), and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub id: String,
    pub user_id: UserId,
    pub family: String,
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Its first use: the caller issues the next token of the family.
    Fresh { user_id: UserId, family: String },
    /// Used before: a copy is in someone else's hands. Every token of the family is revoked.
    Reused { user_id: UserId, family: String },
    /// Not known, or expired.
    Unknown,
}
