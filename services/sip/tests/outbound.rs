//! Outbound calls through a trunk, SIPp as the callee behind it: rung with early media (183 with
//! SDP), answered with the caller ID in P-Asserted-Identity and bridged to a worker until vox's
//! BYE; busy (486); challenged 401 (the digest checked by SIPp's `verifyauth`) with the right and
//! a wrong password, and 407 by a proxy; cancelled when it rings past its timeout (487); and
//! session timers agreed in the 200, refreshed by vox or ended when the trunk lets them lapse.

mod support;

use sip::gateway::{Gateway, GatewayConfig};
use sip::media::Ended;
use sip::outbound::{Dial, OutboundTrunk, Progress};
use sip::testing::{SippServer, until};
use std::sync::Arc;
use std::time::Duration;
use support::{Edge, NoInbound};

async fn gateway(ports: std::ops::RangeInclusive<u16>) -> Gateway {
    let config = GatewayConfig {
        rtp_ports: ports,
        rtp_timeout: Duration::from_secs(10),
        ..GatewayConfig::new("127.0.0.1:0".parse().unwrap())
    };
    Gateway::start(config, Arc::new(NoInbound)).await.unwrap()
}

fn trunk(callee: &SippServer, password: Option<&str>) -> OutboundTrunk {
    OutboundTrunk {
        address: callee.addr.to_string(),
        tcp: false,
        username: password.map(|_| "vox".to_owned()),
        password: password.unwrap_or("-").to_owned(),
        outbound_proxy: None,
    }
}

fn dial(ring_timeout: Duration) -> Dial {
    Dial {
        to: "+14155550100".into(),
        caller_id: "+14155550142".into(),
        ring_timeout,
    }
}

/// Dials SIPp playing `scenario` behind a trunk (with `password`, a digest for "vox"), waits for
/// SIPp's run to pass, and gives what the edge heard.
async fn call(
    gateway: &Gateway,
    scenario: &str,
    password: Option<&str>,
    ring_timeout: Duration,
) -> Arc<Edge> {
    let callee = SippServer::start(scenario).unwrap();
    let edge = Arc::new(Edge::default());
    gateway
        .dial(&trunk(&callee, password), dial(ring_timeout), edge.clone())
        .await
        .unwrap();
    callee.finish().await.unwrap();
    edge
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_call_rings_is_answered_bridged_and_ended_with_voxs_bye() {
    let gateway = gateway(33_000..=33_199).await;
    // SIPp checks the P-Asserted-Identity and answers vox's BYE.
    let edge = call(&gateway, "callee", None, Duration::from_secs(10)).await;
    until("the call ended", || !edge.ended.lock().is_empty()).await;
    assert_eq!(
        *edge.progress.lock(),
        [Progress::Ringing { early_media: true }, Progress::Answered]
    );
    assert!(matches!(edge.ended.lock()[0], Ended::Worker(_)));
    let metrics = gateway.metrics();
    assert!(metrics.prometheus().contains("vox_sip_calls_total 1\n"));
    assert_eq!(metrics.calls_up(), 0);
}

/// Waits for the one progress a failed call reports, and gives its status.
async fn failed(edge: &Edge) -> u16 {
    until("the failure is reported", || {
        edge.progress
            .lock()
            .iter()
            .any(|p| matches!(p, Progress::Failed { .. }))
    })
    .await;
    let progress = edge.progress.lock();
    match progress.last() {
        Some(Progress::Failed { code, .. }) => *code,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_callee_is_reported_with_its_status() {
    let gateway = gateway(33_200..=33_399).await;
    let edge = call(&gateway, "busy", None, Duration::from_secs(10)).await;
    assert_eq!(failed(&edge).await, 486);
    assert_eq!(edge.progress.lock().len(), 1);
    assert!(edge.ended.lock().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_that_challenges_gets_the_digest_and_a_wrong_password_is_refused() {
    let gateway = gateway(33_400..=33_599).await;
    let ring = Duration::from_secs(10);
    let edge = call(&gateway, "challenged_callee", Some("trunk-password"), ring).await;
    until("the call ended", || !edge.ended.lock().is_empty()).await;
    assert!(edge.progress.lock().contains(&Progress::Answered));
    let refused = call(
        &gateway,
        "challenged_callee",
        Some("not-the-password"),
        ring,
    )
    .await;
    assert_eq!(failed(&refused).await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_challenges_407_gets_the_digest_in_proxy_authorization() {
    let gateway = gateway(33_800..=33_999).await;
    let ring = Duration::from_secs(10);
    let edge = call(
        &gateway,
        "proxy_challenged_callee",
        Some("trunk-password"),
        ring,
    )
    .await;
    until("the call ended", || !edge.ended.lock().is_empty()).await;
    assert!(edge.progress.lock().contains(&Progress::Answered));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_ringing_past_its_timeout_is_cancelled() {
    let gateway = gateway(33_600..=33_799).await;
    // SIPp's run passes once the CANCEL came and its 487 was ACKed.
    let edge = call(&gateway, "ringing", None, Duration::from_secs(1)).await;
    assert_eq!(failed(&edge).await, 487);
    assert_eq!(
        edge.progress.lock()[0],
        Progress::Ringing { early_media: false }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_trunk_agrees_to_session_timers_is_refreshed_by_vox_or_ended_when_it_lapses() {
    let gateway = gateway(34_600..=34_799).await;
    // vox refreshes: SIPp checks two re-INVITEs a second apart, then the worker's end.
    let callee = SippServer::start("refreshing_callee").unwrap();
    let edge = Arc::new(Edge {
        end_after: Some(Duration::from_millis(2600)),
        ..Edge::default()
    });
    let ring = Duration::from_secs(10);
    gateway
        .dial(&trunk(&callee, None), dial(ring), edge.clone())
        .await
        .unwrap();
    callee.finish().await.unwrap();
    until("the call ended", || !edge.ended.lock().is_empty()).await;
    assert!(matches!(edge.ended.lock()[0], Ended::Worker(_)));
    // The trunk refreshes but never does: the lapsed session is ended with vox's BYE.
    let callee = SippServer::start("lapsing_callee").unwrap();
    let edge = Arc::new(Edge {
        end_after: None,
        ..Edge::default()
    });
    gateway
        .dial(&trunk(&callee, None), dial(ring), edge.clone())
        .await
        .unwrap();
    callee.finish().await.unwrap();
    until("the call ended", || !edge.ended.lock().is_empty()).await;
    assert_eq!(edge.ended.lock()[0], Ended::SessionExpired);
}
