//! Registration with TTL, atomic reservation, expiry, drain, quotas, and a Redis restart.

use crate::support::*;
use registry::{Claimant, QuotaScope, Refusal, Registry};
use std::collections::HashMap;
use std::sync::Arc;

const TTL: u64 = 10_000;

fn nobody() -> Claimant {
    Claimant::default()
}

async fn a_reservation_goes_to_the_worker_with_the_most_free_slots(registry: Arc<dyn Registry>) {
    registry
        .heartbeat(&worker("w1", "host-a", 1), TTL, T0)
        .await
        .unwrap();
    registry
        .heartbeat(&worker("w2", "host-a", 3), TTL, T0)
        .await
        .unwrap();
    let got = registry
        .reserve("r1", &nobody(), 5_000, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.worker_id.as_str(), got.url.as_str()),
        ("w2", "http://host-a/w/w2")
    );
    let capacity = registry.capacity(T0).await.unwrap();
    assert_eq!((capacity.workers, capacity.slots, capacity.free), (2, 4, 3));
}

async fn concurrent_reservers_never_get_the_same_slot(registry: Arc<dyn Registry>) {
    let slots_each = 3u32;
    for i in 0..10 {
        registry
            .heartbeat(&worker(&format!("w{i}"), "host-a", slots_each), 600_000, T0)
            .await
            .unwrap();
    }
    // Eight reservers, 300 attempts each: every grant is counted against its worker before it is
    // released, and no worker may ever count more grants than it has slots.
    let ledger: Arc<parking_lot::Mutex<HashMap<String, u32>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..8 {
        let registry = registry.clone();
        let ledger = ledger.clone();
        tasks.spawn(async move {
            let mut granted = 0;
            for attempt in 0..300 {
                let id = format!("t{task}-{attempt}");
                let now = T0 + attempt;
                if let Ok(slot) = registry.reserve(&id, &nobody(), 60_000, now).await.unwrap() {
                    granted += 1;
                    {
                        let mut ledger = ledger.lock();
                        let held = ledger.entry(slot.worker_id.clone()).or_default();
                        *held += 1;
                        assert!(*held <= slots_each, "{} double-booked", slot.worker_id);
                    }
                    if attempt % 3 != 0 {
                        *ledger.lock().get_mut(&slot.worker_id).unwrap() -= 1;
                        assert!(registry.release(&id).await.unwrap());
                    }
                }
            }
            granted
        });
    }
    let mut granted = 0;
    while let Some(done) = tasks.join_next().await {
        granted += done.unwrap();
    }
    let held: u32 = ledger.lock().values().sum();
    assert!(
        held <= 30 && granted > held,
        "held {held}, granted {granted}"
    );
    // What is left is exactly what the ledger holds: filling up stops at 30 in all.
    let mut filled = 0;
    while registry
        .reserve(&format!("fill-{filled}"), &nobody(), 60_000, T0 + 400)
        .await
        .unwrap()
        .is_ok()
    {
        filled += 1;
    }
    assert_eq!(held + filled, 30);
    assert_eq!(registry.capacity(T0 + 400).await.unwrap().free, 0);
}

async fn a_worker_that_stops_heartbeating_disappears_with_its_slots(registry: Arc<dyn Registry>) {
    registry
        .heartbeat(&worker("w1", "host-a", 2), TTL, T0)
        .await
        .unwrap();
    registry
        .heartbeat(&worker("w2", "host-a", 2), TTL, T0)
        .await
        .unwrap();
    registry
        .reserve("r1", &nobody(), 60_000, T0)
        .await
        .unwrap()
        .unwrap();
    // w2 keeps heartbeating, w1 does not.
    registry
        .heartbeat(&worker("w2", "host-a", 2), TTL, T0 + 6_000)
        .await
        .unwrap();
    let capacity = registry.capacity(T0 + TTL).await.unwrap();
    assert_eq!((capacity.workers, capacity.slots), (1, 2));
    assert!(!registry.release("r1").await.unwrap() || capacity.free == 1);
    let got = registry
        .reserve("r2", &nobody(), 5_000, T0 + TTL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.worker_id, "w2");
}

