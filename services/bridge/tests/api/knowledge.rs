//! Knowledge bases through the API with the real all-MiniLM-L6-v2.
//!
//! Uploads of each format indexed in the background (an unreadable one reported, the rest indexed),
//! hybrid search by meaning and by name, the fleet's search for a live call, deletes and re-index,
//! and every refusal naming its field.

use crate::helpers::*;
use reqwest::Response;
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};

fn minilm() -> Arc<dyn knowledge::Embedder> {
    static MODEL: OnceLock<knowledge::embed::MiniLm> = OnceLock::new();
    let model = MODEL.get_or_init(|| {
        let dir = test_support::paths::model(test_support::paths::MINILM_DIR);
        knowledge::embed::MiniLm::load(&dir)
            .unwrap_or_else(|e| panic!("{e}: scripts/test fetches the model (models_fetch)"))
    });
    Arc::new(model.clone())
}

async fn upload(app: &TestApp, base: i64, name: &str, body: &[u8]) -> Response {
    app.client
        .post(format!(
            "{}/api/v1/knowledge-bases/{base}/documents?name={name}",
            app.address
        ))
        .bearer_auth(&app.admin)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

/// The base once no document is pending or indexing (30 s at most).
async fn settled(app: &TestApp, base: i64) -> Value {
    for _ in 0..300 {
        let detail: Value = app
            .get(&format!("/api/v1/knowledge-bases/{base}"), Some(&app.admin))
            .await
            .json()
            .await
            .unwrap();
        let busy = detail["documents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["status"] == "pending" || d["status"] == "indexing");
        if !busy {
            return detail;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the documents of base {base} were not indexed within 30 s");
}

async fn search(app: &TestApp, base: i64, query: &str) -> Vec<Value> {
    let response = app
        .post(
            &format!("/api/v1/knowledge-bases/{base}/search"),
            Some(&app.admin),
            &json!({ "query": query, "top_k": 3 }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["passages"].as_array().unwrap().clone()
}

const HOURS: &str = "# Opening hours\n\nThe clinic is open Monday to Friday from 8 am to 6 pm. \
                     We are closed on weekends and public holidays.";
const FEES: &str = "<html><body><h1>Fees</h1><p>Missed appointments without 24 hours notice \
                    cost $25.</p><p>Invoice INV-20931 covers the March visit.</p></body></html>";

async fn uploads_are_indexed_in_the_background_and_found_by_meaning_and_by_name(app: TestApp) {
    let created = app
        .post(
            "/api/v1/knowledge-bases",
            Some(&app.admin),
            &json!({"name": "Clinic", "description": "Hours and fees"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let base = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();

    assert_eq!(
        upload(&app, base, "hours.md", HOURS.as_bytes())
            .await
            .status(),
        201
    );
    assert_eq!(
        upload(&app, base, "fees.html", FEES.as_bytes())
            .await
            .status(),
        201
    );
    let broken = upload(&app, base, "scan.pdf", b"%PDF-1.4 not really a pdf").await;
    assert_eq!(broken.status(), 201);
    let broken: Value = broken.json().await.unwrap();
    assert_eq!(broken["status"], "failed");
    assert!(
        broken["error"].as_str().unwrap().contains("PDF"),
        "{broken}"
    );

    let detail = settled(&app, base).await;
    assert_eq!(detail["embedding_model"], "all-MiniLM-L6-v2");
    let documents = detail["documents"].as_array().unwrap();
    let indexed: Vec<&Value> = documents
        .iter()
        .filter(|d| d["status"] == "indexed")
        .collect();
    assert_eq!(indexed.len(), 2, "{detail}");
    assert!(
        indexed
            .iter()
            .all(|d| d["chunks_done"] == d["chunks_total"])
    );
    assert_eq!(detail["knowledge_base"]["chunks"], 2, "{detail}");

    let found = search(&app, base, "When can I come in during the week?").await;
    assert_eq!(found[0]["document_name"], "hours.md", "{found:?}");
    let found = search(&app, base, "INV-20931").await;
    assert_eq!(found[0]["document_name"], "fees.html", "{found:?}");
    assert!(found[0]["text"].as_str().unwrap().contains("$25"));

    // A live call's tool searches with the fleet's secret, in the bases its bot names only.
    let mut spec = bot_spec();
    spec["tools"] = json!([{"type": "search_knowledge", "knowledge_base_ids": [base]}]);
    let bot = app.create_bot(spec).await["id"].as_i64().unwrap();
    let config: Value = app
        .get(
            &format!("/api/v1/config?bot_id={bot}&direction=web"),
            Some(FLEET_SECRET),
        )
        .await
        .json()
        .await
        .unwrap();
    let body = json!({"call_id": config["call_id"], "query": "Is there a fee for missing an appointment?",
                      "knowledge_base_ids": [base], "top_k": 1});
    let response = app
        .post("/api/v1/knowledge/search", Some(FLEET_SECRET), &body)
        .await;
    assert_eq!(response.status(), 200);
    let results: Value = response.json().await.unwrap();
    assert_eq!(
        results["passages"][0]["document_name"], "fees.html",
        "{results}"
    );
    assert_eq!(results["passages"].as_array().unwrap().len(), 1);
    let refused = app
        .post("/api/v1/knowledge/search", Some(&app.admin), &body)
        .await;
    assert_eq!(refused.status(), 401);
    let elsewhere = app
        .post(
            "/api/v1/knowledge-bases",
            Some(&app.admin),
            &json!({"name": "Elsewhere"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let other = json!({"call_id": config["call_id"], "query": "fee", "knowledge_base_ids": [base, elsewhere]});
    let (status, _, field) = error_of(
        app.post("/api/v1/knowledge/search", Some(FLEET_SECRET), &other)
            .await,
    )
    .await;
    assert_eq!(
        (status, field.as_deref()),
        (403, Some("knowledge_base_ids[1]"))
    );
    let unknown = json!({"call_id": 999_999, "query": "fee", "knowledge_base_ids": [base]});
    let response = app
        .post("/api/v1/knowledge/search", Some(FLEET_SECRET), &unknown)
        .await;
    assert_eq!(response.status(), 404);

    // Deleting a document takes its chunks out of search; a re-index queues the rest again.
    let fees = documents.iter().find(|d| d["name"] == "fees.html").unwrap()["id"]
        .as_i64()
        .unwrap();
    let deleted = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/knowledge-bases/{base}/documents/{fees}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let found = search(&app, base, "INV-20931").await;
    assert!(
        found.iter().all(|p| p["document_name"] != "fees.html"),
        "{found:?}"
    );
    let reindexed: Value = app
        .post(
            &format!("/api/v1/knowledge-bases/{base}/reindex"),
            Some(&app.admin),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reindexed["queued"], 1);
    let detail = settled(&app, base).await;
    assert_eq!(detail["knowledge_base"]["chunks"], 1, "{detail}");
    let audit = app.audit_log().await;
    let actions: Vec<&str> = audit.iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(
        actions.contains(&"knowledge.upload") && actions.contains(&"knowledge.reindex"),
        "{actions:?}"
    );
}

async fn bad_uploads_and_searches_are_refused_naming_the_field(app: TestApp) {
    let base: Value = app
        .post(
            "/api/v1/knowledge-bases",
            Some(&app.admin),
            &json!({"name": "Policies"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let base = base["id"].as_i64().unwrap();
    let taken = app
        .post(
            "/api/v1/knowledge-bases",
            Some(&app.admin),
            &json!({"name": "Policies"}),
        )
        .await;
    assert_eq!(taken.status(), 409);
    let (status, _, field) = error_of(
        app.post(
            "/api/v1/knowledge-bases",
            Some(&app.admin),
            &json!({"name": " "}),
        )
        .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("name")));
    let (status, code, _) = error_of(upload(&app, base, "photo.jpg", b"\xff\xd8\xff").await).await;
    assert_eq!((status, code.as_str()), (415, "unsupported_media_type"));
    let (status, _, field) = error_of(upload(&app, base, "empty.txt", b"").await).await;
    assert_eq!((status, field.as_deref()), (422, Some("body")));
    let (status, _, _) = error_of(upload(&app, base + 100, "a.txt", b"text").await).await;
    assert_eq!(status, 404);
    let viewer = app
        .user_token("viewer@example.com", store::Role::Viewer)
        .await;
    let denied = app
        .client
        .post(format!(
            "{}/api/v1/knowledge-bases/{base}/documents?name=a.txt",
            app.address
        ))
        .bearer_auth(&viewer)
        .body("text")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let path = format!("/api/v1/knowledge-bases/{base}/search");
    for (body, field) in [
        (json!({"query": "  "}), "query"),
        (json!({"query": "x", "top_k": 0}), "top_k"),
        (json!({"query": "x", "top_k": 21}), "top_k"),
        (json!({"query": "x", "mode": "fuzzy"}), "mode"),
    ] {
        let (status, _, got) = error_of(app.post(&path, Some(&viewer), &body).await).await;
        assert_eq!((status, got.as_deref()), (422, Some(field)), "{body}");
    }
    // A bot's search_knowledge tool must name bases that exist, and sensible limits.
    // A base that does not exist is not found (404), naming where the spec refers to it.
    let mut spec = bot_spec();
    spec["tools"] = json!([{"type": "search_knowledge", "knowledge_base_ids": [base, base + 100]}]);
    let response = app
        .post(
            "/api/v1/bots",
            Some(&app.admin),
            &json!({"name": "Helpdesk", "spec": spec}),
        )
        .await;
    let (status, _, got) = error_of(response).await;
    assert_eq!(
        (status, got.as_deref()),
        (404, Some("spec.tools[0].knowledge_base_ids[1]"))
    );
    for (tools, field) in [
        (
            json!([{"type": "search_knowledge", "knowledge_base_ids": []}]),
            "spec.tools[0].knowledge_base_ids",
        ),
        (
            json!([{"type": "search_knowledge", "knowledge_base_ids": [base], "top_k": 50}]),
            "spec.tools[0].top_k",
        ),
        (
            json!([{"type": "search_knowledge", "knowledge_base_ids": [base], "timeout_ms": 20}]),
            "spec.tools[0].timeout_ms",
        ),
        (
            json!([{"type": "search_knowledge", "knowledge_base_ids": [base]},
                   {"type": "search_knowledge", "knowledge_base_ids": [base], "retrieval": "every_turn"}]),
            "spec.tools[1].type",
        ),
    ] {
        let mut spec = bot_spec();
        spec["tools"] = tools;
        let response = app
            .post(
                "/api/v1/bots",
                Some(&app.admin),
                &json!({"name": "Helpdesk", "spec": spec}),
            )
            .await;
        let (status, _, got) = error_of(response).await;
        assert_eq!((status, got.as_deref()), (422, Some(field)), "{spec}");
    }
    let mut spec = bot_spec();
    spec["tools"] = json!([{"type": "search_knowledge", "knowledge_base_ids": [base], "filler": "Let me check.",
                            "retrieval": "every_turn"}]);
    let saved = app
        .post(
            "/api/v1/bots",
            Some(&app.admin),
            &json!({"name": "Helpdesk", "spec": spec}),
        )
        .await;
    assert_eq!(saved.status(), 201);
    let saved: Value = saved.json().await.unwrap();
    assert_eq!(saved["spec"]["tools"][0]["top_k"], 3, "{saved}");
    assert_eq!(saved["spec"]["tools"][0]["timeout_ms"], 1500);
    assert_eq!(saved["spec"]["tools"][0]["retrieval"], "every_turn");
    // Nothing was stored by the refusals.
    let detail: Value = app
        .get(&format!("/api/v1/knowledge-bases/{base}"), Some(&viewer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["documents"].as_array().unwrap().len(), 0);
}

async fn without_an_embedding_model_uploads_and_searches_say_which_setting_is_missing(
    app: TestApp,
) {
    let base: Value = app
        .post(
            "/api/v1/knowledge-bases",
            Some(&app.admin),
            &json!({"name": "FAQ"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let base = base["id"].as_i64().unwrap();
    let refused = upload(&app, base, "faq.txt", b"Open at 8.").await;
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "knowledge.no_embedder");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("EMBEDDING_MODEL_DIR")
    );
    let searched = app
        .post(
            &format!("/api/v1/knowledge-bases/{base}/search"),
            Some(&app.admin),
            &json!({"query": "open"}),
        )
        .await;
    assert_eq!(searched.status(), 503);
}

/// Runs each test once per backend, with the real embedding model.
macro_rules! knowledge_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |c| c.embedder = Some(super::minilm())).await;
                    super::$name(app).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Postgres, |c| c.embedder = Some(super::minilm())).await;
                    super::$name(app).await;
                }
            )+
        }
    };
}

knowledge_tests!(
    uploads_are_indexed_in_the_background_and_found_by_meaning_and_by_name,
    bad_uploads_and_searches_are_refused_naming_the_field,
);

/// Without an embedding model (the ordinary test app).
mod no_model {
    use super::*;

    api_tests!(without_an_embedding_model_uploads_and_searches_say_which_setting_is_missing);
}
