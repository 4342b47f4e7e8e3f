//! Website widgets: a bot's publishable key, the sites that may use it, and its limits.
//!
//! A bot has at most one widget (`widget.bot.<id>` in settings); its key, `wk_` and 32 hex
//! digits, is public: it sits in the operator's page (`<script src=…/widget.js data-bot=…>`). So
//! the key alone opens nothing: the browser's `Origin` must be one the operator listed, each
//! visitor (by address) and the key as a whole have a number of calls a minute, and the key has a
//! cap on its calls at once. `widget.key.<key>` names the key's bot; a key counts only while the
//! bot's widget still holds it, so a removed or replaced key stops working at once.
//!
//! A widget's calls are `web` calls whose channel id is `widget:<key>:<random>`; the cap counts
//! the key's calls that have not ended, from the store, so it holds across Backend restarts.

use crate::error::{ApiError, ApiResult};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use store::Store;

/// Calls a minute one visitor (one address) may start, unless the widget says otherwise.
pub const DEFAULT_VISITOR_CALLS_PER_MINUTE: u32 = 3;
/// Calls a minute the key may start in all, unless the widget says otherwise.
pub const DEFAULT_KEY_CALLS_PER_MINUTE: u32 = 30;
/// Calls at once, unless the widget says otherwise.
pub const DEFAULT_MAX_CONCURRENT_CALLS: u32 = 5;
/// The window of the per-minute limits.
pub const WINDOW: Duration = Duration::from_secs(60);
/// What a visitor refused for the cap is asked to wait.
pub const BUSY_RETRY_AFTER_SECS: u64 = 30;

/// A bot's widget as saved and shown (nothing in it is secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Widget {
    pub bot_id: i64,
    /// The publishable key the page's script carries as `data-bot`.
    pub key: String,
    /// The sites (`scheme://host[:port]`) whose pages may start calls with the key.
    pub allowed_origins: Vec<String>,
    pub visitor_calls_per_minute: u32,
    pub key_calls_per_minute: u32,
    pub max_concurrent_calls: u32,
}

/// What an operator sets; the key is made on the first save and kept after.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveWidget {
    /// Each an origin: `https://shop.example.com`, `http://localhost:3000` (no path, no wildcard).
    #[schemars(schema_with = "contracts::shape::web_origins")]
    pub allowed_origins: Vec<String>,
    /// Default 3.
    #[schemars(range(min = 1, max = 60))]
    pub visitor_calls_per_minute: Option<u32>,
    /// Default 30.
    #[schemars(range(min = 1, max = 10000))]
    pub key_calls_per_minute: Option<u32>,
    /// Default 5.
    #[schemars(range(min = 1, max = 10000))]
    pub max_concurrent_calls: Option<u32>,
}

pub fn bot_setting(bot: i64) -> String {
    format!("widget.bot.{bot}")
}

fn key_setting(key: &str) -> String {
    format!("widget.key.{key}")
}

/// A new publishable key.
pub fn new_key() -> String {
    format!("wk_{}", hex::encode(rand::random::<[u8; 16]>()))
}

