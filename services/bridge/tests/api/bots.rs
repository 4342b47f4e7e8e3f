//! Bots: validation, versions, and the error bodies of bad input.

use crate::helpers::*;
use serde_json::{Value, json};

async fn saving_a_bot_makes_a_new_version_and_keeps_the_old_one(app: TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    assert_eq!(bot["version"], 1);
    let id = bot["id"].as_i64().unwrap();
    let mut spec = bot_spec();
    spec["system_prompt"] = json!("Be brief with {{name}}.");
    let saved = app
        .put(
            &format!("/api/v1/bots/{id}"),
            Some(&app.admin),
            &json!({"name": "Reminders", "spec": spec}),
        )
        .await;
    assert_eq!(saved.status(), 200);
    assert_eq!(saved.json::<Value>().await.unwrap()["version"], 2);
    let versions: Value = app
        .get(&format!("/api/v1/bots/{id}/versions"), Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    let first: Value = app
        .get(&format!("/api/v1/bots/{id}/versions/1"), Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        first["spec"]["system_prompt"],
        "You remind {{name}} of the appointment."
    );
    let audit = app.audit_log().await;
    let update = audit
        .iter()
        .find(|e| e["action"] == "bot.update")
        .expect("audited");
    assert_eq!(update["detail"]["before"]["version"], 1);
    assert_eq!(update["detail"]["after"]["version"], 2);
}

async fn invalid_bots_are_refused_naming_the_field(app: TestApp) {
    let cases = [
        (
            json!({"llm": {"provider": "gpt-nine"}}),
            "spec.llm.provider",
        ),
        (
            json!({"llm": {"provider": "openai", "fallback": {"provider": "nope"}}}),
            "spec.llm.fallback.provider",
        ),
        (
            json!({"system_prompt": "Hi {{surname}}"}),
            "spec.system_prompt",
        ),
        (json!({"first_message": "Hi {{name"}), "spec.first_message"),
        (
            json!({"tools": [{"type": "webhook", "name": "x", "description": "d", "url": "https://a.b", "parameters": {"type": "object", "properties": {"a": {"type": "strng"}}}}]}),
            "spec.tools[0].parameters.properties.a.type",
        ),
        (
            json!({"tools": [{"type": "webhook", "name": "x", "description": "d", "url": "https://a.b", "parameters": {"type": "object", "properties": {}, "required": ["a"]}}]}),
            "spec.tools[0].parameters.required",
        ),
        (
            json!({"tools": [{"type": "transfer", "destination": "front desk"}]}),
            "spec.tools[0].destination",
        ),
        (
            json!({"limits": {"max_duration_secs": 0, "silence_timeout_secs": 5}}),
            "spec.limits.max_duration_secs",
        ),
        (
            json!({"turn": {"mode": "smart", "stop_secs": 0.01}}),
            "spec.turn.stop_secs",
        ),
        (
            json!({"turn": {"mode": "smart", "threshold": 1.5}}),
            "spec.turn.threshold",
        ),
        (
            json!({"turn": {"mode": "smart", "incomplete_wait_secs": 60}}),
            "spec.turn.incomplete_wait_secs",
        ),
        (
            json!({"idle": {"after_secs": 5, "prompts": []}}),
            "spec.idle.prompts",
        ),
        (
            json!({"idle": {"goodbye": "x".repeat(501)}}),
            "spec.idle.goodbye",
        ),
        (
            json!({"idle": {"after_secs": 5, "prompts": ["Hello?", " "]}}),
            "spec.idle.prompts[1]",
        ),
        (
            json!({"idle": {"after_secs": 5, "max_prompts": 9}}),
            "spec.idle.max_prompts",
        ),
        (json!({"idle": {"after_secs": 601}}), "spec.idle.after_secs"),
        (
            json!({"ivr": {"enabled": true, "menu_quiet_secs": 0.2}}),
            "spec.ivr.menu_quiet_secs",
        ),
        (
            json!({"interruptions": {"min_duration_secs": 4}}),
            "spec.interruptions.min_duration_secs",
        ),
        (
            json!({"interruptions": {"min_words": 11}}),
            "spec.interruptions.min_words",
        ),
        (
            json!({"interruptions": {"backchannels": ["mhm", " "]}}),
            "spec.interruptions.backchannels[1]",
        ),
        (
            json!({"flow": {"start": "hello", "steps": {"hello": {"type": "say", "text": "Hi", "next": "gone"}}}}),
            "spec.flow.steps.hello",
        ),
        (
            json!({"flow": {"start": "keys", "steps": {"keys": {"type": "send_digits", "digits": "1 then 2", "next": "keys"}}}}),
            "spec.flow.steps.keys.digits",
        ),
        (
            json!({"flow": {"start": "hand", "steps": {"hand": {"type": "transfer", "destination": "front desk"}}}}),
            "spec.flow.steps.hand.destination",
        ),
    ];
    for (patch, field) in cases {
        let mut spec = bot_spec();
        for (key, value) in patch.as_object().unwrap() {
            spec[key] = value.clone();
        }
        let response = app
            .post(
                "/api/v1/bots",
                Some(&app.admin),
                &json!({"name": "Bad", "spec": spec}),
            )
            .await;
        let (status, code, got) = error_of(response).await;
        assert_eq!(
            (status, code.as_str(), got.as_deref()),
            (422, "validation.invalid", Some(field)),
            "{patch}"
        );
    }
    let listed: Value = app
        .get("/api/v1/bots", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed["items"].as_array().unwrap().is_empty(),
        "nothing was written"
    );
}

async fn malformed_missing_oversized_and_non_json_bodies_get_clear_errors(app: TestApp) {
    let url = format!("{}/api/v1/bots", app.address);
    let send = |body: String, content_type: &'static str| {
        app.client
            .post(&url)
            .bearer_auth(&app.admin)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let (status, code, _) = error_of(
        send("{\"name\": ".into(), "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "request.malformed_json"));
    let (status, _, field) = error_of(
        send(json!({"spec": bot_spec()}).to_string(), "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("name")));
    let mut spec = bot_spec();
    spec.as_object_mut().unwrap().remove("language");
    let (status, _, field) = error_of(
        send(
            json!({"name": "x", "spec": spec}).to_string(),
            "application/json",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("spec.language")));
    let (status, code, _) = error_of(send("name=x".into(), "text/plain").await.unwrap()).await;
    assert_eq!((status, code.as_str()), (415, "request.not_json"));
}

api_tests!(
    saving_a_bot_makes_a_new_version_and_keeps_the_old_one,
    invalid_bots_are_refused_naming_the_field,
    malformed_missing_oversized_and_non_json_bodies_get_clear_errors,
);

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let app = spawn_app_with(Backend::Sqlite, |config| config.body_limit = 4096).await;
    let body = json!({"name": "x".repeat(8 * 1024), "spec": bot_spec()});
    let (status, code, _) = error_of(app.post("/api/v1/bots", Some(&app.admin), &body).await).await;
    assert_eq!((status, code.as_str()), (413, "request.too_large"));
}

/// H1: a keyed vendor (its calls carry the platform's API key) may be pointed only where the
/// platform sends it (`PROVIDER_BASE_URLS`); a keyless self-hosted server may be anywhere.
#[tokio::test]
async fn a_bot_cannot_point_a_keyed_vendor_at_a_url_the_platform_did_not_configure() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config
            .provider_base_urls
            .insert("openai".into(), "https://llm-proxy.internal/v1".into());
    })
    .await;
    let mut spec = bot_spec();
    spec["llm"] = json!({"provider": "openai", "options": {"base_url": "https://evil.example/v1"}});
    let body = json!({"name": "Key thief", "spec": spec});
    let (status, _, field) =
        error_of(app.post("/api/v1/bots", Some(&app.admin), &body).await).await;
    assert_eq!(
        (status, field.as_deref()),
        (403, Some("spec.llm.options.base_url"))
    );
    // In a fallback too.
    let mut spec = bot_spec();
    spec["tts"]["fallback"] =
        json!({"provider": "elevenlabs", "options": {"base_url": "http://127.0.0.1:9"}});
    let body = json!({"name": "Key thief", "spec": spec});
    let (status, _, field) =
        error_of(app.post("/api/v1/bots", Some(&app.admin), &body).await).await;
    assert_eq!(
        (status, field.as_deref()),
        (403, Some("spec.tts.fallback.options.base_url"))
    );
    // The URL the platform configured is fine, and so is a keyless server on an allowed network.
    let mut spec = bot_spec();
    spec["llm"] =
        json!({"provider": "openai", "options": {"base_url": "https://llm-proxy.internal/v1/"}});
    assert_eq!(
        app.post(
            "/api/v1/bots",
            Some(&app.admin),
            &json!({"name": "Proxied", "spec": spec})
        )
        .await
        .status(),
        201
    );
    let mut spec = bot_spec();
    spec["llm"] = json!({"provider": "vllm", "options": {"base_url": "http://127.0.0.1:8000/v1"}});
    assert_eq!(
        app.post(
            "/api/v1/bots",
            Some(&app.admin),
            &json!({"name": "Self-hosted", "spec": spec})
        )
        .await
        .status(),
        201
    );
}

/// H2: a webhook tool may not name a private address (the worker would call it: metadata
/// endpoints, admin ports) unless the platform allows that network.
#[tokio::test]
async fn a_webhook_tool_on_a_private_address_is_refused_unless_its_network_is_allowed() {
    let tool = |url: &str| {
        let mut spec = bot_spec();
        spec["tools"] = json!([{"type": "webhook", "name": "lookup", "description": "d", "url": url,
            "parameters": {"type": "object", "properties": {}}}]);
        json!({"name": "Tools", "spec": spec})
    };
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.outbound_allowed = egress::Allowed::default();
    })
    .await;
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5:8080/admin",
        "http://localhost:9/x",
    ] {
        let (status, _, field) =
            error_of(app.post("/api/v1/bots", Some(&app.admin), &tool(url)).await).await;
        assert_eq!(
            (status, field.as_deref()),
            (403, Some("spec.tools[0].url")),
            "{url}"
        );
    }
    // A host is named or an IPv4 address: an IPv6 literal is not taken at all.
    let (status, _, field) = error_of(
        app.post("/api/v1/bots", Some(&app.admin), &tool("http://[::1]:9/x"))
            .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("spec.tools[0].url")));
    let allowed = spawn_app_with(Backend::Sqlite, |config| {
        config.outbound_allowed = egress::Allowed::parse("127.0.0.0/8, 10.0.0.0/8").unwrap();
    })
    .await;
    for url in ["http://10.0.0.5:8080/crm", "http://localhost:9/x"] {
        let response = allowed
            .post("/api/v1/bots", Some(&allowed.admin), &tool(url))
            .await;
        assert_eq!(response.status(), 201, "{url}");
    }
}