async fn an_unconfirmed_reservation_frees_itself_and_a_confirmed_one_is_kept(
    registry: Arc<dyn Registry>,
) {
    registry
        .heartbeat(&worker("w1", "host-a", 2), 600_000, T0)
        .await
        .unwrap();
    registry
        .reserve("unused", &nobody(), 5_000, T0)
        .await
        .unwrap()
        .unwrap();
    registry
        .reserve("call", &nobody(), 5_000, T0)
        .await
        .unwrap()
        .unwrap();
    assert!(
        registry
            .confirm("call", T0 + 3_600_000, T0 + 1_000)
            .await
            .unwrap()
    );
    assert_eq!(registry.capacity(T0 + 4_999).await.unwrap().free, 0);
    // Five seconds on, the unconfirmed one has freed itself; the call still holds its slot.
    assert_eq!(registry.capacity(T0 + 5_000).await.unwrap().free, 1);
    assert!(
        !registry
            .confirm("unused", T0 + 3_600_000, T0 + 5_000)
            .await
            .unwrap()
    );
    assert!(!registry.release("unused").await.unwrap());
    assert!(registry.release("call").await.unwrap());
    assert_eq!(registry.capacity(T0 + 5_000).await.unwrap().free, 2);
}

async fn a_draining_worker_or_host_gets_nothing_new_and_keeps_its_calls(
    registry: Arc<dyn Registry>,
) {
    registry
        .heartbeat(&worker("w1", "host-a", 2), 600_000, T0)
        .await
        .unwrap();
    registry
        .heartbeat(&worker("w2", "host-b", 2), 600_000, T0)
        .await
        .unwrap();
    let held = registry
        .reserve("r1", &nobody(), 60_000, T0)
        .await
        .unwrap()
        .unwrap();
    registry.drain_worker(&held.worker_id, true).await.unwrap();
    for i in 0..2 {
        let got = registry
            .reserve(&format!("r{}", i + 2), &nobody(), 60_000, T0)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(got.worker_id, held.worker_id);
    }
    assert_eq!(
        registry.reserve("r4", &nobody(), 60_000, T0).await.unwrap(),
        Err(Refusal::NoCapacity)
    );
    assert!(
        registry.release("r1").await.unwrap(),
        "the draining worker's call ends normally"
    );
    registry.drain_worker(&held.worker_id, false).await.unwrap();
    assert_eq!(registry.capacity(T0).await.unwrap().free, 2);
    // A drained host (the first worker's): its workers, including one that registers later, get
    // nothing; the other host's worker is full.
    let host = if held.url.contains("host-a") {
        "host-a"
    } else {
        "host-b"
    };
    registry.drain_host(host, true).await.unwrap();
    registry
        .heartbeat(&worker("w3", host, 5), 600_000, T0)
        .await
        .unwrap();
    let capacity = registry.capacity(T0).await.unwrap();
    assert_eq!((capacity.draining, capacity.free), (2, 0));
    assert_eq!(
        registry.reserve("r5", &nobody(), 60_000, T0).await.unwrap(),
        Err(Refusal::NoCapacity)
    );
    registry.drain_host(host, false).await.unwrap();
    assert_eq!(registry.capacity(T0).await.unwrap().free, 7);
}

async fn a_campaign_or_client_never_holds_more_than_its_quota(registry: Arc<dyn Registry>) {
    registry
        .heartbeat(&worker("w1", "host-a", 10), 600_000, T0)
        .await
        .unwrap();
    registry
        .set_quota(&QuotaScope::Campaign("7".into()), Some(2))
        .await
        .unwrap();
    registry
        .set_quota(&QuotaScope::Client("acme".into()), Some(3))
        .await
        .unwrap();
    let campaign = |c: &str| Claimant {
        campaign: Some(c.into()),
        client: Some("acme".into()),
    };
    registry
        .reserve("a", &campaign("7"), 60_000, T0)
        .await
        .unwrap()
        .unwrap();
    registry
        .reserve("b", &campaign("7"), 60_000, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        registry
            .reserve("c", &campaign("7"), 60_000, T0)
            .await
            .unwrap(),
        Err(Refusal::CampaignQuota)
    );
    registry
        .reserve("d", &campaign("8"), 60_000, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        registry
            .reserve("e", &campaign("8"), 60_000, T0)
            .await
            .unwrap(),
        Err(Refusal::ClientQuota)
    );
    // A slot back (released or lapsed) is a slot the quota can use again.
    assert!(registry.release("a").await.unwrap());
    registry
        .reserve("f", &campaign("7"), 60_000, T0)
        .await
        .unwrap()
        .unwrap();
    registry
        .set_quota(&QuotaScope::Client("acme".into()), None)
        .await
        .unwrap();
    assert_eq!(
        registry
            .reserve("g", &campaign("7"), 60_000, T0)
            .await
            .unwrap(),
        Err(Refusal::CampaignQuota)
    );
    assert_eq!(
        registry
            .reserve("h", &campaign("7"), 60_000, T0 + 60_000)
            .await
            .unwrap()
            .map(|_| ()),
        Ok(())
    );
}

