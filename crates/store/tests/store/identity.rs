//! Users and API keys, and the migrations that create them.

use crate::support::*;
use std::sync::Arc;
use store::{NewApiKey, NewUser, Page, Role, Store, StoreError, UserUpdate};

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        name: "Ada Lovelace".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: Role::Operator,
    }
}

async fn migrating_twice_applies_nothing_the_second_time(store: Arc<dyn Store>) {
    assert_eq!(store.migrate().await.unwrap(), 0);
    store.ping().await.unwrap();
}

async fn a_user_is_found_by_email_whatever_its_case(store: Arc<dyn Store>) {
    let user = store
        .create_user(new_user("Ada@Example.com"))
        .await
        .unwrap();
    assert_eq!(user.email, "ada@example.com");
    let found = store
        .user_by_email("ADA@example.COM")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, user.id);
    assert!(
        store
            .user_by_email("bob@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let duplicate = store
        .create_user(new_user("ada@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(duplicate, StoreError::Conflict { .. }),
        "{duplicate}"
    );
    let bad = store
        .create_user(new_user("not-an-email"))
        .await
        .unwrap_err();
    assert!(
        matches!(bad, StoreError::Invalid { ref field, .. } if field == "email"),
        "{bad}"
    );
}

async fn a_user_update_changes_only_the_given_fields(store: Arc<dyn Store>) {
    let user = store
        .create_user(new_user("ada@example.com"))
        .await
        .unwrap();
    let updated = store
        .update_user(
            user.id,
            UserUpdate {
                role: Some(Role::Admin),
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.role, Role::Admin);
    assert!(updated.disabled);
    assert_eq!(updated.name, user.name);
    assert_eq!(updated.password_hash, user.password_hash);
    for i in 0..3 {
        store
            .create_user(new_user(&format!("user{i}@example.com")))
            .await
            .unwrap();
    }
    let first = store.list_users(Page::first(3)).await.unwrap();
    let second = store
        .list_users(Page {
            limit: 3,
            after: first.next_after,
        })
        .await
        .unwrap();
    assert_eq!(first.items.len() + second.items.len(), 4);
    assert_eq!(second.items.last().unwrap().id, user.id);
}

async fn an_api_key_is_found_by_its_hash_until_revoked(store: Arc<dyn Store>) {
    let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let key = store
        .create_api_key(NewApiKey {
            name: "crm sync".into(),
            prefix: "vox_9f86".into(),
            key_hash: hash.into(),
            role: Role::Viewer,
            created_by: None,
        })
        .await
        .unwrap();
    assert!(key.last_used_at.is_none());
    let now = at(2026, 11, 23, 9, 0);
    let used = store.api_key_by_hash(hash, now).await.unwrap().unwrap();
    assert_eq!(used.last_used_at, Some(now));
    // L2: uses within a minute write nothing new; a revoked key's use is never written.
    let soon = now + chrono::Duration::seconds(30);
    let again = store.api_key_by_hash(hash, soon).await.unwrap().unwrap();
    assert_eq!(again.last_used_at, Some(now));
    let revoked = store.revoke_api_key(key.id, now).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(now));
    let later = now + chrono::Duration::hours(1);
    let refused = store.api_key_by_hash(hash, later).await.unwrap().unwrap();
    assert_eq!(refused.last_used_at, Some(now));
    assert!(
        store
            .api_key_by_hash(hash, now)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(
        store
            .api_key_by_hash("0".repeat(64).as_str(), now)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .list_api_keys(Page::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

both_backends!(
    migrating_twice_applies_nothing_the_second_time,
    a_user_is_found_by_email_whatever_its_case,
    a_user_update_changes_only_the_given_fields,
    an_api_key_is_found_by_its_hash_until_revoked,
);
