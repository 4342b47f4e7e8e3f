//! `ApiError`, the one HTTP error type, and `ApiJson`, the body extractor naming the bad field.
//!
//! Every error renders as `{"error": {"code", "message", "field"}}`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contracts::api::ErrorResponse;
use contracts::error::ErrorBody;
use serde::de::DeserializeOwned;
use store::StoreError;

/// An HTTP failure with a stable code and a message that is safe to show.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds the caller should wait before trying again, sent as `Retry-After` (a 429 or 503).
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 429: the caller is over a limit and may try again in `seconds`.
    pub fn too_many(code: &'static str, message: impl Into<String>, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        }
    }

    /// 422: the named field failed validation.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation.invalid",
                message,
            )
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "auth.unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "auth.forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 500 with a generic message; the real error goes to the log only.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse {
            error: ErrorBody {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Invalid { field, message } => ApiError::invalid(field, message),
            StoreError::NotFound { .. } => ApiError::not_found(error.to_string()),
            StoreError::Conflict { entity, .. } => {
                ApiError::conflict("conflict.exists", format!("{entity} already exists"))
            }
            StoreError::IllegalTransition { .. }
            | StoreError::StaleTransition { .. }
            | StoreError::WrongState { .. }
            | StoreError::Fenced { .. } => ApiError::conflict("conflict.state", error.to_string()),
            StoreError::Corrupt { .. }
            | StoreError::UnsupportedUrl(_)
            | StoreError::Migrate(_)
            | StoreError::Database(_) => ApiError::internal(error),
        }
    }
}

/// A JSON body: 400 when it is not JSON, 422 naming the field when it does not fit the type,
/// 413 (from the body limit) when it is too large.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.not_json",
                "send the body as application/json",
            ));
        }
        let bytes = body_bytes(request, state, "the body is too large").await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The whole body, within the route's body limit: 413 `request.too_large` saying `too_large`
/// beyond it, 400 when it cannot be read.
pub async fn body_bytes<S: Send + Sync>(
    request: Request,
    state: &S,
    too_large: &str,
) -> ApiResult<Bytes> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request.too_large",
                    too_large,
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "request.unreadable",
                    rejection.body_text(),
                )
            }
        })
}

/// Parses JSON, telling syntax errors (400) from values that do not fit (422 with the path).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "request.malformed_json",
                format!("the body is not valid JSON: {inner}"),
            );
        }
        let field = match missing_field(&inner.to_string()) {
            Some(name) if path == "." => name,
            Some(name) => format!("{path}.{name}"),
            None => path,
        };
        ApiError {
            field: Some(field),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation.invalid",
                inner.to_string(),
            )
        }
    })
}

/// serde names a missing field only in its message: ``missing field `name` ``.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_owned)
}

/// A query string: 422 naming the parameter when a value does not fit.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|error| {
                let path = error.path().to_string();
                let message = error.into_inner().to_string();
                let field = missing_field(&message).unwrap_or(path);
                ApiError::invalid(field, message)
            })
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

/// Path parameters: 422 naming the parameter when one does not parse (`/bots/abc`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(ApiError::invalid("path", rejection.body_text())),
        }
    }
}
