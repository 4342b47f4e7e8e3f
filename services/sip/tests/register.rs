//! The gateway registers with a trunk's registrar (SIPp, `tests/sipp/registrar.xml`): each digest
//! challenge answered with the trunk's credentials (SIPp's `verifyauth` checks the digest), the
//! registration refreshed before it expires, and unregistered at shutdown; a wrong password is
//! refused, and `/metrics` says so. A registered trunk's calls are routed by their To header. A
//! trunk vox does not register with is asked with OPTIONS whether it is there.

use sip::gateway::{Gateway, GatewayConfig, IncomingCall, Refusal, Routed, Router};
use sip::media::{Ended, MediaStats};
use sip::metrics::Registered;
use sip::register::RegisterConfig;
use sip::testing::{SippServer, until};
use std::sync::Arc;
use std::time::Duration;

/// Refuses every call, noting the number each one dialled.
#[derive(Default)]
struct Nowhere {
    dialled: parking_lot::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Router for Nowhere {
    async fn route(&self, call: &IncomingCall) -> Result<Routed, Refusal> {
        self.dialled.lock().push(call.to.clone());
        Err(Refusal {
            code: 404,
            reason: "no call expected".into(),
        })
    }

    async fn ended(&self, _: &IncomingCall, _: &Ended, _: &MediaStats) {}
}

/// A gateway on loopback with defaults, and its router.
async fn loopback_gateway() -> (Gateway, Arc<Nowhere>) {
    let router = Arc::new(Nowhere::default());
    let config = GatewayConfig::new("127.0.0.1:0".parse().unwrap());
    let gateway = Gateway::start(config, router.clone()).await.unwrap();
    (gateway, router)
}

async fn registering(password: &str) -> (Gateway, SippServer, Arc<Nowhere>) {
    let registrar = SippServer::start("registrar").unwrap();
    let (gateway, router) = loopback_gateway().await;
    gateway
        .register(RegisterConfig {
            registrar: registrar.addr.to_string(),
            tcp: false,
            username: "vox".into(),
            password: password.into(),
            outbound_proxy: None,
            // The registrar grants 2 s: the refresh comes after 1.5 s.
            expires: 2,
        })
        .unwrap();
    (gateway, registrar, router)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_registers_refreshes_before_expiry_and_unregisters_at_shutdown() {
    let (gateway, registrar, router) = registering("trunk-password").await;
    let metrics = gateway.metrics();
    until("registered, then refreshed", || {
        metrics.registrations(Registered::Yes) == 2
    })
    .await;
    assert_eq!(metrics.registered(), Registered::Yes);
    assert!(metrics.prometheus().contains("vox_sip_registered 1\n"));
    // The trunk's INVITE names the registered user in its Request-URI and the dialled number in
    // To: the call is routed by To.
    sip::testing::sipp(gateway.sip_addr, "registered_call", "14155550100")
        .await
        .unwrap();
    assert_eq!(*router.dialled.lock(), ["14155550100"]);
    // The shutdown's REGISTER with Expires: 0, challenged and answered: SIPp's run succeeds only
    // with all three rounds authenticated.
    gateway.shutdown(Duration::ZERO).await;
    registrar.finish().await.unwrap();
    assert_eq!(metrics.registered(), Registered::No);
    assert_eq!(metrics.registrations(Registered::Refused), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_the_metrics_say_so() {
    let (gateway, _registrar, _) = registering("not-the-password").await;
    let metrics = gateway.metrics();
    until("refused", || metrics.registered() == Registered::Refused).await;
    let text = metrics.prometheus();
    assert!(text.contains("vox_sip_registered 0\n"), "{text}");
    assert!(
        text.contains("vox_sip_registrations_total{outcome=\"refused\"} 1\n"),
        "{text}"
    );
    assert_eq!(metrics.registrations(Registered::Yes), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_not_registered_with_is_asked_with_options_and_shown_up_or_down() {
    let trunk = SippServer::start_with("options", &["-m", "2"]).unwrap();
    let (gateway, _) = loopback_gateway().await;
    let metrics = gateway.metrics();
    assert_eq!(metrics.trunk_up(), None);
    gateway
        .keep_alive(&trunk.addr.to_string(), false, Duration::from_millis(300))
        .unwrap();
    // SIPp's run ends once it has answered two (later OPTIONS, after it is gone, go unanswered).
    trunk.finish().await.unwrap();
    assert!(metrics.trunk_answers(true) >= 2);
    assert!(
        metrics
            .prometheus()
            .contains("vox_sip_trunk_options_total{outcome=\"answered\"}")
    );
    // A trunk that answers nothing (a socket that never replies) is down.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (gateway, _) = loopback_gateway().await;
    let metrics = gateway.metrics();
    gateway
        .keep_alive(
            &silent.local_addr().unwrap().to_string(),
            false,
            Duration::from_millis(300),
        )
        .unwrap();
    until("the silent trunk is down", || {
        metrics.trunk_up() == Some(false)
    })
    .await;
    assert!(metrics.prometheus().contains("vox_sip_trunk_up 0\n"));
    assert_eq!(metrics.trunk_answers(true), 0);
}
