//! Builds a call's provider fallback chains from a bot's `ProviderSettings`.
//!
//! Keys and endpoint overrides come from the worker's `ProviderEnv`.

use crate::http::Endpoint;
use crate::llm::{AnthropicLlm, OpenAiLlm};
use crate::stt::{DeepgramStt, OpenAiStt};
use crate::tts::{CartesiaTts, ElevenLabsTts, EspeakTts, OpenAiTts, PiperTts, PiperVoice};
use contracts::runtime_config::{BotSpec, ProviderSettings};
use pipeline::assemble::ProviderChains;
use pipeline::{LanguageModel, SpeechToText, TextToSpeech};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Keys and endpoint overrides, by vendor key (`openai`, `deepgram`, …).
#[derive(Clone, Default)]
pub struct ProviderEnv {
    pub keys: BTreeMap<String, String>,
    /// Base URLs that replace a vendor's default (a proxy, a self-hosted server, a test server);
    /// `whisper` and `llama` are the local sidecars (`vox-whisper`, `vox-llm`), which have none.
    pub base_urls: BTreeMap<String, String>,
    /// One HTTP client for every call of the process: connections and TLS sessions to a vendor are
    /// reused across requests, turns and calls. `None`: each request builds its own.
    pub http: Option<reqwest::Client>,
    /// `OUTBOUND_ALLOWED_NETWORKS`: the private networks a bot's own provider server (its
    /// `base_url`) may be on; public addresses are always allowed.
    pub outbound: egress::Allowed,
    /// The guarded client for bots' own provider servers (no redirects, every resolved address
    /// checked against `outbound`); `None`: one is built per chain.
    pub guarded_http: Option<reqwest::Client>,
    /// The worker's Piper voice (`PIPER_VOICE_MODEL`), for bots whose TTS is `piper`.
    pub piper: Option<Arc<dyn PiperVoice>>,
}

impl std::fmt::Debug for ProviderEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderEnv")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("base_urls", &self.base_urls)
            .finish_non_exhaustive()
    }
}

/// The words check `smart` mode uses beside the turn model: the host's `vox-llm`
/// (`LOCAL_LLM_URL`) when there is one; `None` leaves the words rule alone.
pub fn words_check(env: &ProviderEnv) -> Option<Arc<dyn pipeline::processors::EndOfTurn>> {
    let base = env.base_urls.get("llama")?;
    Some(Arc::new(crate::turn::SidecarEndOfTurn::new(
        base,
        env.http.clone(),
    )))
}

/// Which of a call's three provider chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    Stt,
    Llm,
    Tts,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Stt => "stt",
            Capability::Llm => "llm",
            Capability::Tts => "tts",
        }
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a chain could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("{capability} provider {provider:?} is not known")]
    Unknown {
        capability: Capability,
        provider: String,
    },
    #[error("{capability} provider {provider:?} needs an API key; none is configured")]
    MissingKey {
        capability: Capability,
        provider: String,
    },
    #[error(
        "{capability} provider {provider:?} points at {base_url}, where the platform's key is not \
         sent: only the vendor's own URL or the one the platform configured gets it"
    )]
    KeyNotForUrl {
        capability: Capability,
        provider: String,
        base_url: String,
    },
    #[error("{capability} provider {provider:?} may not reach {base_url}: {reason}")]
    Forbidden {
        capability: Capability,
        provider: String,
        base_url: String,
        reason: String,
    },
    #[error("{capability} provider {provider:?} needs options.{option}")]
    MissingOption {
        capability: Capability,
        provider: String,
        option: &'static str,
    },
    #[error("{capability} provider {provider:?} is not available in this build: {reason}")]
    Unavailable {
        capability: Capability,
        provider: String,
        reason: &'static str,
    },
}

impl BuildError {
    /// Which chain could not be built.
    pub fn capability(&self) -> Capability {
        match self {
            BuildError::Unknown { capability, .. }
            | BuildError::MissingKey { capability, .. }
            | BuildError::KeyNotForUrl { capability, .. }
            | BuildError::Forbidden { capability, .. }
            | BuildError::MissingOption { capability, .. }
            | BuildError::Unavailable { capability, .. } => *capability,
        }
    }
}

/// The settings and its fallbacks, primary first.
fn chain(settings: &ProviderSettings) -> Vec<&ProviderSettings> {
    let mut out = vec![settings];
    let mut next = settings.fallback.as_deref();
    while let Some(fallback) = next {
        out.push(fallback);
        next = fallback.fallback.as_deref();
    }
    out
}

struct Resolver<'a> {
    env: &'a ProviderEnv,
    capability: Capability,
}

