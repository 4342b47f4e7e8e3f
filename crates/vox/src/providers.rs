//! Outbound settings: the vendors' API keys and `PROVIDER_BASE_URLS`, `OUTBOUND_ALLOWED_NETWORKS`.

use crate::config::{ConfigError, problem, with_scheme};

/// Provider keys and the variables they are read from.
pub const PROVIDER_KEYS: &[(&str, &str)] = &[
    ("openai", "OPENAI_API_KEY"),
    ("anthropic", "ANTHROPIC_API_KEY"),
    ("groq", "GROQ_API_KEY"),
    ("deepgram", "DEEPGRAM_API_KEY"),
    ("elevenlabs", "ELEVENLABS_API_KEY"),
    ("cartesia", "CARTESIA_API_KEY"),
];
/// `vendor=url,…` for keyed vendors only.
pub(crate) fn base_urls(value: Option<String>) -> Result<Vec<(String, String)>, ConfigError> {
    const SETTING: &str = "PROVIDER_BASE_URLS";
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let schemes = ["http://", "https://", "ws://", "wss://"];
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (vendor, url) = entry
                .split_once('=')
                .ok_or_else(|| problem(SETTING, format!("{entry:?} is not vendor=url")))?;
            if !PROVIDER_KEYS.iter().any(|(v, _)| *v == vendor.trim()) {
                let known: Vec<_> = PROVIDER_KEYS.iter().map(|(v, _)| *v).collect();
                return Err(problem(
                    SETTING,
                    format!("{vendor:?} is not a keyed vendor ({})", known.join(", ")),
                ));
            }
            Ok((
                vendor.trim().to_owned(),
                with_scheme(SETTING, url.trim().to_owned(), &schemes)?,
            ))
        })
        .collect()
}

/// `OUTBOUND_ALLOWED_NETWORKS`: the private networks URLs operators supply may reach.
/// The networks a variable (`name`) lists, or `default`'s when it is unset.
pub(crate) fn allowed_networks(
    name: &'static str,
    value: Option<String>,
    default: &str,
) -> Result<egress::Allowed, ConfigError> {
    egress::Allowed::parse(value.as_deref().unwrap_or(default))
        .map_err(|e| problem(name, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_base_urls_are_vendor_url_pairs_for_keyed_vendors_only() {
        let parsed = base_urls(Some(
            "openai=https://proxy.internal/v1, deepgram=wss://stt.internal".into(),
        ))
        .unwrap();
        assert_eq!(
            parsed,
            vec![
                ("openai".to_owned(), "https://proxy.internal/v1".to_owned()),
                ("deepgram".to_owned(), "wss://stt.internal".to_owned()),
            ]
        );
        assert!(base_urls(None).unwrap().is_empty());
        let allowed = allowed_networks(
            "OUTBOUND_ALLOWED_NETWORKS",
            Some("10.0.0.0/8, 127.0.0.1".into()),
            "",
        )
        .unwrap();
        assert!(allowed.permits("10.2.3.4".parse().unwrap()));
        let error = allowed_networks("FLEET_NETWORKS", Some("10.0.0.0/33".into()), "").unwrap_err();
        assert_eq!(error.setting, "FLEET_NETWORKS");
        let loopback = allowed_networks("FLEET_NETWORKS", None, "127.0.0.0/8").unwrap();
        assert!(loopback.contains("127.0.0.9".parse().unwrap()));
        for bad in ["openai", "vllm=http://x", "openai=ftp://x"] {
            let error = base_urls(Some(bad.into())).unwrap_err();
            assert_eq!(error.setting, "PROVIDER_BASE_URLS", "{bad}: {error}");
        }
    }
}
