//! What the deployment tests do with a running platform.
//!
//! Sign in, a greeting flow bot, calls opened through the fleet contract, attach bodies, a call's
//! media spoken over the `vox` protocol, and the call's end in the Backend.

use super::platform::{EMAIL, FLEET_SECRET, PASSWORD, Platform};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub async fn sign_in(platform: &Platform) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", platform.bridge_url()))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

/// A flow bot that says `line` (espeak-ng speaks it; nothing needs to be heard).
pub async fn greeter(platform: &Platform, token: &str, line: &str) -> i64 {
    let spec = json!({
        "language": "en-US",
        "system_prompt": "A greeting line.",
        "stt": {"provider": "whisper", "options": {"base_url": "http://127.0.0.1:9/v1"}},
        "llm": {"provider": "openai"},
        "tts": {"provider": "espeak"},
        "flow": {"start": "hello", "steps": {
            "hello": {"type": "ask", "prompt": line, "branches": [], "otherwise": "bye"},
            "bye": {"type": "end", "text": "Goodbye."}
        }}
    });
    let bot: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/bots", platform.bridge_url()))
        .bearer_auth(token)
        .json(&json!({"name": "Greeter", "spec": spec}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    bot["id"].as_i64().unwrap_or_else(|| panic!("{bot}"))
}

/// Saves the Backend's fleet list.
pub async fn save_fleets(platform: &Platform, token: &str, urls: &[&str]) {
    let saved = reqwest::Client::new()
        .put(format!("{}/api/v1/fleets", platform.bridge_url()))
        .bearer_auth(token)
        .json(&json!({ "urls": urls }))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
}

/// The Backend's test call of `bot`: the attach reply (`call_id`, `worker_id`, `media_url`).
pub async fn test_call(platform: &Platform, token: &str, bot: i64) -> Value {
    reqwest::Client::new()
        .post(format!(
            "{}/api/v1/bots/{bot}/test-call",
            platform.bridge_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A web call of `bot` opened through the fleet contract; returns its id.
pub async fn open_call(platform: &Platform, bot: i64) -> i64 {
    let config: Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/config?bot_id={bot}&direction=web",
            platform.bridge_url()
        ))
        .bearer_auth(FLEET_SECRET)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    config["call_id"].as_i64().unwrap()
}

pub fn attach_body(call_id: i64) -> String {
    json!({"call_id": call_id, "direction": "web", "carrier": "test", "carrier_call_id": format!("t-{call_id}"),
           "media_protocol": "vox", "answered_at": "2026-11-24T09:00:00Z"})
    .to_string()
}

/// Connects to a call's media URL, starts the stream, waits for the bot's first line (20 s at
/// most) and hangs up; returns the line and how many bytes of the bot's audio came before it.
pub async fn talk(media: &str) -> (String, usize) {
    let (mut socket, _) = tokio_tungstenite::connect_async(media).await.unwrap();
    let start = json!({"type": "start", "sample_rate": 16000}).to_string();
    socket.send(Message::Text(start.into())).await.unwrap();
    let mut audio = 0usize;
    let heard = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Some(message) = socket.next().await {
            match message.unwrap() {
                Message::Binary(bytes) => audio += bytes.len(),
                Message::Text(text) => {
                    let line: Value = serde_json::from_str(&text).unwrap();
                    if line["type"] == "transcript" && line["speaker"] == "assistant" {
                        return line["text"].as_str().unwrap_or_default().to_owned();
                    }
                }
                _ => {}
            }
        }
        String::new()
    })
    .await
    .expect("the bot spoke within 20 s");
    let hangup = json!({"type": "hangup"}).to_string();
    socket.send(Message::Text(hangup.into())).await.unwrap();
    (heard, audio)
}

/// The call's state once it has ended (or what it is after 10 s).
pub async fn final_state(platform: &Platform, token: &str, call_id: i64) -> Value {
    let client = reqwest::Client::new();
    let mut state = Value::Null;
    for _ in 0..100 {
        let call: Value = client
            .get(format!("{}/api/v1/calls/{call_id}", platform.bridge_url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        state = call["state"].clone();
        if state == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    state
}