impl Resolver<'_> {
    fn option(settings: &ProviderSettings, name: &str) -> Option<String> {
        settings
            .options
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn endpoint(
        &self,
        settings: &ProviderSettings,
        default_base: Option<&str>,
        needs_key: bool,
    ) -> Result<Endpoint, BuildError> {
        let provider = settings.provider.clone();
        // Where the environment sends this vendor: its configured base, else the vendor's own.
        let configured = self
            .env
            .base_urls
            .get(&provider)
            .cloned()
            .or_else(|| default_base.map(str::to_owned));
        let base = Self::option(settings, "base_url")
            .or_else(|| configured.clone())
            .ok_or(BuildError::MissingOption {
                capability: self.capability,
                provider: provider.clone(),
                option: "base_url",
            })?;
        // The platform's key goes only where the environment sends the vendor: a bot's own
        // `base_url` elsewhere gets no key (H1).
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        let key_allowed = configured.as_deref().is_some_and(|c| same(c, &base));
        let key = self
            .env
            .keys
            .get(&provider)
            .cloned()
            .filter(|_| key_allowed);
        if needs_key && key.is_none() {
            if !key_allowed && self.env.keys.contains_key(&provider) {
                return Err(BuildError::KeyNotForUrl {
                    capability: self.capability,
                    provider,
                    base_url: base,
                });
            }
            return Err(BuildError::MissingKey {
                capability: self.capability,
                provider,
            });
        }
        let mut endpoint = Endpoint::new(&provider, &base, key);
        endpoint.http = self.env.http.clone();
        let platforms = configured.as_deref().is_some_and(|c| same(c, &base))
            || contracts::runtime_config::is_local_default(&provider, &base);
        if !platforms {
            // The bot's own server, an operator's URL: no redirects, and a private address only
            // where OUTBOUND_ALLOWED_NETWORKS allows it, checked after every resolution too.
            egress::check_saved_url(&base, &self.env.outbound).map_err(|error| {
                BuildError::Forbidden {
                    capability: self.capability,
                    provider: provider.clone(),
                    base_url: base.clone(),
                    reason: error.to_string(),
                }
            })?;
            let guarded = self.env.guarded_http.clone();
            endpoint.http =
                Some(guarded.unwrap_or_else(|| egress::streaming_client(&self.env.outbound)));
        }
        if let Some(ms) = settings.options.get("timeout_ms").and_then(Value::as_u64) {
            endpoint.timeout = Duration::from_millis(ms);
        }
        Ok(endpoint)
    }

    fn unknown(&self, settings: &ProviderSettings) -> BuildError {
        BuildError::Unknown {
            capability: self.capability,
            provider: settings.provider.clone(),
        }
    }
}

fn llm(
    settings: &ProviderSettings,
    env: &ProviderEnv,
) -> Result<Arc<dyn LanguageModel>, BuildError> {
    let r = Resolver {
        env,
        capability: Capability::Llm,
    };
    let model = |default: &str| settings.model.clone().unwrap_or_else(|| default.to_owned());
    let openai = |base: Option<&str>,
                  key: bool,
                  default_model: &str|
     -> Result<Arc<dyn LanguageModel>, BuildError> {
        Ok(Arc::new(OpenAiLlm::new(
            r.endpoint(settings, base, key)?,
            &model(default_model),
        )))
    };
    match settings.provider.as_str() {
        "openai" => openai(Some("https://api.openai.com/v1"), true, "gpt-4o-mini"),
        "groq" => openai(
            Some("https://api.groq.com/openai/v1"),
            true,
            "llama-3.1-8b-instant",
        ),
        "vllm" => openai(Some("http://127.0.0.1:8000/v1"), false, "default"),
        "llamacpp" => openai(Some("http://127.0.0.1:8080/v1"), false, "default"),
        "ollama" => openai(Some("http://127.0.0.1:11434/v1"), false, "llama3.2"),
        "anthropic" => Ok(Arc::new(AnthropicLlm::new(
            r.endpoint(settings, Some("https://api.anthropic.com"), true)?,
            &model("claude-3-5-haiku-latest"),
        ))),
        // The local model behind `vox-llm` (LOCAL_LLM_URL), an OpenAI-compatible server.
        "llama"
            if Resolver::option(settings, "base_url").is_none()
                && !env.base_urls.contains_key("llama") =>
        {
            Err(BuildError::Unavailable {
                capability: Capability::Llm,
                provider: "llama".to_owned(),
                reason: "no local model server is configured (LOCAL_LLM_URL, the vox-llm sidecar)",
            })
        }
        "llama" => openai(None, false, "local"),
        _ => Err(r.unknown(settings)),
    }
}

