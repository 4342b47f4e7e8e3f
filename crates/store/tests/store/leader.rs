//! The dialler's leader lease: one holder at a time, fencing tokens that only grow, fenced leases.

use crate::support::*;
use std::sync::Arc;
use std::time::Duration;
use store::{Fence, LeaseRequest, Store, StoreError};

const TTL: Duration = Duration::from_secs(10);

async fn a_second_leader_cannot_act_while_the_first_holds_a_valid_lease(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let first = store
        .acquire_leader("dialler-a", TTL, now)
        .await
        .unwrap()
        .expect("free lease");
    assert_eq!(first.holder, "dialler-a");
    let during = now + chrono::Duration::seconds(9);
    assert!(
        store
            .acquire_leader("dialler-b", TTL, during)
            .await
            .unwrap()
            .is_none()
    );
    // The holder re-acquiring keeps its token.
    let same = store
        .acquire_leader("dialler-a", TTL, during)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(same.fencing_token, first.fencing_token);

    // b's lease attempt with a made-up fence is refused.
    let campaign = running_campaign(&*store, |_| {}).await;
    store
        .add_contacts(campaign, many_contacts(3))
        .await
        .unwrap();
    let fenced = |holder: &str, token: i64, now| LeaseRequest {
        campaign_id: campaign,
        owner: holder.into(),
        limit: 10,
        ttl: TTL,
        now,
        fence: Some(Fence {
            holder: holder.into(),
            token,
        }),
    };
    let error = store
        .lease_contacts(fenced("dialler-b", first.fencing_token + 1, during))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Fenced { .. }), "{error}");
    let leases = store
        .lease_contacts(fenced("dialler-a", first.fencing_token, during))
        .await
        .unwrap();
    assert_eq!(leases.len(), 3);
}

async fn an_expired_leader_is_replaced_with_a_higher_token_and_fenced_out(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let first = store
        .acquire_leader("dialler-a", TTL, now)
        .await
        .unwrap()
        .unwrap();
    let renewed = store
        .renew_leader(
            &Fence {
                holder: "dialler-a".into(),
                token: first.fencing_token,
            },
            TTL,
            now + chrono::Duration::seconds(5),
        )
        .await
        .unwrap()
        .expect("renewed while valid");
    assert_eq!(renewed.fencing_token, first.fencing_token);
    // a stalls past its lease; b takes over.
    let takeover_at = now + chrono::Duration::seconds(16);
    let second = store
        .acquire_leader("dialler-b", TTL, takeover_at)
        .await
        .unwrap()
        .expect("expired lease is free");
    assert!(second.fencing_token > first.fencing_token);
    let stale = Fence {
        holder: "dialler-a".into(),
        token: first.fencing_token,
    };
    assert!(
        store
            .renew_leader(&stale, TTL, takeover_at)
            .await
            .unwrap()
            .is_none()
    );
    let campaign = running_campaign(&*store, |_| {}).await;
    store
        .add_contacts(campaign, many_contacts(1))
        .await
        .unwrap();
    let error = store
        .lease_contacts(LeaseRequest {
            campaign_id: campaign,
            owner: "dialler-a".into(),
            limit: 10,
            ttl: TTL,
            now: takeover_at,
            fence: Some(stale),
        })
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Fenced { .. }), "{error}");
}

async fn a_released_lease_is_free_at_once_and_the_token_still_grows(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let first = store
        .acquire_leader("dialler-a", TTL, now)
        .await
        .unwrap()
        .unwrap();
    store
        .release_leader(&Fence {
            holder: "dialler-a".into(),
            token: first.fencing_token,
        })
        .await
        .unwrap();
    let second = store
        .acquire_leader("dialler-b", TTL, now)
        .await
        .unwrap()
        .expect("released lease is free");
    assert_eq!(second.fencing_token, first.fencing_token + 1);
    assert_eq!(store.leader().await.unwrap().unwrap().holder, "dialler-b");
}

async fn concurrent_acquirers_get_exactly_one_lease(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = store.clone();
        racers.spawn(async move {
            store
                .acquire_leader(&format!("dialler-{i}"), TTL, now)
                .await
        });
    }
    let mut holders = 0;
    while let Some(result) = racers.join_next().await {
        holders += usize::from(result.unwrap().unwrap().is_some());
    }
    assert_eq!(holders, 1);
}

both_backends!(
    a_second_leader_cannot_act_while_the_first_holds_a_valid_lease,
    an_expired_leader_is_replaced_with_a_higher_token_and_fenced_out,
    a_released_lease_is_free_at_once_and_the_token_still_grows,
    concurrent_acquirers_get_exactly_one_lease,
);
