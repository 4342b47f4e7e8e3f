//! `vox sip` end to end: SIPp calls in through the gateway, the Backend's edge routes the call, a
//! real worker's bot answers it, and the caller's BYE ends it.
//!
//! The real Backend (its telephony edge) and fleet worker, the gateway (`sip::gateway`) with the
//! router `vox sip` runs (`sip::edge::EdgeRouter`), and SIPp (Debian's `sip-tester`) as the
//! trunk's caller and as its registrar, all on loopback. Then a campaign dials through the trunk:
//! the dialler's `SipCarrier` asks the gateway's call control to place each call, and SIPp as the
//! trunk's callees answers one and is busy for the other.

use contracts::runtime_config::CallDirection;
use contracts::telephony::{CarrierKind, SipTrunk};
use contracts::{CallState, E164Number};
use sip::edge::EdgeRouter;
use sip::gateway::{Gateway, GatewayConfig};
use sip::metrics::Registered;
use sip::register::RegisterConfig;
use std::sync::Arc;
use std::time::Duration;
use store::{CallFilter, NewCarrierAccount, Page};
use test_support::bots::route_booking_bot;
use test_support::platform::{SECRET, platform};

const NUMBER: &str = "+14155550100";

/// The Backend and a worker on loopback, the Backend's fleet being that worker.
pub(crate) async fn routing_platform(
    store: &Arc<dyn store::Store>,
) -> test_support::platform::Platform {
    let platform = platform(store.clone()).await;
    store
        .put_setting("fleet.urls", serde_json::json!([platform.worker_url]), None)
        .await
        .unwrap();
    platform
}

