//! Exotel Voice v1: the Connect-to-flow call API, the Voicebot flow's URLs, statuses, the edge key.
//!
//! References: <https://developer.exotel.com/docs/voice-v1/api-reference/connect-to-flow> (`POST
//! /v1/Accounts/{sid}/Calls/connect` with HTTP Basic auth, the API key and token),
//! <https://developer.exotel.com/docs/voice-v1/api-reference/status-callback> (the
//! `StatusCallback`), <https://developer.exotel.com/docs/agentstream/stream-voicebot-applet> and
//! <https://docs.exotel.com/exotel-agentstream/stream-applet> (a Voicebot applet's URL may be an
//! HTTPS endpoint answering `{"url": "wss://…"}`), <http://support.exotel.in/solution/articles/48285-greeting-using-text-from-url>
//! (a Greeting applet reads `text/plain` from a URL).
//!
//! Exotel signs nothing: its docs point to credentials in the URL and to IP allow-lists. The edge
//! puts a per-account key in every URL it gives Exotel ([`edge_key`], derived from the API token,
//! so rotating the token rotates the key) and refuses a request without it.

mod rest;
pub mod status;

pub use rest::{ExotelCarrier, ExotelConfig};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Exotel's REST API base (the Singapore cluster; Mumbai's is `https://api.in.exotel.com`).
pub const API_URL: &str = "https://api.exotel.com";

/// An Exotel account as vox saves it: `account_sid` is the Account SID and the Voicebot flow's
/// app id as `SID/APP_ID`; the secret is `API_KEY:API_TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub sid: String,
    pub app_id: String,
}

impl Account {
    /// `SID/APP_ID`, or why it is not one.
    pub fn parse(account_sid: &str) -> Result<Self, String> {
        let (sid, app_id) = account_sid.split_once('/').ok_or_else(|| {
            "an Exotel account is its Account SID and its Voicebot flow's app id, as SID/APP_ID"
                .to_owned()
        })?;
        let sid_ok = !sid.is_empty()
            && sid.len() <= 64
            && sid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let app_ok =
            !app_id.is_empty() && app_id.len() <= 20 && app_id.bytes().all(|b| b.is_ascii_digit());
        if !sid_ok {
            return Err(format!("{sid:?} is not an Exotel Account SID"));
        }
        if !app_ok {
            return Err(format!(
                "{app_id:?} is not an app id (App Bazaar's digits for the flow)"
            ));
        }
        Ok(Self {
            sid: sid.to_owned(),
            app_id: app_id.to_owned(),
        })
    }

    /// The flow a connected call runs: `http://my.exotel.com/{sid}/exoml/start_voice/{app_id}`.
    pub fn flow_url(&self) -> String {
        format!(
            "http://my.exotel.com/{}/exoml/start_voice/{}",
            self.sid, self.app_id
        )
    }
}

/// The API key and token of a secret saved as `API_KEY:API_TOKEN`.
pub fn credentials(secret: &str) -> Result<(&str, &str), String> {
    secret
        .split_once(':')
        .filter(|(key, token)| !key.is_empty() && !token.is_empty() && !token.contains(':'))
        .ok_or_else(|| {
            "an Exotel secret is the API key and token as API_KEY:API_TOKEN (API settings)"
                .to_owned()
        })
}

/// The key in the edge's URLs for an account: HMAC-SHA256 of the account id under the secret,
/// 32 hex digits. Only someone who has the URL (Exotel, the operator) or the secret has it.
pub fn edge_key(secret: &str, account: contracts::telephony::CarrierAccountId) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("vox exotel edge {account}").as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// The edge's URLs for one account, under `public_url` (`VOX_PUBLIC_URL`), each with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhooks {
    base: String,
}

impl Webhooks {
    pub fn new(
        public_url: &str,
        account: contracts::telephony::CarrierAccountId,
        key: &str,
    ) -> Self {
        Self {
            base: format!(
                "{}/api/v1/telephony/exotel/{account}/{key}",
                public_url.trim_end_matches('/')
            ),
        }
    }

