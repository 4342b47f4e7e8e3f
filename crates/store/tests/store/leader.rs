//! The dialler's leader lease: one holder at a time, fencing tokens that only grow, fenced leases.

use crate::support::*;
use contracts::{CallOutcomeCode, CallState};
use std::sync::Arc;
use std::time::Duration;
use store::{Fence, LeaseRequest, Store, StoreError, Transition};

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

async fn a_campaigns_pacing_decision_is_kept_and_the_next_one_replaces_it(store: Arc<dyn Store>) {
    let now = at(2026, 11, 23, 9, 0);
    let campaign = running_campaign(store.as_ref(), |_| {}).await;
    assert_eq!(store.pacing(campaign).await.unwrap(), None);
    let first = serde_json::json!({"mode": "predictive", "dials": 3});
    store
        .record_pacing("dialler-a", campaign, &first, now)
        .await
        .unwrap();
    let later = now + chrono::Duration::seconds(2);
    let second = serde_json::json!({"mode": "predictive", "dials": 0});
    store
        .record_pacing("dialler-b", campaign, &second, later)
        .await
        .unwrap();
    let kept = store.pacing(campaign).await.unwrap().expect("recorded");
    assert_eq!(kept.decision, second);
    assert_eq!(kept.holder, "dialler-b");
    assert_eq!(kept.decided_at, later);
}

async fn live_call_counts_count_one_campaigns_calls_that_have_not_ended(store: Arc<dyn Store>) {
    use contracts::runtime_config::CallDirection;
    use contracts::{CallOutcomeCode, CallState};
    use store::{NewCall, Transition};
    let now = at(2026, 11, 23, 9, 0);
    let campaign = running_campaign(store.as_ref(), |_| {}).await;
    let bot_id = store.campaign(campaign).await.unwrap().config.bot_id;
    let mut other = campaign_config(bot_id, "Another campaign");
    other.name = "Another campaign".into();
    let other = store.create_campaign(other).await.unwrap().id;
    let call = |campaign_id, state| NewCall {
        direction: CallDirection::Outbound,
        bot_id,
        campaign_id: Some(campaign_id),
        contact_id: None,
        from: None,
        to: None,
        state,
        variables: Default::default(),
        carrier_call_id: None,
        now,
    };
    store
        .create_call(call(campaign, CallState::Queued))
        .await
        .unwrap();
    let talking = store
        .create_call(call(campaign, CallState::Answered))
        .await
        .unwrap();
    store
        .transition(Transition::new(
            talking.id,
            CallState::Answered,
            CallState::InProgress,
            now,
        ))
        .await
        .unwrap();
    let dropped = store
        .create_call(call(campaign, CallState::Answered))
        .await
        .unwrap();
    store
        .transition(
            Transition::new(dropped.id, CallState::Answered, CallState::Abandoned, now)
                .with_outcome(CallOutcomeCode::DialAbandoned),
        )
        .await
        .unwrap();
    store
        .create_call(call(other, CallState::Answered))
        .await
        .unwrap();
    let mut counts = store.live_call_counts(campaign).await.unwrap();
    counts.sort_by_key(|(state, _)| state.as_str());
    assert_eq!(
        counts,
        vec![(CallState::InProgress, 1), (CallState::Queued, 1)]
    );
}

/// M12: a call is claimed for placing only while its dialler leads for the placement's bound.
async fn a_call_is_claimed_for_dialling_only_by_the_leader_whose_lease_outlasts_the_placement(
    store: Arc<dyn Store>,
) {
    let now = at(2026, 11, 23, 9, 0);
    let lease = store
        .acquire_leader("dialler-a", TTL, now)
        .await
        .unwrap()
        .unwrap();
    let fence = Fence {
        holder: "dialler-a".into(),
        token: lease.fencing_token,
    };
    let campaign = running_campaign(&*store, |_| {}).await;
    store
        .add_contacts(campaign, many_contacts(3))
        .await
        .unwrap();
    let leases = store
        .lease_contacts(LeaseRequest {
            campaign_id: campaign,
            owner: "dialler-a".into(),
            limit: 3,
            ttl: TTL,
            now,
            fence: Some(fence.clone()),
        })
        .await
        .unwrap();
    let seconds = |s| now + chrono::Duration::seconds(s);
    let claimed = store
        .claim_dial(
            &fence,
            leases[0].call_id,
            CallState::Leased,
            now,
            seconds(5),
        )
        .await
        .unwrap();
    assert_eq!(claimed.state, CallState::Dialing);
    // A held-back call is claimed again, still dialling.
    store
        .claim_dial(
            &fence,
            leases[0].call_id,
            CallState::Dialing,
            now,
            seconds(5),
        )
        .await
        .unwrap();
    // The lease ends at 10 s: a placement that could run past it is not claimed.
    let late = store
        .claim_dial(
            &fence,
            leases[1].call_id,
            CallState::Leased,
            now,
            seconds(11),
        )
        .await
        .unwrap_err();
    assert!(matches!(late, StoreError::Fenced { .. }), "{late}");
    assert_eq!(
        store.call(leases[1].call_id).await.unwrap().state,
        CallState::Leased
    );
    // A new leader ends the call; the old one's claim finds it moved on.
    let ended = Transition::new(
        leases[2].call_id,
        CallState::Leased,
        CallState::Canceled,
        now,
    )
    .with_outcome(CallOutcomeCode::DialCanceled);
    store.transition(ended).await.unwrap();
    let moved = store
        .claim_dial(
            &fence,
            leases[2].call_id,
            CallState::Leased,
            now,
            seconds(5),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            moved,
            StoreError::StaleTransition {
                actual: CallState::Canceled,
                ..
            }
        ),
        "{moved}"
    );
    // Once another dialler leads, the old fence claims nothing.
    store
        .acquire_leader("dialler-b", TTL, seconds(11))
        .await
        .unwrap()
        .unwrap();
    let fenced = store
        .claim_dial(
            &fence,
            leases[1].call_id,
            CallState::Leased,
            now,
            seconds(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(fenced, StoreError::Fenced { .. }), "{fenced}");
}

both_backends!(
    a_call_is_claimed_for_dialling_only_by_the_leader_whose_lease_outlasts_the_placement,
    a_campaigns_pacing_decision_is_kept_and_the_next_one_replaces_it,
    live_call_counts_count_one_campaigns_calls_that_have_not_ended,
    a_second_leader_cannot_act_while_the_first_holds_a_valid_lease,
    an_expired_leader_is_replaced_with_a_higher_token_and_fenced_out,
    a_released_lease_is_free_at_once_and_the_token_still_grows,
    concurrent_acquirers_get_exactly_one_lease,
);