fn stt(
    settings: &ProviderSettings,
    language: &str,
    env: &ProviderEnv,
) -> Result<Arc<dyn SpeechToText>, BuildError> {
    let r = Resolver {
        env,
        capability: Capability::Stt,
    };
    let iso = language.split('-').next().unwrap_or("en").to_owned();
    match settings.provider.as_str() {
        "deepgram" => Ok(Arc::new(DeepgramStt::new(
            r.endpoint(settings, Some("wss://api.deepgram.com"), true)?,
            settings.model.as_deref().unwrap_or("nova-3"),
            language,
        ))),
        "openai" => Ok(Arc::new(OpenAiStt::new(
            r.endpoint(settings, Some("https://api.openai.com/v1"), true)?,
            settings.model.as_deref().unwrap_or("whisper-1"),
            Some(iso),
        ))),
        // The host's `vox-whisper` sidecar (WHISPER_URL), when the bot names no server of its own.
        "whisper"
            if Resolver::option(settings, "base_url").is_none()
                && !env.base_urls.contains_key("whisper") =>
        {
            Err(BuildError::Unavailable {
                capability: Capability::Stt,
                provider: "whisper".to_owned(),
                reason: "no speech-to-text sidecar is configured (WHISPER_URL, vox-whisper)",
            })
        }
        // A whisper server (whisper.cpp, faster-whisper) with an OpenAI-compatible route.
        "whisper" => Ok(Arc::new(OpenAiStt::new(
            r.endpoint(settings, None, false)?,
            settings.model.as_deref().unwrap_or("whisper-1"),
            Some(iso),
        ))),
        _ => Err(r.unknown(settings)),
    }
}

fn tts(
    settings: &ProviderSettings,
    language: &str,
    env: &ProviderEnv,
) -> Result<Arc<dyn TextToSpeech>, BuildError> {
    let r = Resolver {
        env,
        capability: Capability::Tts,
    };
    let voice = |default: &str| settings.voice.clone().unwrap_or_else(|| default.to_owned());
    let model = |default: &str| settings.model.clone().unwrap_or_else(|| default.to_owned());
    match settings.provider.as_str() {
        "elevenlabs" => Ok(Arc::new(ElevenLabsTts::new(
            r.endpoint(settings, Some("wss://api.elevenlabs.io"), true)?,
            &voice("21m00Tcm4TlvDq8ikWAM"),
            &model("eleven_flash_v2_5"),
        ))),
        "cartesia" => Ok(Arc::new(CartesiaTts::new(
            r.endpoint(settings, Some("wss://api.cartesia.ai"), true)?,
            &settings.voice.clone().ok_or(BuildError::MissingOption {
                capability: Capability::Tts,
                provider: "cartesia".to_owned(),
                option: "voice",
            })?,
            &model("sonic-2"),
            language.split('-').next().unwrap_or("en"),
        ))),
        "openai" => Ok(Arc::new(OpenAiTts::new(
            r.endpoint(settings, Some("https://api.openai.com/v1"), true)?,
            &model("gpt-4o-mini-tts"),
            &voice("alloy"),
        ))),
        "espeak" => Ok(Arc::new(EspeakTts {
            voice: voice(&language.to_lowercase()),
            ..EspeakTts::default()
        })),
        "piper" => match &env.piper {
            Some(voice) => Ok(Arc::new(PiperTts::new(voice.clone()))),
            None => Err(BuildError::Unavailable {
                capability: Capability::Tts,
                provider: "piper".to_owned(),
                reason: "this worker has no Piper voice (PIPER_VOICE_MODEL)",
            }),
        },
        _ => Err(r.unknown(settings)),
    }
}

/// One chain's providers, built in order. A local provider this worker lacks (`Unavailable`: no
/// Piper voice, no local LLM server) is left out when another in the chain builds, so a bot that
/// asks for a local voice first still speaks on a worker without it; any other error refuses the
/// chain.
fn built<T: ?Sized>(
    settings: &ProviderSettings,
    one: impl Fn(&ProviderSettings) -> Result<Arc<T>, BuildError>,
) -> Result<Vec<Arc<T>>, BuildError> {
    let mut providers = Vec::new();
    let mut missing = None;
    for settings in chain(settings) {
        match one(settings) {
            Ok(provider) => providers.push(provider),
            Err(error @ BuildError::Unavailable { .. }) => {
                tracing::warn!(%error, "left out of the chain");
                missing.get_or_insert(error);
            }
            Err(error) => return Err(error),
        }
    }
    match missing {
        Some(error) if providers.is_empty() => Err(error),
        _ => Ok(providers),
    }
}

/// Every provider chain of `spec`. A flow bot gets no LLM chain.
pub fn build_chains(spec: &BotSpec, env: &ProviderEnv) -> Result<ProviderChains, BuildError> {
    let stt = built(&spec.stt, |s| stt(s, &spec.language, env))?;
    let tts = built(&spec.tts, |s| tts(s, &spec.language, env))?;
    let llm = if spec.flow.is_some() {
        Vec::new()
    } else {
        built(&spec.llm, |s| llm(s, env))?
    };
    Ok(ProviderChains { stt, llm, tts })
}