/// Serves `gateway`'s call control on `listener` (the trunk account's `api_url`) with the trunk
/// settings `edge` reads from the Backend, as `vox sip` does.
pub(crate) async fn serve_call_control(
    listener: tokio::net::TcpListener,
    gateway: &Gateway,
    edge: &EdgeRouter,
) {
    let api = sip::api::Api::new(gateway.control(), Arc::new(edge.clone()));
    api.set_trunk(edge.trunk().await.unwrap().api_trunk(None).unwrap());
    tokio::spawn(axum::serve(listener, api.router()).into_future());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sip_call_through_vox_sip_reaches_its_routed_bot_and_a_trunk_saved_to_register_is_registered()
 {
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let platform = routing_platform(&store).await;
    route_booking_bot(&*store, NUMBER).await;
    let trunk = store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Sip,
            name: "loopback trunk".into(),
            account_sid: "127.0.0.1".into(),
            secret: Some("-".into()),
            api_url: None,
            numbers: vec![E164Number::parse(NUMBER).unwrap()],
            webhook_key: None,
            trunk: None,
        })
        .await
        .unwrap();
    let router = EdgeRouter::new(&platform.bridge_url, trunk.id.0, SECRET);
    let gateway = Gateway::start(
        GatewayConfig {
            rtp_ports: 40_000..=40_999,
            rtp_timeout: Duration::from_secs(10),
            ..GatewayConfig::new("127.0.0.1:0".parse().unwrap())
        },
        Arc::new(router),
    )
    .await
    .unwrap();
    // SIPp's own uac: the INVITE, 180 and 200 with vox's SDP, the ACK, a second, its BYE.
    sip::testing::sipp(gateway.sip_addr, "uac", NUMBER.trim_start_matches('+'))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let call = loop {
        let calls = store
            .list_calls(CallFilter::default(), Page::first(10))
            .await
            .unwrap()
            .items;
        if let Some(call) = calls.into_iter().find(|c| c.state.is_terminal()) {
            let kept = store.telephony_events(call.id).await.unwrap();
            if kept.iter().any(|(e, _)| e.starts_with("ended.")) {
                break call;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the call never ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(call.direction, CallDirection::Inbound);
    assert_eq!(call.to.as_ref().map(|n| n.as_str()), Some(NUMBER));
    assert_eq!(call.state, CallState::Completed, "{call:?}");
    assert!(
        call.worker_id.is_some() && call.result.is_some(),
        "{call:?}"
    );
    let kept: Vec<String> = store
        .telephony_events(call.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    assert_eq!(kept, ["invite", "ended.hung_up"]);
    // A number that routes nowhere is refused 404 by the edge, through the gateway.
    sip::testing::sipp(gateway.sip_addr, "refused", "14155550111")
        .await
        .unwrap();

    // The trunk saved to register (SIPp as its registrar): the gateway reads its settings from
    // the Backend, registers with them (each digest challenge answered), refreshes, and
    // unregisters when it shuts down.
    let registrar = sip::testing::SippServer::start("registrar").unwrap();
    store
        .update_carrier_account(
            trunk.id,
            NewCarrierAccount {
                carrier: CarrierKind::Sip,
                name: "loopback trunk".into(),
                account_sid: registrar.addr.to_string(),
                secret: Some("trunk-password".into()),
                api_url: None,
                numbers: vec![E164Number::parse(NUMBER).unwrap()],
                webhook_key: None,
                trunk: Some(SipTrunk {
                    username: Some("vox".into()),
                    register: true,
                    ..SipTrunk::default()
                }),
            },
        )
        .await
        .unwrap();
    let settings = EdgeRouter::new(&platform.bridge_url, trunk.id.0, SECRET)
        .trunk()
        .await
        .unwrap();
    assert!(settings.register && !settings.tcp, "{settings:?}");
    gateway
        .register(RegisterConfig {
            registrar: settings.address,
            tcp: settings.tcp,
            username: settings.username.unwrap(),
            password: settings.password,
            outbound_proxy: None,
            expires: 2,
        })
        .unwrap();
    let metrics = gateway.metrics();
    sip::testing::until("registered and refreshed", || {
        metrics.registrations(Registered::Yes) >= 2
    })
    .await;
    gateway.shutdown(Duration::ZERO).await;
    registrar.finish().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_dials_through_a_sip_trunk_and_each_call_ends_with_what_the_trunk_said() {
    use crate::sim::carrier::{campaign_through, finished, start_dialler};
    use contracts::CallOutcomeCode;
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let platform = routing_platform(&store).await;
    // SIPp answers the first contact (who hangs up after 3 s) and is busy for the second.
    let callees = sip::testing::SippServer::start_with("campaign_callee", &["-m", "2"]).unwrap();
    // The gateway's call control, where the trunk account says the dialler reaches it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control = format!("http://{}", listener.local_addr().unwrap());
    let account = store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Sip,
            name: "loopback trunk".into(),
            account_sid: callees.addr.to_string(),
            secret: Some("trunk-password".into()),
            api_url: Some(control),
            numbers: vec![E164Number::parse(NUMBER).unwrap()],
            webhook_key: None,
            trunk: None,
        })
        .await
        .unwrap();
    let edge = EdgeRouter::new(&platform.bridge_url, account.id.0, SECRET);
    let gateway = Gateway::start(
        GatewayConfig {
            rtp_ports: 41_000..=41_999,
            rtp_timeout: Duration::from_secs(10),
            ..GatewayConfig::new("127.0.0.1:0".parse().unwrap())
        },
        Arc::new(edge.clone()),
    )
    .await
    .unwrap();
    serve_call_control(listener, &gateway, &edge).await;
    let campaign = campaign_through(&store, account.id, test_support::bots::booking_bot(), 2).await;
    let dialler = start_dialler(store.clone(), &platform, "sip-dialler");
    let calls = finished(&*store, campaign, 2, Duration::from_secs(60)).await;
    callees.finish().await.unwrap();
    let _ = dialler.stop.send(());
    let _ = dialler.task.await;
    let to = |n: &str| {
        calls
            .iter()
            .find(|c| c.to.as_ref().map(|t| t.as_str()) == Some(n))
            .unwrap_or_else(|| panic!("no call to {n}: {calls:?}"))
    };
    let answered = to("+14155550000");
    assert_eq!(answered.direction, CallDirection::Outbound);
    assert_eq!(answered.state, CallState::Completed, "{answered:?}");
    assert!(answered.worker_id.is_some() && answered.result.is_some());
    let kept = |call: &store::Call| {
        let store = store.clone();
        let id = call.id;
        async move {
            let events = store.telephony_events(id).await.unwrap();
            events.into_iter().map(|(e, _)| e).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        kept(answered).await,
        ["ringing", "answered", "ended.hung_up"]
    );
    let busy = to("+14155550001");
    assert_eq!(busy.outcome, Some(CallOutcomeCode::DialBusy), "{busy:?}");
    assert_eq!(kept(busy).await, ["failed.486"]);
    gateway.shutdown(Duration::ZERO).await;
}