/// A keyless vendor's own server (a bot's `base_url`) is an operator's URL like a webhook tool's:
/// a private address only where `OUTBOUND_ALLOWED_NETWORKS` allows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_own_provider_server_on_a_private_address_is_refused_unless_allowed() {
    let bot = |base: &str| {
        let mut spec = bot_spec();
        spec["llm"] = json!({"provider": "vllm", "options": {"base_url": base}});
        json!({"name": "Self-hosted", "spec": spec})
    };
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.outbound_allowed = egress::Allowed::default();
    })
    .await;
    for base in ["http://10.0.0.5:8000/v1", "http://localhost:8000/v1"] {
        let (status, _, field) =
            error_of(app.post("/api/v1/bots", Some(&app.admin), &bot(base)).await).await;
        assert_eq!(
            (status, field.as_deref()),
            (403, Some("spec.llm.options.base_url")),
            "{base}"
        );
    }
    // A public server, and the platform's own local server at its default address (what the
    // console fills in), need no allowance.
    for base in ["https://llm.example.com/v1", "http://127.0.0.1:8000/v1/"] {
        let response = app.post("/api/v1/bots", Some(&app.admin), &bot(base)).await;
        assert_eq!(response.status(), 201, "{base}");
    }
    let allowed = spawn_app_with(Backend::Sqlite, |config| {
        config.outbound_allowed = egress::Allowed::parse("10.0.0.0/8").unwrap();
    })
    .await;
    let response = allowed
        .post(
            "/api/v1/bots",
            Some(&allowed.admin),
            &bot("http://10.0.0.5:8000/v1"),
        )
        .await;
    assert_eq!(response.status(), 201);
}

