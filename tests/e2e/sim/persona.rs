//! The simulated callee played by an LLM persona, speaking over the bot.
//!
//! A fake OpenAI-compatible server on loopback stands in for the model; the persona barges in,
//! through the real Backend and a real fleet worker.

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use contracts::call_result::{CallResult, Speaker};
use contracts::runtime_config::CallDirection;
use contracts::{CallState, E164Number};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sim::{LoadConfig, PersonaConfig, Population};
use std::sync::Arc;
use std::time::Duration;
use store::{CallFilter, Page, Store};
use test_support::bots::route_booking_bot;
use test_support::platform::{SECRET, platform};

/// A chat-completions server that always answers `reply`, streamed, and keeps the requests.
async fn fake_model(reply: &'static str) -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            post(
                move |State(seen): State<Arc<Mutex<Vec<Value>>>>, Json(body): Json<Value>| async move {
                    seen.lock().push(body);
                    let chunk = json!({"choices": [{"index": 0, "delta": {"content": reply}}]});
                    (
                        [("content-type", "text/event-stream")],
                        format!("data: {chunk}\n\ndata: [DONE]\n\n"),
                    )
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

async fn finished_call(store: &Arc<dyn Store>, nth: usize) -> (store::Call, CallResult) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let calls = store
            .list_calls(
                CallFilter {
                    direction: Some(CallDirection::Inbound),
                    ..CallFilter::default()
                },
                Page::first(10),
            )
            .await
            .unwrap()
            .items;
        // Newest first.
        if calls.len() >= nth {
            let call = calls[calls.len() - nth].clone();
            if call.state == CallState::Completed
                && let Some(result) = call.result.clone()
            {
                return (call, serde_json::from_value(result).unwrap());
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "{calls:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_llm_persona_books_with_the_bot_and_a_caller_who_barges_in_is_heard() {
    let db = store::testing::sqlite().await;
    let store: Arc<dyn Store> = db.store.clone();
    let platform = platform(store.clone()).await;
    route_booking_bot(&*store, "+442071838750").await;
    let (model_url, requests) = fake_model("I would like to book an appointment, please.").await;
    let fleet = platform.fleet();
    let persona = PersonaConfig {
        prompt: "You are Ada. You want a dentist appointment next week.".to_owned(),
        base_url: model_url,
        model: "persona-test".to_owned(),
        api_key_env: None,
        max_turns: 2,
    };
    let config = |population: Population| LoadConfig {
        bridge_url: platform.bridge_url.clone(),
        secret: SECRET.to_owned(),
        number: E164Number::parse("+442071838750").unwrap(),
        calls: 1,
        concurrency: 1,
        population,
    };

    // The persona hears the bot's question and asks to book.
    let report = sim::load::run(
        config(Population {
            answer_with: String::new(),
            script: Vec::new(),
            persona: Some(persona.clone()),
            hang_up_after_secs: 40.0,
            ..Population::default()
        }),
        fleet.clone(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(
        (report.connected, report.ended_by_bot),
        (1, 1),
        "{report:?}"
    );
    let asked = requests.lock().clone();
    assert!(!asked.is_empty());
    let first = asked[0].to_string();
    assert!(first.contains("You are Ada"), "{first}");
    assert!(
        first.contains("How can I help"),
        "the persona heard the bot: {first}"
    );
    let (call, result) = finished_call(&store, 1).await;
    assert_eq!(call.disposition.as_deref(), Some("booked"));
    assert!(
        result
            .transcript
            .iter()
            .any(|t| t.speaker == Speaker::User && t.text.to_lowercase().contains("appointment")),
        "{result:?}"
    );

    // A caller who speaks over the bot's question: the worker stops the bot and hears them.
    let report = sim::load::run(
        config(Population {
            answer_with: String::new(),
            script: vec!["I would like to book an appointment.".to_owned()],
            barge_in: 1.0,
            barge_in_after_secs: 0.6,
            hang_up_after_secs: 40.0,
            ..Population::default()
        }),
        fleet,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((report.connected, report.barge_ins), (1, 1), "{report:?}");
    assert!(
        report.clears >= 1,
        "the worker cleared the bot's audio: {report:?}"
    );
    let (_, result) = finished_call(&store, 2).await;
    assert!(
        result
            .transcript
            .iter()
            .any(|t| t.speaker == Speaker::Assistant && t.interrupted),
        "the bot's interrupted line is marked: {result:?}"
    );
}
