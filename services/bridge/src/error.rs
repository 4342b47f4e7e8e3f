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

    /// 404: the named field refers to something that does not exist (a bot, an account).
    pub fn unknown(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::not_found(message)
        }
    }

    /// 409: the named field is well formed, but what it refers to is in a state that refuses
    /// the request now (an archived bot, a number on the do-not-call list).
    pub fn refused(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::conflict("conflict.state", message)
        }
    }

    /// 403: the platform's network policy refuses the URL in the named field (a private
    /// address, outside `FLEET_NETWORKS`, a platform key's destination); only an admin's
    /// configuration can allow it. A URL that is not one at all is 422.
    pub fn egress(field: impl Into<String>, error: egress::EgressError) -> Self {
        let status = match error {
            egress::EgressError::BadUrl(_) | egress::EgressError::BadNetwork(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::FORBIDDEN,
        };
        let code = if status == StatusCode::FORBIDDEN {
            "egress.forbidden"
        } else {
            "validation.invalid"
        };
        Self {
            field: Some(field.into()),
            ..Self::new(status, code, error.to_string())
        }
    }

    /// 403 for a policy refusal that is not an [`egress::EgressError`].
    pub fn policy(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(StatusCode::FORBIDDEN, "egress.forbidden", message)
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
            StoreError::UnknownReference { field, message } => ApiError::unknown(field, message),
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
    T: DeserializeOwned + schemars::JsonSchema,
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
        let value = parse_value(&bytes)?;
        // serde reads a struct from an array of its fields in order; the document says object.
        // The type's schema is made only for a body that is not an object (rare).
        let wants_object = || {
            T::json_schema(&mut schemars::SchemaGenerator::default())
                .get("type")
                .is_some_and(|kind| kind == "object")
        };
        if !value.is_object() && wants_object() {
            return Err(ApiError::invalid("body", "must be a JSON object"));
        }
        typed(value).map(ApiJson)
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
///
/// A number with no fractional part is an integer, as JSON Schema counts (`3.0` is an `integer`),
/// so an integer field takes it: the body is read as a `Value` and such numbers made integers.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    typed(parse_value(bytes)?)
}

/// The body as JSON (400 when it is not), whole numbers made integers.
fn parse_value(bytes: &[u8]) -> ApiResult<serde_json::Value> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.malformed_json",
            format!("the body is not valid JSON: {error}"),
        )
    })?;
    whole_numbers_as_integers(&mut value);
    Ok(value)
}

/// A JSON value as `T`: 422 naming the path of what does not fit.
pub(crate) fn typed<T: DeserializeOwned>(value: serde_json::Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
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

/// Turns every float with no fractional part that an `i64` holds into that integer.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            if let Some(float) = number.as_f64()
                && float.fract() == 0.0
                && float >= i64::MIN as f64
                && float < i64::MAX as f64
            {
                *value = serde_json::Value::from(float as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(fields) => {
            fields.values_mut().for_each(whole_numbers_as_integers)
        }
        _ => {}
    }
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