async fn calls_a_worker_reports_busy_stay_taken(registry: Arc<dyn Registry>) {
    let mut busy = worker("w1", "host-a", 3);
    busy.busy = 2;
    registry.heartbeat(&busy, TTL, T0).await.unwrap();
    assert_eq!(registry.capacity(T0).await.unwrap().free, 1);
    registry
        .reserve("r1", &nobody(), 5_000, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        registry.reserve("r2", &nobody(), 5_000, T0).await.unwrap(),
        Err(Refusal::NoCapacity)
    );
    let mut bad = worker("w2", "host-a", 1);
    bad.busy = 2;
    assert!(registry.heartbeat(&bad, TTL, T0).await.is_err());
    assert!(
        registry.reserve("r1", &nobody(), 5_000, T0).await.is_err(),
        "a reservation id is used once"
    );
}

async fn a_confirmed_call_the_worker_also_reports_is_counted_once(registry: Arc<dyn Registry>) {
    registry
        .heartbeat(&worker("w1", "host-a", 3), TTL, T0)
        .await
        .unwrap();
    registry
        .reserve("call", &nobody(), 5_000, T0)
        .await
        .unwrap()
        .unwrap();
    registry
        .reserve("pending", &nobody(), 5_000, T0)
        .await
        .unwrap()
        .unwrap();
    assert!(registry.confirm("call", T0 + 600_000, T0).await.unwrap());
    // The worker's heartbeat now counts the call it runs: still one slot for it, one pending.
    let mut w1 = worker("w1", "host-a", 3);
    w1.busy = 1;
    registry.heartbeat(&w1, TTL, T0 + 1_000).await.unwrap();
    assert_eq!(registry.capacity(T0 + 1_000).await.unwrap().free, 1);
}

both_registries!(
    a_reservation_goes_to_the_worker_with_the_most_free_slots,
    concurrent_reservers_never_get_the_same_slot,
    a_worker_that_stops_heartbeating_disappears_with_its_slots,
    an_unconfirmed_reservation_frees_itself_and_a_confirmed_one_is_kept,
    a_draining_worker_or_host_gets_nothing_new_and_keeps_its_calls,
    a_campaign_or_client_never_holds_more_than_its_quota,
    calls_a_worker_reports_busy_stay_taken,
    a_confirmed_call_the_worker_also_reports_is_counted_once,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_redis_restart_heartbeats_rebuild_the_registry_and_nothing_stays_reserved() {
    let mut server = RedisServer::start();
    let port = server.port;
    let registry = redis(&server).await;
    registry
        .heartbeat(&worker("w1", "host-a", 2), TTL, T0)
        .await
        .unwrap();
    registry
        .reserve("lost", &nobody(), 60_000, T0)
        .await
        .unwrap()
        .unwrap();
    server.stop();
    assert!(
        registry
            .reserve("while-down", &nobody(), 60_000, T0)
            .await
            .is_err()
    );
    let _server = RedisServer::start_on(port);
    // Until a worker heartbeats, the fresh Redis knows no capacity (nothing is reserved either).
    let mut capacity = None;
    for _ in 0..100 {
        if let Ok(c) = registry.capacity(T0 + 1_000).await {
            capacity = Some(c);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(capacity.expect("reconnected").workers, 0);
    // The worker's next heartbeat says it runs one call (the one reserved before the restart).
    let mut w1 = worker("w1", "host-a", 2);
    w1.busy = 1;
    registry.heartbeat(&w1, TTL, T0 + 2_000).await.unwrap();
    assert_eq!(registry.capacity(T0 + 2_000).await.unwrap().free, 1);
    assert!(!registry.release("lost").await.unwrap());
    registry
        .reserve("after", &nobody(), 60_000, T0 + 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        registry
            .reserve("full", &nobody(), 60_000, T0 + 2_000)
            .await
            .unwrap(),
        Err(Refusal::NoCapacity)
    );
}
