//! Capacity controls through the API: draining a worker or a host and a campaign's or a client's
//! quota, seen in the registry's own reservations, audited, applied again to a registry that lost
//! them; and what is refused.

use crate::helpers::*;
use registry::{Claimant, InProcess, Refusal, Registry, WorkerInfo};
use serde_json::{Value, json};
use std::sync::Arc;

const NOW: u64 = 1_000_000;

/// Two one-slot workers, w1 on host fleet-a and w2 on fleet-b, registered for an hour.
async fn two_workers(registry: &InProcess) {
    for (worker, host) in [("w1", "fleet-a"), ("w2", "fleet-b")] {
        let info = WorkerInfo {
            worker_id: worker.into(),
            url: format!("http://{host}/{worker}"),
            host: host.into(),
            slots: 1,
            busy: 0,
        };
        registry.heartbeat(&info, 3_600_000, NOW).await.unwrap();
    }
}

/// A Backend on each store with an in-process registry holding two one-slot workers on two hosts.
async fn apps() -> Vec<(TestApp, Arc<InProcess>)> {
    let mut apps = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let registry = Arc::new(InProcess::new());
        two_workers(&registry).await;
        let shared: Arc<dyn Registry> = registry.clone();
        let app = spawn_app_with(backend, move |config| config.registry = Some(shared)).await;
        apps.push((app, registry));
    }
    apps
}

/// The worker a reservation lands on, or why none was made; the slot is given back.
async fn reserve(registry: &InProcess, campaign: Option<i64>) -> Result<String, Refusal> {
    let claimant = Claimant {
        campaign: campaign.map(|c| c.to_string()),
        client: None,
    };
    reserve_as(registry, claimant).await
}

