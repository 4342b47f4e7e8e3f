//! `StoreError`: the typed failures callers match on.
//!
//! Bad input, not found, conflicts, stale transitions and fencing.

use contracts::{CallId, CallState};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Bad input, rejected before anything is written; `field` names it (`contacts[3].phone`).
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// Input names something that does not exist (`bot_id` of a bot never created).
    #[error("{field}: {message}")]
    UnknownReference { field: String, message: String },
    /// A uniqueness rule was broken (an email, a campaign name, a phone in a campaign).
    #[error("{entity} already exists: {detail}")]
    Conflict {
        entity: &'static str,
        detail: String,
    },
    /// The move itself is not allowed by the call state machine.
    #[error("a call cannot move from {from} to {to}")]
    IllegalTransition { from: CallState, to: CallState },
    /// The call was not in the expected state: a late or duplicate event; nothing changed.
    #[error("call {call_id} is {actual}, not {expected}; the event is stale")]
    StaleTransition {
        call_id: CallId,
        expected: CallState,
        actual: CallState,
    },
    /// The entity is not in a state that allows the operation (a paused campaign cannot lease).
    #[error("{entity} {id} is {actual}: {message}")]
    WrongState {
        entity: &'static str,
        id: String,
        actual: String,
        message: String,
    },
    /// The caller's leader fence is no longer valid: another dialler took over.
    #[error("leader fence of {holder} (token {token}) is no longer valid")]
    Fenced { holder: String, token: i64 },
    /// A stored value that this version cannot read (hand-edited row, newer schema).
    #[error("corrupt {column} in the database: {message}")]
    Corrupt {
        column: &'static str,
        message: String,
    },
    #[error("database URL {0:?} is neither sqlite:// nor postgres://")]
    UnsupportedUrl(String),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Database(sqlx::Error),
}

impl StoreError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl ToString) -> Self {
        StoreError::Invalid {
            field: field.into(),
            message: message.to_string(),
        }
    }

    pub(crate) fn unknown(field: impl Into<String>, message: impl ToString) -> Self {
        StoreError::UnknownReference {
            field: field.into(),
            message: message.to_string(),
        }
    }

    pub(crate) fn not_found(entity: &'static str, id: impl ToString) -> Self {
        StoreError::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    pub(crate) fn corrupt(column: &'static str, message: impl ToString) -> Self {
        StoreError::Corrupt {
            column,
            message: message.to_string(),
        }
    }

    /// Maps a unique-constraint violation to [`StoreError::Conflict`] for `entity`.
    pub(crate) fn conflict_on(entity: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |error| match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                entity,
                detail: db.message().to_owned(),
            },
            _ => StoreError::from(error),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error)
    }
}
