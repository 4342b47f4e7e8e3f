//! Kamailio (Debian's package, `tests/kamailio/registrar.cfg`) as a registrar and proxy with
//! digest auth between the gateway and its callers: the gateway registers through a 401
//! challenge, a caller's INVITE is challenged 407 by the proxy and relayed to where vox
//! registered, and the call is answered, routed by the dialled number and hung up.

mod support;

use sip::gateway::{Gateway, GatewayConfig};
use sip::media::Ended;
use sip::metrics::Registered;
use sip::register::RegisterConfig;
use sip::testing::{Kamailio, until};
use std::sync::Arc;
use std::time::Duration;
use support::Workers;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_authenticated_by_kamailio_reaches_the_bot_where_the_gateway_registered() {
    let kamailio = Kamailio::start("registrar").await.unwrap();
    let workers = Arc::new(Workers::default());
    let config = GatewayConfig {
        rtp_ports: 35_600..=35_799,
        rtp_timeout: Duration::from_secs(10),
        ..GatewayConfig::new("127.0.0.1:0".parse().unwrap())
    };
    let gateway = Gateway::start(config, workers.clone()).await.unwrap();
    gateway
        .register(RegisterConfig {
            registrar: kamailio.addr.to_string(),
            tcp: false,
            username: "vox".into(),
            password: "trunk-password".into(),
            outbound_proxy: None,
            expires: 60,
        })
        .unwrap();
    let metrics = gateway.metrics();
    until("registered with Kamailio", || {
        metrics.registered() == Registered::Yes
    })
    .await;

    // SIPp calls the number through Kamailio, answering its 407 as `caller`.
    sip::testing::sipp_with(
        kamailio.addr,
        "proxied_caller",
        "14155550100",
        &["-au", "caller", "-ap", "caller-password"],
    )
    .await
    .unwrap();
    until("the call ended", || workers.ended.lock().len() == 1).await;
    assert_eq!(*workers.ended.lock(), [Ended::HungUp]);
    let calls = workers.calls.lock().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].to, "14155550100");
    assert_eq!(metrics.responses(200), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kamailio_refuses_the_gateways_registration_with_a_wrong_password() {
    let kamailio = Kamailio::start("registrar").await.unwrap();
    let workers = Arc::new(Workers::default());
    let config = GatewayConfig {
        rtp_ports: 35_800..=35_809,
        ..GatewayConfig::new("127.0.0.1:0".parse().unwrap())
    };
    let gateway = Gateway::start(config, workers).await.unwrap();
    gateway
        .register(RegisterConfig {
            registrar: kamailio.addr.to_string(),
            tcp: false,
            username: "vox".into(),
            password: "not-the-password".into(),
            outbound_proxy: None,
            expires: 60,
        })
        .unwrap();
    let metrics = gateway.metrics();
    until("refused by Kamailio", || {
        metrics.registered() == Registered::Refused
    })
    .await;
}