    /// The Voicebot applet's URL: Exotel asks it where to stream the call.
    pub fn voicebot(&self) -> String {
        format!("{}/voicebot", self.base)
    }

    /// The Greeting applet's text URL, after the Voicebot: a refusal's words, or nothing.
    pub fn greeting(&self) -> String {
        format!("{}/greeting", self.base)
    }

    /// The `StatusCallback` of a call placed through the API.
    pub fn status(&self) -> String {
        format!("{}/status", self.base)
    }
}

/// `CustomField` of a call vox placed: its call id, as the Voicebot and status requests echo it.
pub fn custom_field(call: contracts::CallId) -> String {
    format!("vox-call-{call}")
}

/// The call id in a `CustomField` vox set, if it is one.
pub fn call_of(custom_field: &str) -> Option<contracts::CallId> {
    custom_field
        .strip_prefix("vox-call-")?
        .parse::<i64>()
        .ok()
        .map(contracts::CallId)
}

/// A number as Exotel writes it, as E.164 beside `like` (one of the account's numbers): `+…` is
/// kept; Indian-style national numbers (`0` and the rest) take `like`'s country code when `like`
/// ends with the same digits, else the digits gain a `+`.
pub fn e164_like(given: &str, like: Option<&str>) -> String {
    let given = given.trim();
    if given.starts_with('+') {
        return given.to_owned();
    }
    let national = given.trim_start_matches('0');
    if given.starts_with('0')
        && let Some(like) = like
    {
        let digits = crate::number::digits(like);
        // The country code is what precedes the same national significant number in `like`; a
        // number of another length takes the first 1–3 digits of `like`'s that make it fit.
        if let Some(code) = digits.strip_suffix(national) {
            return format!("+{code}{national}");
        }
        let code_len = digits.len().saturating_sub(national.len()).clamp(1, 3);
        return format!("+{}{national}", &digits[..code_len.min(digits.len())]);
    }
    crate::number::e164(given)
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::telephony::CarrierAccountId;

    #[test]
    fn an_account_is_its_sid_and_flow_and_its_secret_the_key_and_token() {
        let account = Account::parse("vox1/123456").unwrap();
        assert_eq!(
            account.flow_url(),
            "http://my.exotel.com/vox1/exoml/start_voice/123456"
        );
        assert!(Account::parse("vox1").unwrap_err().contains("SID/APP_ID"));
        assert!(Account::parse("vox1/abc").unwrap_err().contains("app id"));
        assert!(Account::parse("v x/1").unwrap_err().contains("Account SID"));
        assert_eq!(credentials("key:token"), Ok(("key", "token")));
        assert!(credentials("key").is_err() && credentials(":token").is_err());
    }

    #[test]
    fn the_edge_key_depends_on_the_secret_and_the_account() {
        let key = edge_key("k:t", CarrierAccountId(3));
        assert_eq!(key.len(), 32);
        assert_ne!(key, edge_key("k:u", CarrierAccountId(3)));
        assert_ne!(key, edge_key("k:t", CarrierAccountId(4)));
        let hooks = Webhooks::new("https://vox.example/", CarrierAccountId(3), &key);
        assert_eq!(
            hooks.voicebot(),
            format!("https://vox.example/api/v1/telephony/exotel/3/{key}/voicebot")
        );
    }

    #[test]
    fn a_custom_field_carries_the_call_and_numbers_read_as_e164() {
        assert_eq!(
            call_of(&custom_field(contracts::CallId(42))),
            Some(contracts::CallId(42))
        );
        assert_eq!(call_of("order-42"), None);
        assert_eq!(e164_like("+919876543210", None), "+919876543210");
        assert_eq!(
            e164_like("08047491899", Some("+918047491899")),
            "+918047491899"
        );
        assert_eq!(
            e164_like("09876543210", Some("+918047491899")),
            "+919876543210"
        );
        assert_eq!(e164_like("14155550100", None), "+14155550100");
    }
}