/// [`reserve`] for any claimant.
async fn reserve_as(registry: &InProcess, claimant: Claimant) -> Result<String, Refusal> {
    let id = format!("probe-{}", rand_id());
    let slot = registry
        .reserve(&id, &claimant, 10_000, NOW)
        .await
        .unwrap()?;
    registry.release(&id).await.unwrap();
    Ok(slot.worker_id)
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

async fn audited(app: &TestApp, action: &str) -> Vec<Value> {
    let mut entries = app.audit_log().await;
    entries.retain(|e| e["action"] == action);
    entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_worker_or_host_gets_no_new_call_until_put_back_and_each_change_is_audited() {
    for (app, registry) in apps().await {
        let drain = |body: Value| {
            let app = &app;
            async move {
                app.post("/api/v1/fleet/drain", Some(&app.admin), &body)
                    .await
            }
        };
        let drained = drain(json!({"target": "worker", "name": "w1", "draining": true})).await;
        assert_eq!(drained.status(), 200);
        assert_eq!(
            drained.json::<Value>().await.unwrap(),
            json!({"target": "worker", "name": "w1", "draining": true})
        );
        for _ in 0..3 {
            assert_eq!(reserve(&registry, None).await.unwrap(), "w2");
        }
        assert_eq!(
            drain(json!({"target": "host", "name": "fleet-b", "draining": true}))
                .await
                .status(),
            200
        );
        assert_eq!(reserve(&registry, None).await, Err(Refusal::NoCapacity));
        assert_eq!(
            drain(json!({"target": "worker", "name": "w1", "draining": false}))
                .await
                .status(),
            200
        );
        assert_eq!(reserve(&registry, None).await.unwrap(), "w1");
        assert_eq!(audited(&app, "fleet.drain").await.len(), 2);
        let undrained = audited(&app, "fleet.undrain").await;
        assert_eq!(undrained[0]["entity_id"], "w1");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaigns_quota_caps_its_slots_is_read_back_and_lifted() {
    for (app, registry) in apps().await {
        let campaign = crate::campaigns::campaign(&app, None).await;
        let path = format!("/api/v1/fleet/quotas/campaign/{campaign}");
        let none: Value = app.get(&path, Some(&app.admin)).await.json().await.unwrap();
        assert_eq!(none, json!({"slots": null}));
        let set = app.put(&path, Some(&app.admin), &json!({"slots": 0})).await;
        assert_eq!(set.status(), 200);
        assert_eq!(
            reserve(&registry, Some(campaign)).await,
            Err(Refusal::CampaignQuota)
        );
        // Other campaigns are not held back.
        assert!(reserve(&registry, Some(campaign + 1000)).await.is_ok());
        let read: Value = app.get(&path, Some(&app.admin)).await.json().await.unwrap();
        assert_eq!(read, json!({"slots": 0}));
        let lifted = app
            .put(&path, Some(&app.admin), &json!({"slots": null}))
            .await;
        assert_eq!(lifted.status(), 200);
        assert!(reserve(&registry, Some(campaign)).await.is_ok());
        let changes = audited(&app, "campaign.quota").await;
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0]["detail"]["after"]["slots"], Value::Null);
        assert_eq!(changes[0]["detail"]["before"]["slots"], 0);
    }
}

fn for_client(client: &str) -> Claimant {
    Claimant {
        campaign: None,
        client: Some(client.into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_quota_caps_the_slots_of_every_call_made_for_it() {
    for (app, registry) in apps().await {
        let path = "/api/v1/fleet/quotas/client/acme";
        let none: Value = app.get(path, Some(&app.admin)).await.json().await.unwrap();
        assert_eq!(none, json!({"slots": null}));
        assert_eq!(
            app.put(path, Some(&app.admin), &json!({"slots": 1}))
                .await
                .status(),
            200
        );
        // One slot held for acme (a reservation kept), and the next of its calls is refused.
        let held = registry
            .reserve("acme-1", &for_client("acme"), 10_000, NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            reserve_as(&registry, for_client("acme")).await,
            Err(Refusal::ClientQuota)
        );
        assert!(reserve_as(&registry, for_client("globex")).await.is_ok());
        registry.release(&held.id).await.unwrap();
        assert!(reserve_as(&registry, for_client("acme")).await.is_ok());
        let read: Value = app.get(path, Some(&app.admin)).await.json().await.unwrap();
        assert_eq!(read, json!({"slots": 1}));
        let changes = audited(&app, "client.quota").await;
        assert_eq!(changes[0]["entity_id"], "acme");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kept_controls_are_applied_again_to_a_registry_that_lost_them() {
    for (app, _) in apps().await {
        let campaign = crate::campaigns::campaign(&app, None).await;
        for (path, slots) in [
            ("/api/v1/fleet/quotas/client/acme".to_owned(), json!(0)),
            (
                format!("/api/v1/fleet/quotas/campaign/{campaign}"),
                json!(0),
            ),
            ("/api/v1/fleet/quotas/client/globex".to_owned(), json!(null)),
        ] {
            let set = app
                .put(&path, Some(&app.admin), &json!({ "slots": slots }))
                .await;
            assert_eq!(set.status(), 200);
        }
        for body in [
            json!({"target": "host", "name": "fleet-a", "draining": true}),
            json!({"target": "worker", "name": "w2", "draining": true}),
            json!({"target": "worker", "name": "w2", "draining": false}),
        ] {
            let drained = app
                .post("/api/v1/fleet/drain", Some(&app.admin), &body)
                .await;
            assert_eq!(drained.status(), 200);
        }
        // A registry that starts empty (Redis restarted without its data), the same workers back.
        let fresh = InProcess::new();
        two_workers(&fresh).await;
        assert!(reserve_as(&fresh, for_client("acme")).await.is_ok());
        let applied = bridge::capacity::apply_kept(&*app.store, &fresh)
            .await
            .unwrap();
        assert_eq!(
            applied,
            bridge::capacity::Applied {
                quotas: 2,
                drains: 1
            }
        );
        assert_eq!(
            reserve_as(&fresh, for_client("acme")).await,
            Err(Refusal::ClientQuota)
        );
        assert_eq!(
            reserve(&fresh, Some(campaign)).await,
            Err(Refusal::CampaignQuota)
        );
        // fleet-a stays drained; w2 was put back.
        for _ in 0..3 {
            assert_eq!(reserve(&fresh, None).await.unwrap(), "w2");
        }
        // Applying again changes nothing.
        assert_eq!(
            bridge::capacity::apply_kept(&*app.store, &fresh)
                .await
                .unwrap(),
            applied
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_capacity_requests_are_refused_naming_the_field_and_change_nothing() {
    for (app, registry) in apps().await {
        for (body, field) in [
            (
                json!({"target": "rack", "name": "a", "draining": true}),
                "target",
            ),
            (json!({"target": "worker", "draining": true}), "name"),
            (
                json!({"target": "host", "name": "", "draining": true}),
                "name",
            ),
            (
                json!({"target": "worker", "name": "w\u{7}1", "draining": true}),
                "name",
            ),
            (
                json!({"target": "worker", "name": "x".repeat(201), "draining": true}),
                "name",
            ),
        ] {
            let response = app
                .post("/api/v1/fleet/drain", Some(&app.admin), &body)
                .await;
            let (status, _, named) = error_of(response).await;
            assert_eq!(status, 422, "{body}");
            assert!(
                named.as_deref().is_some_and(|f| f.contains(field)),
                "{body}: {named:?}"
            );
        }
        let campaign = crate::campaigns::campaign(&app, None).await;
        let path = format!("/api/v1/fleet/quotas/campaign/{campaign}");
        let (status, _, named) = error_of(
            app.put(&path, Some(&app.admin), &json!({"slots": 100_001}))
                .await,
        )
        .await;
        assert_eq!((status, named.as_deref()), (422, Some("slots")));
        for path in [
            "/api/v1/fleet/quotas/client/acme%20corp",
            "/api/v1/fleet/quotas/campaign/first",
        ] {
            let (status, _, named) =
                error_of(app.put(path, Some(&app.admin), &json!({"slots": 1})).await).await;
            assert!(
                matches!((status, named.as_deref()), (422, Some("client" | "id"))),
                "{path}: {status} {named:?}"
            );
        }
        let missing = "/api/v1/fleet/quotas/campaign/999999";
        assert_eq!(
            app.put(missing, Some(&app.admin), &json!({"slots": 1}))
                .await
                .status(),
            404
        );
        // A viewer may look, not drain.
        let viewer = app
            .user_token("viewer@example.com", store::Role::Viewer)
            .await;
        let body = json!({"target": "worker", "name": "w1", "draining": true});
        assert_eq!(
            app.post("/api/v1/fleet/drain", Some(&viewer), &body)
                .await
                .status(),
            403
        );
        // Nothing was drained or capped.
        assert_eq!(registry.capacity(NOW).await.unwrap().free, 2);
        assert!(reserve(&registry, Some(campaign)).await.is_ok());
        assert!(audited(&app, "fleet.drain").await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_registry_there_is_nothing_to_control() {
    let app = spawn_app(Backend::Sqlite).await;
    let body = json!({"target": "host", "name": "fleet-a", "draining": true});
    let (status, code, _) = error_of(
        app.post("/api/v1/fleet/drain", Some(&app.admin), &body)
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (409, "capacity.no_registry"));
}
