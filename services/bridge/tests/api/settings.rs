//! Settings (secrets write-only), fleets, and inbound number routing into the runtime config.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use store::Role;

async fn secrets_are_stored_but_never_shown(app: TestApp) {
    let saved = app
        .put(
            "/api/v1/settings/secrets.openai_api_key",
            Some(&app.admin),
            &json!({"value": "sk-live-123"}),
        )
        .await;
    assert_eq!(saved.status(), 200);
    app.put(
        "/api/v1/settings/llm.default_model",
        Some(&app.admin),
        &json!({"value": "gpt-4o-mini"}),
    )
    .await;
    let listed = app
        .get("/api/v1/settings", Some(&app.admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(!listed.contains("sk-live-123"), "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let secret = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "secrets.openai_api_key")
        .unwrap();
    assert_eq!(
        (secret["secret"].as_bool(), secret["value"].is_null()),
        (Some(true), true)
    );
    let audit = app
        .get("/api/v1/audit", Some(&app.admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !audit.contains("sk-live-123"),
        "the audit log must not hold secrets either"
    );
    let (status, _, field) = error_of(
        app.put(
            "/api/v1/settings/crm.webhook.bot.1",
            Some(&app.admin),
            &json!({"value": {}}),
        )
        .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("key")));
    let operator = app.user_token("op@example.com", Role::Operator).await;
    assert_eq!(
        app.get("/api/v1/settings", Some(&operator)).await.status(),
        403
    );
    let removed = app
        .request(
            Method::DELETE,
            "/api/v1/settings/llm.default_model",
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(removed.status(), 204);
}

async fn the_fleet_list_is_validated(app: TestApp) {
    let saved = app
        .put(
            "/api/v1/fleets",
            Some(&app.admin),
            &json!({"urls": ["http://127.0.0.1:9000", "unix:/tmp/voxcore_1.sock"]}),
        )
        .await;
    assert_eq!(saved.status(), 200);
    let shown: Value = app
        .get("/api/v1/fleets", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["urls"][1], "unix:/tmp/voxcore_1.sock");
    let (status, _, field) = error_of(
        app.put(
            "/api/v1/fleets",
            Some(&app.admin),
            &json!({"urls": ["http://127.0.0.1:1", "ftp://no"]}),
        )
        .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("urls[1]")));
    // Outside FLEET_NETWORKS (loopback by default): the fleet secret would go there.
    let (status, _, field) = error_of(
        app.put(
            "/api/v1/fleets",
            Some(&app.admin),
            &json!({"urls": ["http://10.0.0.5:9000"]}),
        )
        .await,
    )
    .await;
    // Outside FLEET_NETWORKS: the platform's policy forbids it (403), naming the entry.
    assert_eq!((status, field.as_deref()), (403, Some("urls[0]")));
}

async fn an_inbound_number_routes_calls_to_its_bot(app: TestApp) {
    let bot = app.create_bot(bot_spec()).await;
    let routed = app
        .put(
            "/api/v1/inbound-numbers/+442071838750",
            Some(&app.admin),
            &json!({"bot_id": bot["id"]}),
        )
        .await;
    assert_eq!(routed.status(), 200);
    let listed: Value = app
        .get("/api/v1/inbound-numbers", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed,
        json!([{"number": "+442071838750", "bot_id": bot["id"]}])
    );
    let config: Value = app
        .get(
            "/api/v1/config?to=%2B442071838750&from=%2B14155550123",
            Some(FLEET_SECRET),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config["bot"]["bot_id"], bot["id"]);
    assert_eq!(config["call"]["to"], "+442071838750");
    assert_eq!(config["call"]["direction"], "inbound");
    let unknown = app
        .get("/api/v1/config?to=%2B442071838751", Some(FLEET_SECRET))
        .await;
    assert_eq!(unknown.status(), 404);
    let (status, _, field) = error_of(
        app.put(
            "/api/v1/inbound-numbers/+442071838750",
            Some(&app.admin),
            &json!({"bot_id": 9999}),
        )
        .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (404, Some("bot_id")));
    assert_eq!(
        app.request(
            Method::DELETE,
            "/api/v1/inbound-numbers/+442071838750",
            Some(&app.admin),
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        app.get("/api/v1/config?to=%2B442071838750", Some(FLEET_SECRET))
            .await
            .status(),
        404
    );
}

api_tests!(
    secrets_are_stored_but_never_shown,
    the_fleet_list_is_validated,
    an_inbound_number_routes_calls_to_its_bot,
);
