//! The services a deployment runs for bots on its own hosts: Piper, a local LLM, a Whisper sidecar.
//!
//! A bot's provider that needs one of these runs only where the deployment configured it
//! (`FLEET_LOCAL_PROVIDERS` for the Backend, what `vox up` started); the Backend refuses a voice
//! chain with no provider that can run, and the console offers only what can.

use crate::runtime_config::ProviderSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A service of the deployment's own that a provider needs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LocalService {
    /// A Piper voice on every worker (`PIPER_VOICE_MODEL`), for the `piper` TTS provider.
    Piper,
    /// The local LLM server (`vox-llm`, `LOCAL_LLM_URL` on the workers), for the `llama` provider
    /// without a `base_url` of its own.
    Llama,
    /// The speech-to-text sidecar (`vox-whisper`, `WHISPER_URL` on the workers), for the
    /// `whisper` provider without a `base_url` of its own.
    Whisper,
}

impl LocalService {
    pub const ALL: [LocalService; 3] = [Self::Piper, Self::Llama, Self::Whisper];

    /// The name in `FLEET_LOCAL_PROVIDERS`: the provider's own.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Piper => "piper",
            Self::Llama => "llama",
            Self::Whisper => "whisper",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// What the deployment must have for the provider to run.
    pub fn needs(self) -> &'static str {
        match self {
            Self::Piper => "a Piper voice on the workers (PIPER_VOICE_MODEL)",
            Self::Llama => "the local model server (vox-llm, LOCAL_LLM_URL on the workers)",
            Self::Whisper => "the speech-to-text sidecar (vox-whisper, WHISPER_URL on the workers)",
        }
    }

    /// The service one provider (not its fallbacks) needs: `piper` always, `llama` and `whisper`
    /// unless the bot names its own server in `options.base_url`.
    pub fn needed_by(settings: &ProviderSettings) -> Option<Self> {
        let own_server = settings.options.get("base_url").is_some();
        match settings.provider.as_str() {
            "piper" => Some(Self::Piper),
            "llama" if !own_server => Some(Self::Llama),
            "whisper" if !own_server => Some(Self::Whisper),
            _ => None,
        }
    }
}

impl std::fmt::Display for LocalService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The local services a deployment runs.
pub type LocalServices = BTreeSet<LocalService>;

/// `FLEET_LOCAL_PROVIDERS`: comma-separated names of [`LocalService`]; `Err` names the first
/// that is not one.
pub fn parse_local_services(list: &str) -> Result<LocalServices, String> {
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            LocalService::parse(name).ok_or_else(|| {
                format!(
                    "{name:?} is not a local provider; known: {}",
                    LocalService::ALL.map(LocalService::as_str).join(", ")
                )
            })
        })
        .collect()
}

/// Why `settings`' chain cannot run on a deployment that runs `available`: every provider in it
/// needs a service the deployment lacks. `None` when one of them can run.
pub fn unrunnable_chain(settings: &ProviderSettings, available: &LocalServices) -> Option<String> {
    let mut missing = Vec::new();
    let mut current = Some(settings);
    while let Some(link) = current {
        match LocalService::needed_by(link) {
            Some(service) if !available.contains(&service) => missing.push(service),
            _ => return None,
        }
        current = link.fallback.as_deref();
    }
    let why: Vec<String> = missing
        .iter()
        .map(|service| format!("{service} needs {}", service.needs()))
        .collect();
    Some(format!(
        "cannot run on this deployment: {}, which it does not run (FLEET_LOCAL_PROVIDERS). Pick \
         another provider, or add one that can run as its fallback",
        why.join("; ")
    ))
}

/// One provider as the console offers it (`GET /api/v1/providers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderOffer {
    pub provider: String,
    /// Whether this deployment can run it as the bot would save it (without a `base_url`).
    pub available: bool,
    /// What it needs that the deployment lacks, when not available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs: Option<String>,
}

/// The providers of each slot, and whether this deployment runs them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderOffers {
    pub stt: Vec<ProviderOffer>,
    pub llm: Vec<ProviderOffer>,
    pub tts: Vec<ProviderOffer>,
    /// The local services this deployment runs.
    pub local: Vec<LocalService>,
}

impl ProviderOffers {
    pub fn new(available: &LocalServices) -> Self {
        use crate::runtime_config::{LLM_PROVIDERS, STT_PROVIDERS, TTS_PROVIDERS};
        let slot = |names: &[&str]| {
            names
                .iter()
                .map(|name| {
                    let missing = LocalService::needed_by(&ProviderSettings::named(name))
                        .filter(|service| !available.contains(service));
                    ProviderOffer {
                        provider: (*name).to_owned(),
                        available: missing.is_none(),
                        needs: missing.map(|service| service.needs().to_owned()),
                    }
                })
                .collect()
        };
        Self {
            stt: slot(STT_PROVIDERS),
            llm: slot(LLM_PROVIDERS),
            tts: slot(TTS_PROVIDERS),
            local: available.iter().copied().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(names: &[&str]) -> ProviderSettings {
        names
            .iter()
            .rev()
            .fold(None, |fallback: Option<ProviderSettings>, name| {
                Some(ProviderSettings {
                    fallback: fallback.map(Box::new),
                    ..ProviderSettings::named(name)
                })
            })
            .unwrap()
    }

    #[test]
    fn a_chain_runs_when_any_of_its_providers_can() {
        let none = LocalServices::new();
        assert!(unrunnable_chain(&chain(&["piper", "espeak"]), &none).is_none());
        assert!(unrunnable_chain(&chain(&["openai"]), &none).is_none());
        let why = unrunnable_chain(&chain(&["piper"]), &none).unwrap();
        assert!(why.contains("PIPER_VOICE_MODEL"), "{why}");
        let piper = LocalServices::from([LocalService::Piper]);
        assert!(unrunnable_chain(&chain(&["piper"]), &piper).is_none());
    }

    #[test]
    fn a_local_provider_with_its_own_server_needs_nothing_of_the_deployment() {
        let mut whisper = ProviderSettings::named("whisper");
        assert_eq!(
            LocalService::needed_by(&whisper),
            Some(LocalService::Whisper)
        );
        whisper
            .options
            .insert("base_url".into(), "http://10.0.0.5:8178/v1".into());
        assert_eq!(LocalService::needed_by(&whisper), None);
        assert_eq!(
            LocalService::needed_by(&ProviderSettings::named("piper")),
            Some(LocalService::Piper)
        );
    }

    #[test]
    fn the_setting_parses_names_and_refuses_an_unknown_one_by_name() {
        assert_eq!(
            parse_local_services(" piper, whisper ,"),
            Ok(LocalServices::from([
                LocalService::Piper,
                LocalService::Whisper
            ]))
        );
        let error = parse_local_services("piper,kokoro").unwrap_err();
        assert!(error.contains("\"kokoro\""), "{error}");
    }

    #[test]
    fn offers_mark_what_the_deployment_lacks() {
        let offers = ProviderOffers::new(&LocalServices::from([LocalService::Whisper]));
        let piper = offers.tts.iter().find(|o| o.provider == "piper").unwrap();
        assert!(!piper.available);
        assert!(piper.needs.as_deref().unwrap().contains("Piper voice"));
        assert!(offers.stt.iter().all(|o| o.available));
        assert!(
            offers
                .tts
                .iter()
                .any(|o| o.provider == "espeak" && o.available)
        );
    }
}
