//! Leases: due contacts only, DNC, attempt caps, calling windows, expiry, no double leases.
//!
//! Caps hold overall and per 24 hours, windows across DST, and no contact is leased twice under
//! concurrency.

use crate::support::*;
use contracts::{CallState, CampaignId};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use store::{
    CampaignState, ContactFilter, ContactNext, ContactStatus, LeaseRequest, Page, Store, StoreError,
};

const TTL: Duration = Duration::from_secs(60);

/// Up to 10 due contacts for `owner`.
async fn lease(
    store: &dyn Store,
    campaign_id: CampaignId,
    owner: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<store::Lease> {
    store
        .lease_contacts(request(campaign_id, owner, 10, now))
        .await
        .unwrap()
}

fn request(
    campaign_id: CampaignId,
    owner: &str,
    limit: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> LeaseRequest {
    LeaseRequest {
        campaign_id,
        owner: owner.into(),
        limit,
        ttl: TTL,
        now,
        fence: None,
    }
}

async fn lease_creates_a_leased_call_per_contact_and_counts_the_attempt(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |_| {}).await;
    store
        .add_contacts(campaign, many_contacts(3))
        .await
        .unwrap();
    let now = at(2026, 11, 23, 15, 0);
    let leases = lease(&*store, campaign, "d1", now).await;
    assert_eq!(leases.len(), 3);
    for lease in &leases {
        assert_eq!(lease.attempt, 1);
        let call = store.call(lease.call_id).await.unwrap();
        assert_eq!(call.state, CallState::Leased);
        assert_eq!(call.contact_id, Some(lease.contact_id));
        assert_eq!(call.to.as_ref(), Some(&lease.phone));
        let contact = store.contact(lease.contact_id).await.unwrap();
        assert_eq!(contact.status, ContactStatus::Leased);
        assert_eq!(contact.lease_owner.as_deref(), Some("d1"));
        let events = store.call_events(lease.call_id).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].to_state, CallState::Leased);
    }
    assert!(lease(&*store, campaign, "d2", now).await.is_empty());
}

async fn lease_refuses_a_campaign_that_is_not_running(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |_| {}).await;
    store
        .add_contacts(campaign, many_contacts(2))
        .await
        .unwrap();
    store
        .set_campaign_state(campaign, CampaignState::Running, CampaignState::Paused)
        .await
        .unwrap();
    let error = store
        .lease_contacts(request(campaign, "d1", 10, at(2026, 11, 23, 15, 0)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::WrongState { ref actual, .. } if actual == "paused"),
        "{error}"
    );
}

async fn lease_skips_contacts_on_the_dnc_list(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |_| {}).await;
    store
        .add_contacts(
            campaign,
            vec![
                contact("+14155550001", "UTC"),
                contact("+14155550002", "UTC"),
            ],
        )
        .await
        .unwrap();
    store
        .add_dnc("+14155550001", "asked not to be called")
        .await
        .unwrap();
    let leases = store
        .lease_contacts(request(campaign, "d1", 10, at(2026, 11, 23, 15, 0)))
        .await
        .unwrap();
    let phones: Vec<_> = leases.iter().map(|l| l.phone.to_string()).collect();
    assert_eq!(phones, vec!["+14155550002"]);
}

async fn lease_skips_contacts_over_their_attempt_cap(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |c| c.max_attempts = 1).await;
    store
        .add_contacts(campaign, many_contacts(1))
        .await
        .unwrap();
    let now = at(2026, 11, 23, 15, 0);
    let first = lease(&*store, campaign, "d1", now).await;
    assert_eq!(first.len(), 1);
    end_call(&*store, first[0].call_id, now).await;
    store
        .finish_attempt(
            first[0].contact_id,
            "d1",
            "dial.busy",
            ContactNext::RetryAt(now),
            now,
        )
        .await
        .unwrap();
    let again = lease(&*store, campaign, "d1", now).await;
    assert!(again.is_empty(), "one attempt allowed, a second was leased");
}

