//! A live call's knowledge search from the worker's side.
//!
//! The `search_knowledge` tool's client asks the real Backend with the fleet secret and gives the
//! model passages with their sources; a call the Backend does not know is refused.

use super::support::*;
use chrono::Utc;
use contracts::runtime_config::{Retrieval, ToolSpec};
use fleet::client::{BridgeClient, CallKnowledge};
use pipeline::tools::KnowledgeClient;
use secrecy::SecretString;
use store::{DocumentStatus, NewKbDocument};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_searches_the_knowledge_base_of_its_call_through_the_backend() {
    let backend = backend().await;
    let base = backend
        .store
        .create_knowledge_base("Clinic", "", Utc::now())
        .await
        .unwrap();
    for (name, text) in [
        (
            "hours.md",
            "The clinic opens at eight and closes at six on weekdays.",
        ),
        (
            "parking.txt",
            "Parking in the garage on 14th Street is validated.",
        ),
    ] {
        backend
            .store
            .add_document(NewKbDocument {
                knowledge_base_id: base.id,
                name: name.into(),
                format: "text".into(),
                size_bytes: text.len() as i64,
                sha256: "00".repeat(32),
                body: Ok(text.into()),
                now: Utc::now(),
            })
            .await
            .unwrap();
    }
    // The Backend's indexer polls every few seconds when nobody wakes it.
    for _ in 0..200 {
        let documents = backend.store.documents(base.id).await.unwrap();
        if documents
            .iter()
            .all(|d| d.status == DocumentStatus::Indexed)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut spec = silent_bot();
    spec.tools = vec![ToolSpec::SearchKnowledge {
        knowledge_base_ids: vec![base.id],
        top_k: 1,
        timeout_ms: 1_500,
        filler: None,
        retrieval: Retrieval::Tool,
    }];
    let call = answered_call(&backend.store, spec).await;
    let client = BridgeClient::new(
        &format!("{}/api/v1/config", backend.url),
        &backend.url,
        SecretString::from(SECRET),
    );
    let found = CallKnowledge::new(client.clone(), call)
        .search("Where is the parking garage?", &[base.id], 1)
        .await
        .unwrap();
    let passages = found["passages"].as_array().unwrap();
    assert_eq!(passages.len(), 1, "{found}");
    assert_eq!(passages[0]["source"], "parking.txt");
    assert!(
        passages[0]["text"]
            .as_str()
            .unwrap()
            .contains("14th Street")
    );

    let stranger = CallKnowledge::new(client, contracts::CallId(987_654))
        .search("parking", &[base.id], 1)
        .await
        .unwrap_err();
    assert!(stranger.contains("404"), "{stranger}");
}
