//! Recordings from the object store (a local directory, or an S3-compatible bucket).
//!
//! They are served with HTTP range support (a browser can seek) and short-lived signed links for
//! `<audio src>`.

use crate::error::{ApiError, ApiResult};
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};

/// Resolves a recording reference to a file inside `root`; refuses anything that escapes it.
pub fn resolve(root: &Path, uri: &str) -> ApiResult<PathBuf> {
    let relative = uri.strip_prefix("file://").unwrap_or(uri);
    let root = root
        .canonicalize()
        .map_err(|_| ApiError::not_found("the recordings directory does not exist"))?;
    let candidate = Path::new(relative);
    let joined = if candidate.is_absolute() {
        candidate.to_path_buf()
    } else {
        root.join(candidate)
    };
    let file = joined
        .canonicalize()
        .map_err(|_| ApiError::not_found("the recording file is missing"))?;
    if !file.starts_with(&root) {
        return Err(ApiError::forbidden(
            "the recording is outside the recordings directory",
        ));
    }
    Ok(file)
}

fn mac(secret: &[u8], call_id: i64, expires: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("recording:{call_id}:{expires}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `(expires, signature)` for a link valid `ttl_secs` from now.
pub fn sign(secret: &[u8], call_id: i64, ttl_secs: i64) -> (i64, String) {
    let expires = Utc::now().timestamp() + ttl_secs;
    (expires, mac(secret, call_id, expires))
}

pub fn verify(secret: &[u8], call_id: i64, expires: i64, signature: &str) -> ApiResult<()> {
    use subtle::ConstantTimeEq;
    if expires < Utc::now().timestamp() {
        return Err(ApiError::forbidden("the link has expired"));
    }
    let expected = mac(secret, call_id, expires);
    if bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::forbidden("the link's signature is wrong"))
    }
}

/// Recordings in an S3-compatible bucket (MinIO, AWS), fetched whole or by byte range.
#[derive(Debug)]
pub struct S3Recordings {
    store: std::sync::Arc<dyn object_store::ObjectStore>,
    bucket: String,
}

/// Where the bucket is and how to reach it.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// `http://127.0.0.1:9000` for MinIO and test servers; `None` for AWS.
    pub endpoint: Option<String>,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

impl S3Recordings {
    pub fn new(settings: S3Settings) -> anyhow::Result<Self> {
        let mut builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(&settings.secret_access_key);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        Ok(Self {
            store: std::sync::Arc::new(builder.build()?),
            bucket: settings.bucket,
        })
    }

    /// Streams `s3://bucket/key`, honouring a single `Range: bytes=…` (206 with `Content-Range`).
    pub async fn serve(
        &self,
        uri: &str,
        range: Option<&str>,
    ) -> ApiResult<axum::response::Response> {
        use axum::http::{StatusCode, header};
        let (bucket, key) = uri
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .ok_or_else(|| ApiError::not_found("the recording reference is not s3://bucket/key"))?;
        if bucket != self.bucket {
            return Err(ApiError::forbidden("the recording is in another bucket"));
        }
        let requested = range.and_then(parse_range);
        let options = object_store::GetOptions {
            range: requested.clone(),
            ..Default::default()
        };
        let location = object_store::path::Path::from(key);
        let result =
            self.store
                .get_opts(&location, options)
                .await
                .map_err(|error| match error {
                    object_store::Error::NotFound { .. } => {
                        ApiError::not_found("the recording object is missing")
                    }
                    other => ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "recording.store",
                        format!("the object store failed: {other}"),
                    ),
                })?;
        let total = result.meta.size;
        let served = result.range.clone();
        let content_type = if key.ends_with(".wav") {
            "audio/wav"
        } else {
            "application/octet-stream"
        };
        let mut response = axum::response::Response::builder()
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT_RANGES, "bytes")
            .header(header::CONTENT_LENGTH, served.end - served.start);
        response = if requested.is_some() {
            response.status(StatusCode::PARTIAL_CONTENT).header(
                header::CONTENT_RANGE,
                format!(
                    "bytes {}-{}/{total}",
                    served.start,
                    served.end.saturating_sub(1)
                ),
            )
        } else {
            response.status(StatusCode::OK)
        };
        let stream =
            futures_util::TryStreamExt::map_err(result.into_stream(), std::io::Error::other);
        response
            .body(axum::body::Body::from_stream(stream))
            .map_err(ApiError::internal)
    }
}

/// One `bytes=` range (`a-b`, `a-`, `-n`); anything else means the whole object.
fn parse_range(header: &str) -> Option<object_store::GetRange> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    match (start.trim(), end.trim()) {
        ("", suffix) => suffix.parse().ok().map(object_store::GetRange::Suffix),
        (start, "") => start.parse().ok().map(object_store::GetRange::Offset),
        (start, end) => {
            let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
            (end >= start).then(|| object_store::GetRange::Bounded(start..end + 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::GetRange;

    #[test]
    fn byte_ranges_parse_as_rfc_9110_says() {
        assert_eq!(
            parse_range("bytes=100-199"),
            Some(GetRange::Bounded(100..200))
        );
        assert_eq!(parse_range("bytes=500-"), Some(GetRange::Offset(500)));
        assert_eq!(parse_range("bytes=-64"), Some(GetRange::Suffix(64)));
        assert_eq!(parse_range("bytes=9-3"), None);
        assert_eq!(parse_range("bytes=0-1,5-6"), None);
        assert_eq!(parse_range("items=0-1"), None);
    }
}
