//! Telnyx webhook signatures: Ed25519 over `{telnyx-timestamp}|{raw body}`.
//!
//! Reference: <https://developers.telnyx.com/docs/development/sdk/python/webhooks> and the SDKs'
//! verification (`team-telnyx/telnyx-python` `webhook_verification.py`). Telnyx signs each
//! webhook with the account's Ed25519 key: `telnyx-signature-ed25519` is the base64 signature
//! (64 bytes), `telnyx-timestamp` the Unix seconds it was signed at, and the signed message is the
//! timestamp, a literal `|`, then the body's exact bytes. The account's public key (base64, 32
//! bytes) is in Mission Control under Keys & Credentials. A timestamp more than
//! [`TOLERANCE_SECS`] from now is refused, so a captured webhook cannot be replayed later.

use base64::Engine as _;
pub use ed25519_dalek::SigningKey;
use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};

/// How far a webhook's timestamp may be from the receiver's clock (the SDKs' 5 minutes).
pub const TOLERANCE_SECS: i64 = 300;

/// The header with the base64 signature.
pub const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
/// The header with the Unix seconds the webhook was signed at.
pub const TIMESTAMP_HEADER: &str = "telnyx-timestamp";

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the account's public key is not 32 bytes of base64: {0}")]
    PublicKey(String),
    #[error("the {SIGNATURE_HEADER} header is not a base64 Ed25519 signature")]
    Malformed,
    #[error("the {TIMESTAMP_HEADER} header is not Unix seconds")]
    Timestamp,
    #[error("the webhook was signed {0} s away from now, over the {TOLERANCE_SECS} s allowed")]
    Stale(i64),
    #[error("the signature does not match the body")]
    Mismatch,
}

fn message(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.push(b'|');
    signed.extend_from_slice(body);
    signed
}

/// Standard base64 that, like most decoders (Python's, Node's), ignores the unused low bits of
/// the last character, so a key copied from any tool reads the same.
const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// The account's public key, from its base64 form.
pub fn public_key(base64_key: &str) -> Result<VerifyingKey, SignatureError> {
    let bytes = LENIENT
        .decode(base64_key.trim())
        .map_err(|e| SignatureError::PublicKey(e.to_string()))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| SignatureError::PublicKey(format!("{} bytes", b.len())))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| SignatureError::PublicKey(e.to_string()))
}

/// The base64 form of `key`'s public half, as Mission Control shows it.
pub fn public_key_base64(key: &SigningKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes())
}

/// The `telnyx-signature-ed25519` value Telnyx sends for `body` signed at `timestamp`.
pub fn sign(key: &SigningKey, timestamp: i64, body: &[u8]) -> String {
    let signature = key.sign(&message(&timestamp.to_string(), body));
    base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
}

/// Checks a webhook: the signature over `timestamp|body` with the account's public key, and
/// the timestamp within [`TOLERANCE_SECS`] of `now` (Unix seconds).
pub fn verify(
    public_key: &VerifyingKey,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let signed_at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Timestamp)?;
    let skew = now.saturating_sub(signed_at);
    if skew.abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale(skew));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| SignatureError::Malformed)?;
    let signature = Signature::from_slice(&bytes).map_err(|_| SignatureError::Malformed)?;
    public_key
        .verify(&message(timestamp.trim(), body), &signature)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032's first Ed25519 test vector: its secret key and the public key it gives.
    fn rfc8032_key() -> SigningKey {
        let secret: [u8; 32] = [
            0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
            0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
            0x1c, 0xae, 0x7f, 0x60,
        ];
        SigningKey::from_bytes(&secret)
    }

    const BODY: &[u8] = br#"{"data":{"event_type":"call.initiated","id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777f0","occurred_at":"2026-12-04T10:00:00.000000Z","payload":{"call_control_id":"v3:abc","direction":"incoming","from":"+14155550100","to":"+14155550199"},"record_type":"event"},"meta":{"attempt":1,"delivered_to":"https://vox.example/api/v1/telephony/telnyx/1/voice"}}"#;

    #[test]
    fn the_public_key_is_the_one_rfc_8032_derives() {
        assert_eq!(
            public_key_base64(&rfc8032_key()),
            "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
        );
        // The same key with the last character's unused bits set (as some tools write it) reads
        // the same (found by the API fuzzer).
        let canonical = public_key("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=").unwrap();
        let loose = public_key("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURr=").unwrap();
        assert_eq!(canonical, loose);
    }

    #[test]
    fn a_webhook_signed_with_the_accounts_key_verifies_within_the_window() {
        let key = rfc8032_key();
        let public = public_key(&public_key_base64(&key)).unwrap();
        let signature = sign(&key, 1_764_842_400, BODY);
        assert_eq!(
            verify(&public, "1764842400", &signature, BODY, 1_764_842_400 + 299),
            Ok(())
        );
        assert_eq!(
            verify(&public, "1764842400", &signature, BODY, 1_764_842_400 - 299),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_timestamp_or_key_is_refused_and_says_why() {
        let key = rfc8032_key();
        let public = public_key(&public_key_base64(&key)).unwrap();
        let now = 1_764_842_400;
        let signature = sign(&key, now, BODY);
        let mut changed = BODY.to_vec();
        changed[20] ^= 1;
        assert_eq!(
            verify(&public, "1764842400", &signature, &changed, now),
            Err(SignatureError::Mismatch)
        );
        // The same signature under another timestamp (a replay with a fresh header).
        assert_eq!(
            verify(&public, "1764842401", &signature, BODY, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&public, "1764842400", &signature, BODY, now + 301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            verify(&public, "soon", &signature, BODY, now),
            Err(SignatureError::Timestamp)
        );
        assert_eq!(
            verify(&public, "1764842400", "not base64!", BODY, now),
            Err(SignatureError::Malformed)
        );
        let other = public_key(&public_key_base64(&SigningKey::from_bytes(&[7; 32]))).unwrap();
        assert_eq!(
            verify(&other, "1764842400", &signature, BODY, now),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            public_key("c2hvcnQ="),
            Err(SignatureError::PublicKey(_))
        ));
    }
}
