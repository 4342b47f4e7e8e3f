//! Plivo webhook signatures, V3: HMAC-SHA256 over the URL, the sorted parameters and a nonce.
//!
//! Reference: <https://www.plivo.com/docs/voice/concepts/signature-validation> and the SDK's
//! validator (`plivo/plivo-python`, `plivo/utils/signature_v3.py`). Plivo sends
//! `X-Plivo-Signature-V3` (base64, or several separated by commas while more than one Auth Token
//! is active) and `X-Plivo-Signature-V3-Nonce`. For a POST the signed string is the URL without
//! its query, then `?` and the query's parameters sorted as `name=value` joined by `&` (a `.`
//! after them when there are any), then the body's parameters sorted by name as `namevalue` with
//! nothing between; then `.` and the nonce. A POST without body parameters is signed as a GET:
//! the URL, `?` and the sorted query only when there is one. The key is the account's Auth Token.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header with the signature(s).
pub const SIGNATURE_HEADER: &str = "X-Plivo-Signature-V3";
/// The header with the nonce the signature covers.
pub const NONCE_HEADER: &str = "X-Plivo-Signature-V3-Nonce";

/// `name=value` pairs sorted by name, then value (as the SDK sorts a repeated name's values).
fn sorted(params: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort();
    pairs
}

/// The string Plivo signs for a POST to `url` with form `params`.
fn signed_string(url: &str, params: &[(String, String)], nonce: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    // A fragment is never sent; the query is read as the SDK reads it (blank values kept).
    let query: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let query = sorted(&query)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut signed = base.to_owned();
    if !query.is_empty() || !params.is_empty() {
        signed.push('?');
        signed.push_str(&query);
    }
    if !query.is_empty() && !params.is_empty() {
        signed.push('.');
    }
    for (name, value) in sorted(params) {
        signed.push_str(name);
        signed.push_str(value);
    }
    signed.push('.');
    signed.push_str(nonce);
    signed
}

/// The keyed MAC over what Plivo signs for a POST of `params` to `url` with `nonce`.
fn mac(auth_token: &str, url: &str, params: &[(String, String)], nonce: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(signed_string(url, params, nonce).as_bytes());
    mac
}

/// The `X-Plivo-Signature-V3` Plivo sends for a POST of `params` to `url` with `nonce`.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)], nonce: &str) -> String {
    let digest = mac(auth_token, url, params, nonce).finalize().into_bytes();
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// Whether any signature in `header` (comma-separated) signs the request, each compared in
/// constant time.
pub fn verify(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    nonce: &str,
    header: &str,
) -> bool {
    let mac = mac(auth_token, url, params, nonce);
    header.split(',').any(|given| {
        base64::engine::general_purpose::STANDARD
            .decode(given.trim())
            .is_ok_and(|given| mac.clone().verify_slice(&given).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    // Expected values computed by the SDK's algorithm (plivo-python's signature_v3.py, run
    // separately), not by this module.
    const TOKEN: &str = "plivo-auth-token";

    #[test]
    fn a_post_with_a_query_and_a_body_signs_as_the_sdk_does() {
        let body = params(&[
            ("CallUUID", "abc-123"),
            ("From", "14155550100"),
            ("To", "442071838750"),
            ("CallStatus", "in-progress"),
        ]);
        let url = "https://vox.example.com/api/v1/telephony/plivo/3/answer?call=42";
        assert_eq!(
            signed_string(url, &body, "12345678901234567890"),
            "https://vox.example.com/api/v1/telephony/plivo/3/answer?call=42.CallStatusin-progress\
             CallUUIDabc-123From14155550100To442071838750.12345678901234567890"
        );
        let signature = sign(TOKEN, url, &body, "12345678901234567890");
        assert_eq!(signature, "qR1tALXZ9Y7FJ4etfnXPSDMLaJGtS2k/VofopwhEzy0=");
        assert!(verify(
            TOKEN,
            url,
            &body,
            "12345678901234567890",
            &signature
        ));
    }

    #[test]
    fn a_post_without_a_query_or_without_a_body_signs_as_the_sdk_does() {
        let body = params(&[("HangupCause", "NORMAL_CLEARING"), ("CallUUID", "abc-123")]);
        let url = "https://vox.example.com/api/v1/telephony/plivo/3/hangup";
        assert_eq!(
            sign(TOKEN, url, &body, "98765"),
            "cqgAbx8LrlaUMqlbG10abL4tgMcglpqKQ7Z6wxqTXzw="
        );
        let url = "https://vox.example.com/api/v1/telephony/plivo/3/answer";
        assert_eq!(
            sign(TOKEN, url, &[], "1"),
            "KZFKxEnuj4xF9yF4L1ZXG5jAs+1+eGMk3+MHnzYmoqs="
        );
    }

    #[test]
    fn any_listed_signature_passes_and_a_changed_request_fails() {
        let body = params(&[("CallUUID", "abc-123")]);
        let url = "https://vox.example.com/hook?call=1";
        let good = sign(TOKEN, url, &body, "n1");
        let rotated = sign("old-token", url, &body, "n1");
        assert!(verify(
            TOKEN,
            url,
            &body,
            "n1",
            &format!("{rotated},{good}")
        ));
        assert!(!verify(TOKEN, url, &body, "n2", &good), "another nonce");
        assert!(!verify(
            TOKEN,
            "https://vox.example.com/hook?call=2",
            &body,
            "n1",
            &good
        ));
        let tampered = params(&[("CallUUID", "abc-124")]);
        assert!(!verify(TOKEN, url, &tampered, "n1", &good));
        assert!(!verify(TOKEN, url, &body, "n1", "not base64!"));
        assert!(!verify(TOKEN, url, &body, "n1", ""));
    }
}