/// Whether `key` has a key's shape (checked before the store is asked).
pub fn is_key(key: &str) -> bool {
    key.strip_prefix("wk_")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The prefix of the channel ids of `key`'s calls.
pub fn channel_prefix(key: &str) -> String {
    format!("widget:{key}:")
}

/// `text` as a browser writes an `Origin` (lower-case, default port left out), or why it is not one.
pub fn origin(text: &str) -> Result<String, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("{text:?} is not an origin: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text:?} is not an http or https origin"));
    }
    let Some(host) = url.host_str() else {
        return Err(format!("{text:?} has no host"));
    };
    if host.contains('*') {
        return Err(format!("{text:?} has a wildcard: list each site's origin"));
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(format!(
            "{text:?} is more than an origin: give the scheme, host and port only"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

impl SaveWidget {
    /// The widget this saves for `bot`, keeping `key`; a bad field is named.
    pub fn widget(self, bot: i64, key: String) -> ApiResult<Widget> {
        if self.allowed_origins.is_empty() || self.allowed_origins.len() > 50 {
            return Err(ApiError::invalid(
                "allowed_origins",
                "list between 1 and 50 sites",
            ));
        }
        let mut origins = Vec::with_capacity(self.allowed_origins.len());
        for (i, text) in self.allowed_origins.iter().enumerate() {
            let origin = origin(text)
                .map_err(|why| ApiError::invalid(format!("allowed_origins[{i}]"), why))?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        let within = |field: &str, value: Option<u32>, default: u32, max: u32| match value {
            None => Ok(default),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid(field, format!("must be 1 to {max}"))),
        };
        Ok(Widget {
            bot_id: bot,
            key,
            allowed_origins: origins,
            visitor_calls_per_minute: within(
                "visitor_calls_per_minute",
                self.visitor_calls_per_minute,
                DEFAULT_VISITOR_CALLS_PER_MINUTE,
                60,
            )?,
            key_calls_per_minute: within(
                "key_calls_per_minute",
                self.key_calls_per_minute,
                DEFAULT_KEY_CALLS_PER_MINUTE,
                10_000,
            )?,
            max_concurrent_calls: within(
                "max_concurrent_calls",
                self.max_concurrent_calls,
                DEFAULT_MAX_CONCURRENT_CALLS,
                10_000,
            )?,
        })
    }
}

/// The bot's widget, if it has one.
pub async fn of_bot(store: &dyn Store, bot: i64) -> ApiResult<Option<Widget>> {
    Ok(store
        .setting(&bot_setting(bot))
        .await?
        .and_then(|setting| serde_json::from_value(setting.value).ok()))
}

/// Saves `widget` and points its key at it.
pub async fn save(
    store: &dyn Store,
    widget: &Widget,
    by: Option<contracts::UserId>,
) -> ApiResult<()> {
    let value = serde_json::to_value(widget).map_err(ApiError::internal)?;
    store
        .put_setting(
            &key_setting(&widget.key),
            serde_json::json!({ "bot_id": widget.bot_id }),
            by,
        )
        .await?;
    store
        .put_setting(&bot_setting(widget.bot_id), value, by)
        .await?;
    Ok(())
}

/// Takes the bot's widget away: its key stops working.
pub async fn remove(
    store: &dyn Store,
    widget: &Widget,
    by: Option<contracts::UserId>,
) -> ApiResult<()> {
    store
        .put_setting(&bot_setting(widget.bot_id), serde_json::Value::Null, by)
        .await?;
    store
        .put_setting(&key_setting(&widget.key), serde_json::Value::Null, by)
        .await?;
    Ok(())
}

/// The widget `key` opens, or 404 naming the key.
pub async fn by_key(store: &dyn Store, key: &str) -> ApiResult<Widget> {
    let unknown = || ApiError::unknown("key", "no widget has this key");
    if !is_key(key) {
        return Err(unknown());
    }
    let bot = store
        .setting(&key_setting(key))
        .await?
        .and_then(|setting| setting.value.get("bot_id").and_then(|id| id.as_i64()))
        .ok_or_else(unknown)?;
    match of_bot(store, bot).await? {
        Some(widget) if widget.key == key => Ok(widget),
        _ => Err(unknown()),
    }
}

/// The widgets' limits kept between requests.
#[derive(Debug)]
pub struct Widgets {
    /// Per key and visitor address.
    pub visitors: crate::throttle::Throttle,
    /// Per key.
    pub keys: crate::throttle::Throttle,
    /// Held from counting a key's live calls to creating the new one, so two visitors never
    /// both take the last place.
    pub opening: tokio::sync::Mutex<()>,
}

impl Default for Widgets {
    fn default() -> Self {
        Self {
            visitors: crate::throttle::Throttle::new(1, WINDOW),
            keys: crate::throttle::Throttle::new(1, WINDOW),
            opening: tokio::sync::Mutex::new(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_written_as_a_browser_sends_it_and_anything_more_is_refused() {
        assert_eq!(
            origin("https://Shop.Example.com").as_deref(),
            Ok("https://shop.example.com")
        );
        assert_eq!(
            origin("https://shop.example.com:443/").as_deref(),
            Ok("https://shop.example.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        for bad in [
            "shop.example.com",
            "ftp://shop.example.com",
            "https://shop.example.com/page",
            "https://user@shop.example.com",
            "https://*.example.com",
            "https://shop.example.com?x=1",
        ] {
            assert!(origin(bad).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn a_key_has_its_shape_and_new_keys_differ() {
        let key = new_key();
        assert!(is_key(&key), "{key}");
        assert_ne!(key, new_key());
        assert!(!is_key("wk_123"));
        assert!(!is_key(&key.replace("wk_", "pk_")));
    }
}
