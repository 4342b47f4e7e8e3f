//! Ticks: leadership, leases up to the supply, fencing of a second dialler.

use crate::support::{both_backends, campaign, engine, secs, worker};
use contracts::CallState;
use std::sync::Arc;
use store::{CallFilter, Page, Store};

async fn a_tick_dials_one_call_per_free_slot_while_the_pacer_warms_up(store: Arc<dyn Store>) {
    let campaign = campaign(&*store, 10).await;
    let (_w, url) = worker("w1", 3).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    let report = engine.tick(secs(0)).await.unwrap();
    assert!(report.leader);
    assert_eq!((report.fleet_free, report.dials), (3, 3));
    let placed = carrier.log.lock().placed.clone();
    assert_eq!(placed.len(), 3);
    assert!(placed.iter().all(|d| d.ring_timeout.as_secs() >= 15));
    let calls = store
        .list_calls(
            CallFilter {
                campaign_id: Some(campaign),
                ..CallFilter::default()
            },
            Page::first(100),
        )
        .await
        .unwrap();
    assert_eq!(calls.items.len(), 3);
    assert!(calls.items.iter().all(|c| c.state == CallState::Dialing));
    // The next tick counts the three ringing calls: no free slot is left for new dials.
    let report = engine.tick(secs(2)).await.unwrap();
    assert_eq!(report.dials, 0);
}

async fn a_second_dialler_stands_by_while_the_first_leads_and_takes_over_when_it_stops(
    store: Arc<dyn Store>,
) {
    campaign(&*store, 10).await;
    let (_w, url) = worker("w1", 2).await;
    let (mut leader, first, _) = engine(store.clone(), "dialler-a", vec![url.clone()]);
    let (mut standby, second, _) = engine(store.clone(), "dialler-b", vec![url]);
    assert!(leader.tick(secs(0)).await.unwrap().leader);
    let report = standby.tick(secs(1)).await.unwrap();
    assert!(!report.leader);
    assert!(second.log.lock().placed.is_empty());
    // The leader stops renewing; after the leader TTL (10 s) the standby leads, with a higher fence.
    let report = standby.tick(secs(12)).await.unwrap();
    assert!(report.leader);
    assert!(standby.fence().unwrap().token > 0);
    // The old leader's next lease attempt is fenced off: it dials nothing more.
    let before = first.log.lock().placed.len();
    let report = leader.tick(secs(13)).await.unwrap();
    assert!(!report.leader);
    assert_eq!(first.log.lock().placed.len(), before);
}

async fn a_campaign_that_is_not_running_is_not_dialled(store: Arc<dyn Store>) {
    let id = campaign(&*store, 5).await;
    store
        .set_campaign_state(
            id,
            store::CampaignState::Running,
            store::CampaignState::Paused,
        )
        .await
        .unwrap();
    let (_w, url) = worker("w1", 5).await;
    let (mut engine, carrier, _) = engine(store.clone(), "dialler-a", vec![url]);
    let report = engine.tick(secs(0)).await.unwrap();
    assert_eq!((report.campaigns, report.dials), (0, 0));
    assert!(carrier.log.lock().placed.is_empty());
}

async fn an_unreachable_fleet_means_no_dials_not_a_failed_tick(store: Arc<dyn Store>) {
    campaign(&*store, 5).await;
    let (mut engine, carrier, _) = engine(
        store.clone(),
        "dialler-a",
        vec!["http://127.0.0.1:9".into()],
    );
    let report = engine.tick(secs(0)).await.unwrap();
    assert!(report.leader);
    assert_eq!((report.fleet_free, report.dials), (0, 0));
    assert!(carrier.log.lock().placed.is_empty());
}

async fn health_is_stale_without_a_recent_tick_and_metrics_show_the_pacing(store: Arc<dyn Store>) {
    campaign(&*store, 10).await;
    let (_w, url) = worker("w1", 3).await;
    let (mut engine, _carrier, fleet) = engine(store.clone(), "dialler-a", vec![url]);
    let monitor = dialler::health::Monitor::new(30, "test", fleet);
    let (code, body) = monitor.health(secs(0));
    assert_eq!(code.as_u16(), 503);
    assert_eq!(body.status, contracts::health::HealthStatus::Stale);
    let report = engine.tick(secs(0)).await.unwrap();
    monitor.update(&engine, &report);
    let (code, body) = monitor.health(secs(10));
    assert_eq!(code.as_u16(), 200);
    assert!(body.leader);
    assert_eq!((body.campaigns_running, body.active_dials), (1, 3));
    let (code, _) = monitor.health(secs(31));
    assert_eq!(code.as_u16(), 503);
    let metrics = monitor.metrics();
    assert!(metrics.contains("vox_dialler_dials_total 3"), "{metrics}");
    assert!(metrics.contains("vox_dialler_leader 1"), "{metrics}");
    assert!(metrics.contains("mode=\"warming_up\"} 3"), "{metrics}");
}

both_backends!(
    health_is_stale_without_a_recent_tick_and_metrics_show_the_pacing,
    a_tick_dials_one_call_per_free_slot_while_the_pacer_warms_up,
    a_second_dialler_stands_by_while_the_first_leads_and_takes_over_when_it_stops,
    a_campaign_that_is_not_running_is_not_dialled,
    an_unreachable_fleet_means_no_dials_not_a_failed_tick,
);
