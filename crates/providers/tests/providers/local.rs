//! The local pieces: espeak-ng speaking for real, the webhook client, chains from settings.

use crate::support::*;
use audio::{SampleRate, VadEvent, VadParams, VoiceDetector};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use contracts::runtime_config::{BotSpec, ProviderSettings};
use pipeline::TextToSpeech;
use pipeline::tools::WebhookClient;
use providers::tts::EspeakTts;
use providers::webhook::HttpWebhooks;
use providers::{BuildError, Capability, ProviderEnv, build_chains};
use serde_json::{Value, json};

fn speech_events(samples: &[i16], rate: SampleRate) -> Vec<VadEvent> {
    let mut detector = VoiceDetector::new(rate, VadParams::default()).unwrap();
    let mut padded = samples.to_vec();
    padded.extend(vec![0; rate.samples_in_ms(1_500) as usize]);
    padded
        .chunks(rate.frame_samples())
        .filter_map(|frame| detector.push(frame))
        .collect()
}

#[tokio::test]
async fn espeak_speaks_at_every_call_rate_and_the_vad_hears_speech_in_it() {
    for rate in [SampleRate::Hz8000, SampleRate::Hz16000, SampleRate::Hz24000] {
        let tts = EspeakTts::default();
        let (chunks, error) = collect(
            tts.synthesize("Your appointment is on Tuesday at nine.", rate)
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(error, None);
        let samples = chunks.concat();
        let seconds = samples.len() as f64 / f64::from(rate.hz());
        assert!((1.5..5.0).contains(&seconds), "{seconds} s at {rate:?}");
        assert_eq!(
            speech_events(&samples, rate),
            vec![VadEvent::Started, VadEvent::Stopped],
            "{rate:?}"
        );
    }
}

#[tokio::test]
async fn espeak_that_cannot_run_is_a_typed_error_naming_it() {
    let tts = EspeakTts {
        program: "/nonexistent/espeak-ng".to_owned(),
        ..EspeakTts::default()
    };
    let err = tts
        .synthesize("Hi.", SampleRate::Hz8000)
        .await
        .err()
        .unwrap();
    assert_eq!(err.provider(), "espeak");
    assert!(err.to_string().contains("cannot run"), "{err}");
}

#[tokio::test]
async fn the_webhook_client_posts_json_and_reports_failures() {
    async fn slots(body: String) -> (StatusCode, String) {
        let request: Value = serde_json::from_str(&body).unwrap();
        if request["arguments"]["day"] == "never" {
            return (StatusCode::BAD_GATEWAY, "upstream down".to_owned());
        }
        (
            StatusCode::OK,
            json!({ "slots": ["9am"], "echo": request["arguments"] }).to_string(),
        )
    }
    let addr = serve(Router::new().route("/slots", post(slots))).await;
    // The server is on loopback, a private address: this worker allows it.
    let client = HttpWebhooks::new(egress::Egress::new(egress::Policy {
        allowed: egress::Allowed::parse("127.0.0.0/8").unwrap(),
        ..egress::Policy::default()
    }));
    let url = format!("http://{addr}/slots");
    let reply = client
        .call(&url, &json!({ "arguments": { "day": "tuesday" } }))
        .await
        .unwrap();
    assert_eq!(
        reply,
        json!({ "slots": ["9am"], "echo": { "day": "tuesday" } })
    );
    let err = client
        .call(&url, &json!({ "arguments": { "day": "never" } }))
        .await
        .unwrap_err();
    assert!(
        err.contains("502") && err.contains("upstream down"),
        "{err}"
    );
    // H2: a tool whose server redirects (to a metadata endpoint, say) gets an error, and the
    // redirect's target is never called.
    let hit = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = hit.clone();
    let target = serve(Router::new().route(
        "/meta",
        post(move || {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            async { "credentials" }
        }),
    ))
    .await;
    let location = format!("http://{target}/meta");
    let redirector = serve(Router::new().route(
        "/r",
        post(move || {
            let location = location.clone();
            async move {
                (
                    StatusCode::FOUND,
                    [(axum::http::header::LOCATION, location)],
                )
            }
        }),
    ))
    .await;
    let err = client
        .call(&format!("http://{redirector}/r"), &json!({}))
        .await
        .unwrap_err();
    assert!(err.contains("redirect"), "{err}");
    assert!(!hit.load(std::sync::atomic::Ordering::SeqCst));
    // Without the allowance, loopback is not reached at all.
    let guarded = HttpWebhooks::new(egress::Egress::new(egress::Policy::default()));
    let err = guarded.call(&url, &json!({})).await.unwrap_err();
    assert!(err.contains("private address"), "{err}");
}

fn provider(name: &str, fallback: Option<ProviderSettings>) -> ProviderSettings {
    ProviderSettings {
        voice: Some("v1".to_owned()),
        fallback: fallback.map(Box::new),
        ..ProviderSettings::named(name)
    }
}

fn spec(llm: ProviderSettings, tts: ProviderSettings) -> BotSpec {
    BotSpec::new("en-US", "p", provider("deepgram", None), llm, tts)
}

#[test]
fn chains_follow_the_fallbacks_and_refuse_what_cannot_be_built() {
    let mut env = ProviderEnv::default();
    for vendor in ["deepgram", "openai", "anthropic", "cartesia"] {
        env.keys.insert(vendor.to_owned(), "k".to_owned());
    }
    let bot = spec(
        provider(
            "openai",
            Some(provider("anthropic", Some(provider("ollama", None)))),
        ),
        provider("cartesia", Some(provider("espeak", None))),
    );
    let chains = build_chains(&bot, &env).unwrap();
    let names = |list: Vec<String>| list;
    assert_eq!(
        names(chains.llm.iter().map(|p| p.name().to_owned()).collect()),
        vec!["openai", "anthropic", "ollama"]
    );
    assert_eq!(
        names(chains.tts.iter().map(|p| p.name().to_owned()).collect()),
        vec!["cartesia", "espeak"]
    );

    let bot = spec(provider("groq", None), provider("espeak", None));
    assert_eq!(
        build_chains(&bot, &env).err(),
        Some(BuildError::MissingKey {
            capability: Capability::Llm,
            provider: "groq".to_owned()
        })
    );
    let bot = spec(provider("openai", None), provider("speakomatic", None));
    assert_eq!(
        build_chains(&bot, &env).err(),
        Some(BuildError::Unknown {
            capability: Capability::Tts,
            provider: "speakomatic".to_owned()
        })
    );
    let bot = spec(provider("llama", None), provider("espeak", None));
    assert!(matches!(
        build_chains(&bot, &env),
        Err(BuildError::Unavailable { .. })
    ));
}

#[test]
fn a_local_voice_this_worker_lacks_is_left_out_when_its_chain_has_another() {
    let mut env = ProviderEnv::default();
    for vendor in ["deepgram", "openai"] {
        env.keys.insert(vendor.to_owned(), "k".to_owned());
    }
    // No Piper voice loaded: espeak-ng speaks for it.
    let bot = spec(
        provider("openai", None),
        provider("piper", Some(provider("espeak", None))),
    );
    let chains = build_chains(&bot, &env).unwrap();
    let tts: Vec<&str> = chains.tts.iter().map(|p| p.name()).collect();
    assert_eq!(tts, vec!["espeak"]);
    // Alone, it is refused, naming what the worker lacks.
    let bot = spec(provider("openai", None), provider("piper", None));
    match build_chains(&bot, &env) {
        Err(BuildError::Unavailable { reason, .. }) => {
            assert!(reason.contains("PIPER_VOICE_MODEL"), "{reason}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    // A fallback that is wrong is still refused, not skipped.
    let bot = spec(
        provider("openai", None),
        provider("piper", Some(provider("speakomatic", None))),
    );
    assert!(matches!(
        build_chains(&bot, &env),
        Err(BuildError::Unknown { .. })
    ));
}

/// H1: a bot's own `base_url` for a keyed vendor gets no platform key: the chain is refused
/// before any request, unless the platform itself sends the vendor there.
#[test]
fn the_platforms_key_goes_only_to_the_url_the_platform_configured() {
    let mut env = ProviderEnv::default();
    env.keys.insert("openai".to_owned(), "sk-canary".to_owned());
    env.keys.insert("deepgram".to_owned(), "k".to_owned());
    let mut llm = provider("openai", None);
    llm.options
        .insert("base_url".to_owned(), json!("http://127.0.0.1:9/v1"));
    let bot = spec(llm, provider("espeak", None));
    let refused = build_chains(&bot, &env).err();
    assert_eq!(
        refused,
        Some(BuildError::KeyNotForUrl {
            capability: Capability::Llm,
            provider: "openai".to_owned(),
            base_url: "http://127.0.0.1:9/v1".to_owned()
        })
    );
    assert!(!refused.unwrap().to_string().contains("sk-canary"));
    // The vendor's own URL, or the one the platform configured, gets the key.
    let mut own = provider("openai", None);
    own.options
        .insert("base_url".to_owned(), json!("https://api.openai.com/v1/"));
    assert!(build_chains(&spec(own, provider("espeak", None)), &env).is_ok());
    env.base_urls
        .insert("openai".to_owned(), "http://127.0.0.1:9/v1/".to_owned());
    assert!(build_chains(&bot, &env).is_ok());
    // A keyless vendor (a self-hosted server) goes where the bot says: a private address only
    // where OUTBOUND_ALLOWED_NETWORKS allows it (deliverable 3 of the security issue).
    let mut vllm = provider("vllm", None);
    vllm.options
        .insert("base_url".to_owned(), json!("http://127.0.0.1:9/v1"));
    let vllm = spec(vllm, provider("espeak", None));
    assert!(matches!(
        build_chains(&vllm, &env),
        Err(BuildError::Forbidden {
            capability: Capability::Llm,
            ..
        })
    ));
    env.outbound = egress::Allowed::parse("127.0.0.0/8").unwrap();
    assert!(build_chains(&vllm, &env).is_ok());
    // The platform's own local server at its default address is not an operator's URL.
    env.outbound = egress::Allowed::default();
    let mut whisper = provider("whisper", None);
    whisper
        .options
        .insert("base_url".to_owned(), json!("http://127.0.0.1:8178/v1"));
    let mut bot = spec(provider("vllm", None), provider("espeak", None));
    bot.stt = whisper;
    assert!(build_chains(&bot, &env).is_ok());
}

/// A bot's own provider server is reached through the guarded client: a redirect elsewhere is
/// not followed (an open redirect on it cannot send the request to an internal host).
#[tokio::test]
async fn a_bots_own_provider_server_cannot_redirect_the_request_elsewhere() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    let target = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { "{}" }
    });
    let target_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_url = format!(
        "http://{}/v1/chat/completions",
        target_listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(target_listener, target).await });
    let redirecting = axum::Router::new().fallback(move || {
        let to = target_url.clone();
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [("location", to)],
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, redirecting).await });
    let mut env = ProviderEnv {
        outbound: egress::Allowed::parse("127.0.0.0/8").unwrap(),
        ..ProviderEnv::default()
    };
    env.keys.insert("deepgram".to_owned(), "k".to_owned());
    let mut llm = provider("vllm", None);
    llm.options.insert("base_url".to_owned(), json!(base));
    let chains = build_chains(&spec(llm, provider("espeak", None)), &env).unwrap();
    let error = first_llm_error(&chains).await;
    assert_eq!(error.provider(), "vllm", "a redirect is not a reply");
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
}

#[tokio::test]
async fn the_llama_provider_is_the_local_llm_server_and_a_server_that_is_down_fails_the_turn_at_once()
 {
    let mut env = ProviderEnv::default();
    env.keys.insert("deepgram".to_owned(), "k".to_owned());
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    env.base_urls
        .insert("llama".to_owned(), "http://127.0.0.1:1/v1".to_owned());
    let bot = spec(provider("llama", None), provider("espeak", None));
    let chains = build_chains(&bot, &env).unwrap();
    assert_eq!(chains.llm[0].name(), "llama");
    let error = first_llm_error(&chains).await;
    assert_eq!(error.provider(), "llama");
}

/// Asks the chain's first LLM for a reply that must fail: the error, within 10 s (not a hang).
async fn first_llm_error(chains: &pipeline::assemble::ProviderChains) -> pipeline::ProviderError {
    let request = pipeline::LlmRequest {
        system: "s".to_owned(),
        messages: vec![pipeline::Message::User("hi".to_owned())],
        tools: vec![],
    };
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        chains.llm[0].stream(&request),
    )
    .await
    .expect("an error, not a hang");
    outcome.err().expect("the reply fails")
}
