//! The gateway's operations against SIPp: TCP beside UDP, every final response counted, a drain
//! that refuses new INVITEs 503 with Retry-After while live calls finish, and a shutdown whose
//! grace runs out hanging up the calls left, each with a BYE; SIP from outside the allowed networks
//! dropped unanswered; a call held and resumed by re-INVITE; session timers (RFC 4028).

mod support;

use sip::gateway::{Gateway, GatewayConfig};
use sip::media::Ended;
use sip::testing::until;
use std::sync::Arc;
use std::time::Duration;
use support::Workers;

const NUMBER: &str = "14155550100";

async fn gateway(ports: std::ops::RangeInclusive<u16>) -> (Gateway, Arc<Workers>) {
    let workers = Arc::new(Workers::default());
    let config = GatewayConfig {
        rtp_ports: ports,
        rtp_timeout: Duration::from_secs(10),
        ..GatewayConfig::new("127.0.0.1:0".parse().unwrap())
    };
    let gateway = Gateway::start(config, workers.clone()).await.unwrap();
    (gateway, workers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_over_tcp_is_answered_and_bridged_as_one_over_udp_is() {
    let (gateway, workers) = gateway(32_000..=32_199).await;
    sip::testing::sipp_with(gateway.sip_addr, "uac", NUMBER, &["-t", "t1"])
        .await
        .unwrap();
    sip::testing::sipp(gateway.sip_addr, "uac", NUMBER)
        .await
        .unwrap();
    until("both calls ended", || workers.ended.lock().len() == 2).await;
    assert_eq!(*workers.ended.lock(), [Ended::HungUp, Ended::HungUp]);
    let metrics = gateway.metrics();
    assert_eq!(metrics.responses(200), 2);
    assert_eq!(metrics.calls_up(), 0);
    let text = metrics.prometheus();
    assert!(text.contains("vox_sip_calls_total 2\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_gateway_refuses_new_calls_503_with_retry_after_while_live_ones_finish() {
    let (gateway, workers) = gateway(32_200..=32_399).await;
    let metrics = gateway.metrics();
    let health = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let health_url = format!("http://{}/health", health.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(health, sip::metrics::router(metrics))
            .await
            .unwrap()
    });
    let answered = reqwest::get(&health_url).await.unwrap();
    assert_eq!(answered.status(), 200);

    let addr = gateway.sip_addr;
    let live =
        tokio::spawn(
            async move { sip::testing::sipp_with(addr, "uac", NUMBER, &["-d", "3000"]).await },
        );
    let metrics = gateway.metrics();
    until("the first call is up", || metrics.calls_up() == 1).await;
    gateway.drain();
    let answered = reqwest::get(&health_url).await.unwrap();
    assert_eq!(answered.status(), 503);
    let body: serde_json::Value = answered.json().await.unwrap();
    assert_eq!(body["status"], "draining");
    assert_eq!(body["calls_up"], 1);
    // The scenario checks the 503 carries a Retry-After.
    sip::testing::sipp(gateway.sip_addr, "draining", NUMBER)
        .await
        .unwrap();
    // The live call goes on to its caller's BYE.
    live.await.unwrap().unwrap();
    assert!(gateway.drained(Duration::from_secs(10)).await);
    assert_eq!(*workers.ended.lock(), [Ended::HungUp]);
    assert_eq!(metrics.responses(503), 1);
    assert_eq!(metrics.responses(200), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_whose_grace_runs_out_hangs_up_each_live_call_with_a_bye() {
    let (gateway, workers) = gateway(32_400..=32_599).await;
    let addr = gateway.sip_addr;
    // The caller never hangs up: the scenario passes only when vox's BYE comes and is answered.
    let caller = tokio::spawn(async move {
        sip::testing::sipp_with(addr, "hung_up_by_vox", NUMBER, &["-t", "t1"]).await
    });
    let metrics = gateway.metrics();
    until("the call is up", || metrics.calls_up() == 1).await;
    gateway.shutdown(Duration::ZERO).await;
    caller.await.unwrap().unwrap();
    assert_eq!(metrics.calls_up(), 0);
    assert_eq!(*workers.ended.lock(), [Ended::HungUp]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_from_outside_the_allowed_networks_is_dropped_unanswered() {
    let workers = Arc::new(Workers::default());
    let only = |networks: &str| GatewayConfig {
        rtp_ports: 32_600..=32_799,
        allowed_sources: Some(egress::Allowed::parse(networks).unwrap()),
        ..GatewayConfig::new("127.0.0.1:0".parse().unwrap())
    };
    let elsewhere = Gateway::start(only("10.0.0.0/8, 2001:db8::/32"), workers.clone())
        .await
        .unwrap();
    // SIPp on loopback gets nothing back: its call times out.
    let unanswered =
        sip::testing::sipp_with(elsewhere.sip_addr, "uac", NUMBER, &["-timeout", "2s"]).await;
    assert!(unanswered.is_err());
    let metrics = elsewhere.metrics();
    assert_eq!(metrics.responses(200) + metrics.responses(404), 0);
    let text = metrics.prometheus();
    assert!(
        !text.contains("vox_sip_dropped_sources_total 0\n"),
        "{text}"
    );
    assert!(workers.ended.lock().is_empty());
    // Loopback allowed: the same call is answered.
    let here = Gateway::start(only("127.0.0.0/8"), workers.clone())
        .await
        .unwrap();
    sip::testing::sipp(here.sip_addr, "uac", NUMBER)
        .await
        .unwrap();
    assert_eq!(here.metrics().responses(200), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_held_resumed_and_moved_to_another_codec_by_reinvite_goes_on() {
    let (gateway, workers) = gateway(32_800..=32_999).await;
    // The scenario checks the answers: recvonly to the hold, sendrecv to the resume, 488 to a
    // G.729-only offer, PCMA to a PCMA-only offer; then SIPp's BYE ends the call, which was never
    // dropped.
    sip::testing::sipp(gateway.sip_addr, "reinvite", NUMBER)
        .await
        .unwrap();
    until("the call ended", || workers.ended.lock().len() == 1).await;
    assert_eq!(*workers.ended.lock(), [Ended::HungUp]);
    assert_eq!(gateway.metrics().responses(200), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_timers_are_agreed_refreshed_refused_below_the_minimum_and_a_lapsed_call_ended() {
    let (gateway, workers) = gateway(35_000..=35_199).await;
    // The scenarios check the 200s' Session-Expires and Require, and the 422's Min-SE.
    sip::testing::sipp(gateway.sip_addr, "session_timer", NUMBER)
        .await
        .unwrap();
    sip::testing::sipp(gateway.sip_addr, "session_too_brief", NUMBER)
        .await
        .unwrap();
    assert_eq!(gateway.metrics().responses(422), 1);
    until("the call ended", || workers.ended.lock().len() == 1).await;
    // A gateway taking 2 s sessions: one never refreshed is ended with vox's BYE.
    let brief = GatewayConfig {
        rtp_ports: 35_200..=35_399,
        min_session_expires: Duration::from_secs(1),
        ..GatewayConfig::new("127.0.0.1:0".parse().unwrap())
    };
    let lapsing = Arc::new(Workers::default());
    let brief = Gateway::start(brief, lapsing.clone()).await.unwrap();
    sip::testing::sipp(brief.sip_addr, "session_expiry", NUMBER)
        .await
        .unwrap();
    until("the lapsed call ended", || lapsing.ended.lock().len() == 1).await;
    assert_eq!(*lapsing.ended.lock(), [Ended::SessionExpired]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pbx_that_authenticates_is_challenged_let_in_with_its_digest_and_refused_without_it() {
    let (gateway, workers) = gateway(35_400..=35_599).await;
    gateway.challenge_callers("pbx".into(), "pbx-password".into());
    // SIPp answers the 401 with the digest of its -au/-ap.
    let right = ["-au", "pbx", "-ap", "pbx-password"];
    sip::testing::sipp_with(gateway.sip_addr, "authenticating_caller", NUMBER, &right)
        .await
        .unwrap();
    until("the call ended", || workers.ended.lock().len() == 1).await;
    let metrics = gateway.metrics();
    assert_eq!((metrics.responses(401), metrics.responses(200)), (1, 1));
    // The wrong password: 403 where SIPp wanted its 200, and no call.
    let wrong = ["-au", "pbx", "-ap", "guess"];
    let refused =
        sip::testing::sipp_with(gateway.sip_addr, "authenticating_caller", NUMBER, &wrong).await;
    assert!(refused.unwrap_err().contains("403"));
    assert_eq!(metrics.responses(403), 1);
    assert_eq!(metrics.responses(200), 1);
    // Without credentials at all the built-in caller is only ever challenged.
    let challenged = sip::testing::sipp(gateway.sip_addr, "uac", NUMBER).await;
    assert!(challenged.unwrap_err().contains("401"));
}
