//! Do-not-call list, settings, the CRM outbox and the audit log.

use crate::support::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(60);
use store::{
    DeliveryOutcome, DeliveryStatus, NewAuditEntry, NewCrmDelivery, Page, Store, StoreError,
};

async fn the_dnc_list_adds_checks_and_removes_numbers(store: Arc<dyn Store>) {
    store.add_dnc("+14155550100", "complaint").await.unwrap();
    store
        .add_dnc("+14155550100", "second request")
        .await
        .unwrap();
    assert!(store.is_dnc("+14155550100").await.unwrap());
    assert!(!store.is_dnc("+14155550101").await.unwrap());
    let listed = store.list_dnc(Page::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].reason, "second request");
    let bad = store.add_dnc("555-0100", "x").await.unwrap_err();
    assert!(
        matches!(bad, StoreError::Invalid { ref field, .. } if field == "phone"),
        "{bad}"
    );
    assert!(store.remove_dnc("+14155550100").await.unwrap());
    assert!(!store.remove_dnc("+14155550100").await.unwrap());
}

async fn settings_are_upserted_and_keys_are_checked(store: Arc<dyn Store>) {
    store
        .put_setting("llm.default", json!({"provider": "openai"}), None)
        .await
        .unwrap();
    store
        .put_setting("llm.default", json!({"provider": "groq"}), None)
        .await
        .unwrap();
    let setting = store.setting("llm.default").await.unwrap().unwrap();
    assert_eq!(setting.value["provider"], "groq");
    assert!(store.setting("missing").await.unwrap().is_none());
    let bad = store
        .put_setting("Bad Key", json!(1), None)
        .await
        .unwrap_err();
    assert!(
        matches!(bad, StoreError::Invalid { ref field, .. } if field == "key"),
        "{bad}"
    );
    assert_eq!(store.list_settings().await.unwrap().len(), 1);
}

async fn crm_deliveries_are_queued_once_retried_and_delivered(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let bot_id = bot(&*store).await;
    let call = web_call(&*store, bot_id, now).await;
    let delivery = NewCrmDelivery {
        call_id: call.id,
        target: "hubspot".into(),
        payload: json!({"a": 1}),
    };
    let first = store
        .enqueue_crm_delivery(delivery.clone(), now)
        .await
        .unwrap();
    let again = store.enqueue_crm_delivery(delivery, now).await.unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(
        store
            .claim_crm_deliveries(now, 10, LEASE)
            .await
            .unwrap()
            .len(),
        1
    );
    let retry_at = now + chrono::Duration::minutes(5);
    let retried = store
        .record_crm_attempt(
            first.id,
            DeliveryOutcome::RetryAt {
                at: retry_at,
                error: "503".into(),
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(retried.attempts, 1);
    assert!(
        store
            .claim_crm_deliveries(now, 10, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store
        .claim_crm_deliveries(retry_at, 10, LEASE)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    let delivered = store
        .record_crm_attempt(first.id, DeliveryOutcome::Delivered, retry_at)
        .await
        .unwrap();
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
    assert_eq!(delivered.last_error.as_deref(), Some("503"));
    let failed_call = web_call(&*store, bot_id, now).await;
    let dead = store
        .enqueue_crm_delivery(
            NewCrmDelivery {
                call_id: failed_call.id,
                target: "hubspot".into(),
                payload: json!({}),
            },
            now,
        )
        .await
        .unwrap();
    let claimed = store.claim_crm_deliveries(now, 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        store
            .claim_crm_deliveries(now, 10, LEASE)
            .await
            .unwrap()
            .is_empty(),
        "claimed twice"
    );
    store
        .record_crm_attempt(
            dead.id,
            DeliveryOutcome::Failed {
                error: "410".into(),
            },
            now,
        )
        .await
        .unwrap();
    let failed = store
        .list_crm_deliveries(Some(DeliveryStatus::Failed), Page::default())
        .await
        .unwrap();
    assert_eq!(failed.items.len(), 1);
    let requeued = store.requeue_crm_delivery(dead.id, now).await.unwrap();
    assert_eq!(
        (requeued.status, requeued.attempts),
        (DeliveryStatus::Pending, 0)
    );
    assert!(store.requeue_crm_delivery(dead.id, now).await.is_err());
    let late = store
        .record_crm_attempt(first.id, DeliveryOutcome::Delivered, retry_at)
        .await
        .unwrap_err();
    assert!(matches!(late, StoreError::NotFound { .. }), "{late}");
}

async fn the_audit_log_appends_and_lists_newest_first(store: Arc<dyn Store>) {
    for action in ["bot.create", "bot.update", "campaign.start"] {
        store
            .append_audit(NewAuditEntry {
                actor: "user:1".into(),
                action: action.into(),
                entity: "bot".into(),
                entity_id: Some("7".into()),
                detail: Some(json!({"why": "test"})),
            })
            .await
            .unwrap();
    }
    let listed = store.list_audit(Page::first(2)).await.unwrap();
    assert_eq!(listed.items[0].action, "campaign.start");
    assert!(listed.next_after.is_some());
    let bad = store
        .append_audit(NewAuditEntry {
            actor: "".into(),
            action: "x".into(),
            entity: "y".into(),
            entity_id: None,
            detail: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(bad, StoreError::Invalid { ref field, .. } if field == "actor"),
        "{bad}"
    );
}

both_backends!(
    the_dnc_list_adds_checks_and_removes_numbers,
    settings_are_upserted_and_keys_are_checked,
    crm_deliveries_are_queued_once_retried_and_delivered,
    the_audit_log_appends_and_lists_newest_first,
);
