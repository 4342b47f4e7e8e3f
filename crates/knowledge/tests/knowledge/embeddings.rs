//! Embeddings: the Rust MiniLM matches sentence-transformers, the HTTP client the protocol.
//!
//! all-MiniLM-L6-v2 in Rust matches sentence-transformers' own vectors
//! (`tests/data/minilm_reference.json`, made by `minilm_reference.py`), and the OpenAI-compatible
//! client speaks the `/embeddings` protocol, refusals included.

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use knowledge::embed::{EmbedError, Embedder, MiniLm, OpenAiEmbeddings};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

fn model_dir() -> PathBuf {
    test_support::paths::model(test_support::paths::MINILM_DIR)
}

/// Loaded once per test binary (90 MB of weights).
pub fn minilm() -> &'static MiniLm {
    static MODEL: OnceLock<MiniLm> = OnceLock::new();
    MODEL.get_or_init(|| MiniLm::load(&model_dir()).unwrap())
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[tokio::test]
async fn minilm_in_rust_matches_the_reference_vectors_of_sentence_transformers() {
    let reference: Value =
        serde_json::from_str(include_str!("../data/minilm_reference.json")).unwrap();
    let items = reference["items"].as_array().unwrap();
    let texts: Vec<String> = items
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_owned())
        .collect();
    let model = minilm();
    assert_eq!(model.dimensions(), 384);
    let vectors = model.embed(&texts).await.unwrap();
    assert_eq!(vectors.len(), texts.len());
    let mut lowest = 1f32;
    for (item, vector) in items.iter().zip(&vectors) {
        let expected: Vec<f32> = item["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let similarity = cosine(&expected, vector);
        lowest = lowest.min(similarity);
        assert!(
            similarity >= 0.99,
            "cosine {similarity} for {:?}",
            item["text"]
        );
        let length = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((length - 1.0).abs() < 1e-4, "length {length}");
    }
    println!("lowest cosine against the reference: {lowest}");
    // One at a time gives what a batch gives (padding must not leak into the mean).
    let alone = model.embed(&texts[1..2]).await.unwrap();
    assert!(cosine(&alone[0], &vectors[1]) > 0.9999);
}

#[tokio::test]
async fn a_model_directory_without_weights_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(model_dir().join(file), dir.path().join(file)).unwrap();
    }
    let error = MiniLm::load(dir.path()).unwrap_err();
    assert!(matches!(error, EmbedError::Model { .. }), "{error}");
    assert!(error.to_string().contains("model.safetensors"), "{error}");
}

/// A local OpenAI-compatible endpoint: vectors from the text's length, in reverse order of
/// `index` (as the protocol allows), 401 for a wrong key.
async fn endpoint() -> String {
    async fn embeddings(headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer sk-good") {
            return (
                StatusCode::UNAUTHORIZED,
                Json(
                    json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}),
                ),
            );
        }
        let inputs = body["input"].as_array().unwrap();
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .rev()
            .map(|(i, text)| {
                let n = text.as_str().unwrap().len() as f32;
                json!({"object": "embedding", "index": i, "embedding": [n, 1.0, 0.0]})
            })
            .collect();
        (
            StatusCode::OK,
            Json(
                json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}),
            ),
        )
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/v1/embeddings", post(embeddings));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/v1")
}

#[tokio::test]
async fn the_openai_compatible_client_orders_by_index_normalises_and_checks_the_size() {
    let base = endpoint().await;
    let client = OpenAiEmbeddings::new(
        &base,
        "text-embedding-3-small",
        Some("sk-good".into()),
        3,
        Duration::from_secs(5),
    );
    let texts = vec!["abc".to_owned(), String::new()];
    let vectors = client.embed(&texts).await.unwrap();
    let expected_first = [3.0 / 10f32.sqrt(), 1.0 / 10f32.sqrt(), 0.0];
    assert!(cosine(&vectors[0], &expected_first) > 0.9999, "{vectors:?}");
    assert_eq!(vectors[1], vec![0.0, 1.0, 0.0]);

    let wrong_size = OpenAiEmbeddings::new(
        &base,
        "m",
        Some("sk-good".into()),
        1536,
        Duration::from_secs(5),
    );
    let error = wrong_size.embed(&texts).await.unwrap_err();
    assert!(matches!(error, EmbedError::Protocol(_)), "{error}");

    let refused =
        OpenAiEmbeddings::new(&base, "m", Some("sk-bad".into()), 3, Duration::from_secs(5));
    let error = refused.embed(&texts).await.unwrap_err();
    assert!(matches!(error, EmbedError::Auth { status: 401 }), "{error}");
    assert!(!format!("{error} {refused:?}").contains("sk-bad"));

    let nobody = OpenAiEmbeddings::new(
        "http://127.0.0.1:9/v1",
        "m",
        None,
        3,
        Duration::from_secs(5),
    );
    assert!(matches!(
        nobody.embed(&texts).await.unwrap_err(),
        EmbedError::Endpoint(_)
    ));
}
