//! Vonage's JWTs: signed webhooks (HS256 with the signature secret) and the REST API's RS256 token.
//!
//! References: <https://developer.vonage.com/en/getting-started/concepts/webhooks#decoding-signed-webhooks>
//! and <https://developer.vonage.com/en/voice/voice-api/guides/signed-webhooks>: a signed webhook
//! carries `Authorization: Bearer <JWT>`, HS256 with the account's signature secret, whose claims
//! hold `iat`, `jti`, `iss` ("Vonage"), `api_key`, `application_id` and `payload_hash`, the hex
//! SHA-256 of the request's body. <https://developer.vonage.com/en/getting-started/concepts/authentication#json-web-tokens>:
//! the Voice API takes `Authorization: Bearer <JWT>`, RS256 with the application's private key,
//! claims `application_id`, `iat`, `jti` and `exp`. A webhook's token must be recent (`iat`
//! within five minutes), so a captured webhook cannot be replayed later.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How far a webhook's `iat` may be from now, either way.
pub const WINDOW_SECS: i64 = 300;
/// How long a REST token lives.
const TOKEN_SECS: i64 = 900;

/// A signed webhook's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookClaims {
    pub iat: i64,
    #[serde(default)]
    pub jti: String,
    #[serde(default)]
    pub iss: String,
    #[serde(default)]
    pub api_key: String,
    #[serde(default)]
    pub application_id: String,
    #[serde(default)]
    pub payload_hash: Option<String>,
}

/// Why a webhook's token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Authorization header is not a Bearer token")]
    NotBearer,
    #[error("the token is not signed with the signature secret: {0}")]
    BadToken(String),
    #[error("the token was issued {0} s from now, outside the {WINDOW_SECS} s window")]
    Stale(i64),
    #[error("the body is not the one the token's payload_hash signs")]
    Tampered,
}

/// The hex SHA-256 of `body`, as `payload_hash` carries it.
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Checks a webhook's `Authorization` header against `secret`, the window and the body.
pub fn verify(
    secret: &str,
    authorization: &str,
    body: &[u8],
    now: i64,
) -> Result<WebhookClaims, SignatureError> {
    let token = authorization
        .strip_prefix("Bearer ")
        .ok_or(SignatureError::NotBearer)?
        .trim();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    // The secret and the window vouch for the webhook; an `aud` Vonage may add is not ours to
    // check (jsonwebtoken refuses any `aud` unless told which to expect).
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<WebhookClaims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|e| SignatureError::BadToken(e.to_string()))?
    .claims;
    let skew = claims.iat - now;
    if skew.abs() > WINDOW_SECS {
        return Err(SignatureError::Stale(skew));
    }
    if let Some(hash) = &claims.payload_hash
        && !hash.eq_ignore_ascii_case(&payload_hash(body))
    {
        return Err(SignatureError::Tampered);
    }
    if claims.payload_hash.is_none() && !body.is_empty() {
        return Err(SignatureError::Tampered);
    }
    Ok(claims)
}

/// The `Authorization` value Vonage sends with `body` (the emulator signs this way).
pub fn sign(secret: &str, api_key: &str, application_id: &str, body: &[u8], now: i64) -> String {
    let claims = WebhookClaims {
        iat: now,
        jti: format!("{:032x}", rand::random::<u128>()),
        iss: "Vonage".into(),
        api_key: api_key.into(),
        application_id: application_id.into(),
        payload_hash: Some(payload_hash(body)),
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default();
    format!("Bearer {token}")
}

/// The REST API token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppClaims {
    pub application_id: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// A private key that cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RSA private key in PEM: {0}")]
pub struct KeyError(pub String);

/// Checks that `pem` is an RSA private key Vonage tokens can be signed with.
pub fn private_key(pem: &str) -> Result<EncodingKey, KeyError> {
    EncodingKey::from_rsa_pem(pem.trim().as_bytes()).map_err(|e| KeyError(e.to_string()))
}

/// A token for the Voice API, signed with the application's private key.
pub fn app_token(application_id: &str, key: &EncodingKey, now: i64) -> Result<String, KeyError> {
    let claims = AppClaims {
        application_id: application_id.into(),
        iat: now,
        exp: now + TOKEN_SECS,
        jti: format!("{:032x}", rand::random::<u128>()),
    };
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key)
        .map_err(|e| KeyError(e.to_string()))
}

/// The claims of a REST token, checked against the application's public key (the emulator's
/// side), its expiry included.
pub fn verify_app_token(public_key_pem: &str, token: &str) -> Option<AppClaims> {
    let key = DecodingKey::from_rsa_pem(public_key_pem.as_bytes()).ok()?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims = ["exp".to_owned()].into();
    jsonwebtoken::decode::<AppClaims>(token, &key, &validation)
        .ok()
        .map(|data| data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_850_000;

    #[test]
    fn a_signed_webhook_verifies_once_and_a_changed_body_or_secret_or_time_does_not() {
        let body = br#"{"status":"answered","uuid":"u1"}"#;
        let header = sign("sig-secret", "key1", "app1", body, NOW);
        let claims = verify("sig-secret", &header, body, NOW + 10).unwrap();
        assert_eq!(
            (claims.api_key.as_str(), claims.iss.as_str()),
            ("key1", "Vonage")
        );
        assert_eq!(
            verify("sig-secret", &header, br#"{"status":"completed"}"#, NOW),
            Err(SignatureError::Tampered)
        );
        assert!(matches!(
            verify("another", &header, body, NOW),
            Err(SignatureError::BadToken(_))
        ));
        assert_eq!(
            verify("sig-secret", &header, body, NOW + 301),
            Err(SignatureError::Stale(-301))
        );
        assert_eq!(
            verify(
                "sig-secret",
                header.trim_start_matches("Bearer "),
                body,
                NOW
            ),
            Err(SignatureError::NotBearer)
        );
    }

    #[test]
    fn a_rest_token_signed_with_the_private_key_verifies_with_the_public_key_only() {
        let key = private_key(crate::vonage::testing::PRIVATE_KEY).unwrap();
        let token = app_token("app-1", &key, chrono::Utc::now().timestamp()).unwrap();
        let claims = verify_app_token(crate::vonage::testing::PUBLIC_KEY, &token).unwrap();
        assert_eq!(claims.application_id, "app-1");
        assert_eq!(claims.exp - claims.iat, TOKEN_SECS);
        let mut forged = token.clone();
        forged.push('x');
        assert_eq!(
            verify_app_token(crate::vonage::testing::PUBLIC_KEY, &forged),
            None
        );
        let expired = app_token("app-1", &key, chrono::Utc::now().timestamp() - 3600).unwrap();
        assert_eq!(
            verify_app_token(crate::vonage::testing::PUBLIC_KEY, &expired),
            None
        );
        assert!(private_key("-----BEGIN PRIVATE KEY-----\nnot a key\n").is_err());
    }

    #[test]
    fn a_webhook_token_with_an_audience_still_verifies() {
        let body = b"{}";
        let claims = serde_json::json!({"iat": NOW, "jti": "j", "iss": "Vonage",
            "aud": "somebody", "payload_hash": payload_hash(body)});
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"sig-secret"),
        )
        .unwrap();
        assert!(verify("sig-secret", &format!("Bearer {token}"), body, NOW).is_ok());
    }

    #[test]
    fn the_payload_hash_is_the_hex_sha256_of_the_body() {
        // echo -n '' | sha256sum
        assert_eq!(
            payload_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