/// Issue 27: a voice chain that needs only what the deployment does not run (a Piper voice, the
/// local LLM) would fail every call at its start; it is refused at save, by field, and the
/// console's list of providers says what each one needs.
#[tokio::test]
async fn a_voice_chain_the_deployment_cannot_run_is_refused_by_field_and_not_offered() {
    use contracts::local_services::LocalService;
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.local_services = [LocalService::Whisper].into();
    })
    .await;
    let save = |spec: Value| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/bots",
                Some(&app.admin),
                &json!({"name": "Local voice", "spec": spec}),
            )
            .await
        }
    };
    // The sample bot speaks with Piper alone: this deployment has no Piper voice.
    let answer = save(bot_spec()).await;
    assert_eq!(answer.status(), 422);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["field"], "spec.tts.provider", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("PIPER_VOICE_MODEL"), "{message}");
    let bots: Value = app
        .get("/api/v1/bots", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bots["items"], json!([]), "a refused bot was saved");
    // With a voice that can run as its fallback, it saves (calls speak with espeak-ng).
    let mut spec = bot_spec();
    spec["tts"]["fallback"] = json!({"provider": "espeak"});
    assert_eq!(save(spec.clone()).await.status(), 201);
    // The local LLM alone is refused; with a server of the bot's own it needs nothing here.
    spec["llm"] = json!({"provider": "llama"});
    let (status, _, field) = error_of(save(spec.clone()).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("spec.llm.provider")));
    spec["llm"] = json!({"provider": "llama", "options": {"base_url": "http://127.0.0.1:8179/v1"}});
    assert_eq!(save(spec).await.status(), 201);

    // What the console offers: every provider of each slot, and what the missing ones need.
    let offers: Value = app
        .get("/api/v1/providers", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    let offer = |slot: &str, name: &str| {
        offers[slot]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["provider"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed under {slot}: {offers}"))
            .clone()
    };
    assert_eq!(offer("tts", "piper")["available"], false);
    assert!(
        offer("tts", "piper")["needs"]
            .as_str()
            .unwrap()
            .contains("PIPER_VOICE_MODEL")
    );
    assert_eq!(offer("llm", "llama")["available"], false);
    assert_eq!(offer("tts", "espeak")["available"], true);
    assert_eq!(offer("stt", "whisper")["available"], true);
    assert_eq!(offers["local"], json!(["whisper"]));
    // Signed-in users only.
    assert_eq!(app.get("/api/v1/providers", None).await.status(), 401);
}