async fn lease_skips_contacts_called_their_daily_maximum_in_the_last_24_hours(
    store: Arc<dyn Store>,
) {
    let campaign = running_campaign(&*store, |c| {
        c.max_attempts = 5;
        c.settings = serde_json::json!({"dialler": {"max_attempts_per_day": 2}});
    })
    .await;
    store
        .add_contacts(campaign, many_contacts(1))
        .await
        .unwrap();
    let start = at(2026, 11, 23, 15, 0);
    for minute in 0..2 {
        let now = start + chrono::Duration::minutes(minute);
        let leased = lease(&*store, campaign, "d1", now).await;
        assert_eq!(leased.len(), 1, "attempt {} of the day", minute + 1);
        end_call(&*store, leased[0].call_id, now).await;
        store
            .finish_attempt(
                leased[0].contact_id,
                "d1",
                "dial.busy",
                ContactNext::RetryAt(now),
                now,
            )
            .await
            .unwrap();
    }
    let third = start + chrono::Duration::minutes(2);
    assert!(
        lease(&*store, campaign, "d1", third).await.is_empty(),
        "a third call within 24 hours was leased"
    );
    // A day after the first call, one of the two has left the window.
    let next_day = start + chrono::Duration::hours(24) + chrono::Duration::seconds(30);
    assert_eq!(lease(&*store, campaign, "d1", next_day).await.len(), 1);
}

async fn lease_skips_contacts_whose_next_attempt_is_in_the_future(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |_| {}).await;
    store
        .add_contacts(campaign, many_contacts(1))
        .await
        .unwrap();
    let now = at(2026, 11, 23, 15, 0);
    let leased = lease(&*store, campaign, "d1", now).await.remove(0);
    end_call(&*store, leased.call_id, now).await;
    let retry_at = now + chrono::Duration::hours(1);
    store
        .finish_attempt(
            leased.contact_id,
            "d1",
            "dial.no_answer",
            ContactNext::RetryAt(retry_at),
            now,
        )
        .await
        .unwrap();
    let early = now + chrono::Duration::minutes(59);
    assert!(lease(&*store, campaign, "d1", early).await.is_empty());
    let due = lease(&*store, campaign, "d1", retry_at).await;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempt, 2);
}

async fn lease_skips_contacts_outside_their_calling_window_across_a_dst_change(
    store: Arc<dyn Store>,
) {
    let campaign = running_campaign(&*store, |c| c.calling_windows = weekday_windows()).await;
    store
        .add_contacts(
            campaign,
            vec![
                contact("+12125550001", "America/New_York"),
                contact("+442071830001", "Europe/London"),
            ],
        )
        .await
        .unwrap();
    // Friday 6 March 2026, 13:30 UTC: 08:30 EST in New York (closed), 13:30 in London (open).
    let friday = at(2026, 3, 6, 13, 30);
    let leases = lease(&*store, campaign, "d1", friday).await;
    let phones: Vec<_> = leases.iter().map(|l| l.phone.to_string()).collect();
    assert_eq!(phones, vec!["+442071830001"]);
    store
        .finish_attempt(
            leases[0].contact_id,
            "d1",
            "call.completed",
            ContactNext::Done,
            friday,
        )
        .await
        .unwrap();
    // Monday 9 March 2026, the same 13:30 UTC is 09:30 EDT after the DST change: open.
    let monday = at(2026, 3, 9, 13, 30);
    let leases = lease(&*store, campaign, "d1", monday).await;
    let phones: Vec<_> = leases.iter().map(|l| l.phone.to_string()).collect();
    assert_eq!(phones, vec!["+12125550001"]);
}

