//! Recordings from the object store's local directory, served with HTTP range support (a browser can seek), and short-lived signed URLs for `<audio src>`.

use crate::error::{ApiError, ApiResult};
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::{Path, PathBuf};

/// Resolves a recording reference to a file inside `root`; refuses anything that escapes it.
pub fn resolve(root: &Path, uri: &str) -> ApiResult<PathBuf> {
    let relative = uri.strip_prefix("file://").unwrap_or(uri);
    if uri.starts_with("s3://") {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_IMPLEMENTED,
            "recording.s3_unsupported",
            "recordings in S3 are not served by this build yet",
        ));
    }
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