async fn an_expired_lease_is_leased_again_but_a_renewed_one_is_not(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |_| {}).await;
    store
        .add_contacts(campaign, many_contacts(2))
        .await
        .unwrap();
    let now = at(2026, 11, 23, 15, 0);
    let leases = lease(&*store, campaign, "d1", now).await;
    assert_eq!(leases.len(), 2);
    let later = now + chrono::Duration::seconds(50);
    let renewed = store
        .renew_leases("d1", &[leases[0].contact_id], TTL, later)
        .await
        .unwrap();
    assert_eq!(renewed, 1);
    let after_first_ttl = now + chrono::Duration::seconds(61);
    // M1: the lapsed lease's call is still live (d1 may be placing it): nobody dials the
    // contact again until that call is over.
    assert!(
        lease(&*store, campaign, "d2", after_first_ttl)
            .await
            .is_empty()
    );
    end_call(&*store, leases[1].call_id, after_first_ttl).await;
    let taken = lease(&*store, campaign, "d2", after_first_ttl).await;
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].contact_id, leases[1].contact_id);
    assert_eq!(taken[0].attempt, 2);
    // d1 lost the expired lease: it can neither renew nor finish it.
    assert_eq!(
        store
            .renew_leases("d1", &[leases[1].contact_id], TTL, after_first_ttl)
            .await
            .unwrap(),
        0
    );
    let error = store
        .finish_attempt(
            leases[1].contact_id,
            "d1",
            "dial.busy",
            ContactNext::Done,
            after_first_ttl,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::WrongState { .. }), "{error}");
}

async fn finish_attempt_closes_a_contact_for_good(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |_| {}).await;
    store
        .add_contacts(campaign, many_contacts(1))
        .await
        .unwrap();
    let now = at(2026, 11, 23, 15, 0);
    let leased = lease(&*store, campaign, "d1", now).await.remove(0);
    store
        .finish_attempt(
            leased.contact_id,
            "d1",
            "call.completed",
            ContactNext::Done,
            now,
        )
        .await
        .unwrap();
    let contact = store.contact(leased.contact_id).await.unwrap();
    assert_eq!(contact.status, ContactStatus::Done);
    assert_eq!(contact.last_outcome.as_deref(), Some("call.completed"));
    assert!(contact.lease_owner.is_none());
    let later = now + chrono::Duration::days(1);
    assert!(lease(&*store, campaign, "d1", later).await.is_empty());
}

async fn eight_concurrent_leasers_over_10000_contacts_never_lease_one_twice(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |_| {}).await;
    store
        .add_contacts(campaign, many_contacts(10_000))
        .await
        .unwrap();
    let now = at(2026, 11, 23, 15, 0);
    let mut leasers = tokio::task::JoinSet::new();
    for leaser in 0..8 {
        let store = store.clone();
        leasers.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store
                    .lease_contacts(request(campaign, &format!("d{leaser}"), 50, now))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(
                    batch
                        .into_iter()
                        .map(|lease| (lease.contact_id, lease.call_id)),
                );
            }
        });
    }
    let mut contacts = HashSet::new();
    let mut calls = HashSet::new();
    let mut leasers_that_leased = 0;
    while let Some(result) = leasers.join_next().await {
        let mine = result.unwrap();
        leasers_that_leased += usize::from(!mine.is_empty());
        for (contact_id, call_id) in mine {
            assert!(
                contacts.insert(contact_id),
                "contact {contact_id} leased twice"
            );
            assert!(calls.insert(call_id), "call {call_id} returned twice");
        }
    }
    assert_eq!(contacts.len(), 10_000);
    assert!(
        leasers_that_leased >= 2,
        "the leasers did not run concurrently"
    );
    let leased = store
        .list_contacts(
            campaign,
            ContactFilter {
                status: Some(ContactStatus::Pending),
                phone: None,
            },
            Page::first(10),
        )
        .await
        .unwrap();
    assert!(leased.items.is_empty());
}

async fn a_malformed_lease_request_is_rejected_naming_the_field(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |_| {}).await;
    let now = at(2026, 11, 23, 15, 0);
    let error = store
        .lease_contacts(request(campaign, "d1", 0, now))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Invalid { ref field, .. } if field == "limit"),
        "{error}"
    );
    let error = store
        .lease_contacts(request(campaign, " ", 5, now))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Invalid { ref field, .. } if field == "owner"),
        "{error}"
    );
}

/// M1: a call's result closes its own attempt, never the newer lease of another call, and
/// still keeps its outcome when the contact's lease has lapsed.
async fn a_result_closes_its_own_calls_attempt_not_a_newer_lease(store: Arc<dyn Store>) {
    let campaign = running_campaign(&*store, |_| {}).await;
    store
        .add_contacts(campaign, many_contacts(2))
        .await
        .unwrap();
    let now = at(2026, 11, 23, 15, 0);
    let first = lease(&*store, campaign, "d1", now).await;
    let (a, other) = (&first[0], &first[1]);
    // The other contact's lease is renewed; the first lapses and the same dialler leases that
    // contact again as call B.
    store
        .renew_leases(
            "d1",
            &[other.contact_id],
            TTL,
            now + chrono::Duration::seconds(50),
        )
        .await
        .unwrap();
    let later = now + chrono::Duration::seconds(61);
    // While A's call is live the contact is not leased again; once it is over (failed over,
    // say), it is, and A's result may still come late.
    assert!(lease(&*store, campaign, "d1", later).await.is_empty());
    end_call(&*store, a.call_id, later).await;
    let again = lease(&*store, campaign, "d1", later).await;
    assert_eq!(again.len(), 1);
    let b = &again[0];
    assert_eq!(b.contact_id, a.contact_id);
    assert_ne!(b.call_id, a.call_id);
    // A's late result: B's lease is untouched.
    let closed = store
        .finish_call_attempt(a.call_id, "call.completed", ContactNext::Done, later)
        .await
        .unwrap();
    assert!(!closed);
    let contact = store.contact(a.contact_id).await.unwrap();
    assert_eq!(contact.status, ContactStatus::Leased);
    assert_eq!(contact.lease_owner.as_deref(), Some("d1"));
    // B's result closes it.
    assert!(
        store
            .finish_call_attempt(b.call_id, "call.completed", ContactNext::Done, later)
            .await
            .unwrap()
    );
    assert_eq!(
        store.contact(a.contact_id).await.unwrap().status,
        ContactStatus::Done
    );
    // The other contact's lease has lapsed too and nobody took it: its call's result still
    // closes the attempt and keeps the outcome.
    let retry = later + chrono::Duration::hours(1);
    let lapsed = now + chrono::Duration::seconds(300);
    assert!(
        store
            .finish_call_attempt(
                other.call_id,
                "dial.busy",
                ContactNext::RetryAt(retry),
                lapsed
            )
            .await
            .unwrap()
    );
    let contact = store.contact(other.contact_id).await.unwrap();
    assert_eq!(contact.last_outcome.as_deref(), Some("dial.busy"));
    assert_eq!(contact.status, ContactStatus::Pending);
    assert_eq!(contact.lease_owner, None);
    // A contact closed meanwhile stays closed, keeping the outcome.
    assert!(
        store
            .finish_call_attempt(
                b.call_id,
                "call.bot_hangup",
                ContactNext::RetryAt(retry),
                later
            )
            .await
            .unwrap()
    );
    let closed = store.contact(a.contact_id).await.unwrap();
    assert_eq!(closed.status, ContactStatus::Done);
    assert_eq!(closed.last_outcome.as_deref(), Some("call.bot_hangup"));
}

both_backends!(
    a_result_closes_its_own_calls_attempt_not_a_newer_lease,
    lease_creates_a_leased_call_per_contact_and_counts_the_attempt,
    lease_refuses_a_campaign_that_is_not_running,
    lease_skips_contacts_on_the_dnc_list,
    lease_skips_contacts_over_their_attempt_cap,
    lease_skips_contacts_called_their_daily_maximum_in_the_last_24_hours,
    lease_skips_contacts_whose_next_attempt_is_in_the_future,
    lease_skips_contacts_outside_their_calling_window_across_a_dst_change,
    an_expired_lease_is_leased_again_but_a_renewed_one_is_not,
    finish_attempt_closes_a_contact_for_good,
    eight_concurrent_leasers_over_10000_contacts_never_lease_one_twice,
    a_malformed_lease_request_is_rejected_naming_the_field,
);
