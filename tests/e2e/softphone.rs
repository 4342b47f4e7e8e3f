//! baresip (Debian's `baresip-core`) as a softphone talking to the bot through `vox sip`.
//!
//! It calls in, and answers a campaign's call, with the caller's words from a file; what it hears
//! is recorded and transcribed by the local whisper sidecar. The real Backend, fleet worker and
//! gateway run here; baresip runs in a network namespace the test creates (it never puts a
//! loopback address in its SDP), reached over a veth pair (`sip::testing::Namespace`).

use crate::sip::routing_platform;
use audio::SampleRate;
use contracts::telephony::CarrierKind;
use contracts::{CallState, E164Number};
use sip::edge::EdgeRouter;
use sip::gateway::{Gateway, GatewayConfig};
use sip::testing::{Baresip, Namespace, Role};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use store::{CallFilter, CarrierAccount, NewCarrierAccount, Page, Store};
use test_support::bots::{route_booking_bot, speech};
use test_support::platform::SECRET;

const NUMBER: &str = "+14155550100";

/// The caller: quiet while the bot greets, then "Hello, I would like to book an appointment for
/// Tuesday morning, please.", then quiet while the bot answers (baresip hangs up when it ends).
/// The quiet is long (50 s, within the booking bot's 60 s limit): under the whole suite the one
/// shared whisper sidecar can take tens of seconds to transcribe the request, and a caller who
/// hung up first would never hear the goodbye.
fn caller() -> Vec<i16> {
    let second = 8_000;
    let mut samples = vec![0; second * 9 / 2];
    samples.extend(speech(SampleRate::Hz8000));
    samples.extend(vec![0; second * 50]);
    samples
}

/// The stretches of `samples` (8 kHz) with sound in them, split at a second of quiet, each with
/// 0.3 s around it.
fn voiced(samples: &[i16]) -> Vec<&[i16]> {
    let frame = 160;
    let loud: Vec<bool> = samples
        .chunks(frame)
        .map(|f| f.iter().map(|s| i64::from(*s).abs()).sum::<i64>() / f.len() as i64 > 100)
        .collect();
    let mut stretches = Vec::new();
    let mut start: Option<usize> = None;
    let mut quiet = 0;
    for (i, &sound) in loud
        .iter()
        .chain(std::iter::repeat_n(&false, 51))
        .enumerate()
    {
        match (sound, start) {
            (true, None) => start = Some(i),
            (true, Some(_)) => quiet = 0,
            (false, Some(first)) => {
                quiet += 1;
                if quiet > 50 {
                    let from = (first * frame).saturating_sub(2_400);
                    let to = ((i + 1 - quiet) * frame + 2_400).min(samples.len());
                    stretches.push(&samples[from..to]);
                    (start, quiet) = (None, 0);
                }
            }
            (false, None) => {}
        }
    }
    stretches
}

/// A SIP trunk account whose peer is `peer`, owning `NUMBER`, its call control at `control`.
async fn trunk(store: &dyn Store, peer: SocketAddr, control: Option<String>) -> CarrierAccount {
    store
        .create_carrier_account(NewCarrierAccount {
            carrier: CarrierKind::Sip,
            name: "softphone trunk".into(),
            account_sid: peer.to_string(),
            secret: Some("-".into()),
            api_url: control,
            numbers: vec![E164Number::parse(NUMBER).unwrap()],
            webhook_key: None,
            trunk: None,
        })
        .await
        .unwrap()
}

/// The gateway on the namespace's pair, routing through the Backend's edge as `account`.
async fn gateway(
    namespace: &Namespace,
    edge: EdgeRouter,
    ports: std::ops::RangeInclusive<u16>,
) -> Gateway {
    Gateway::start(
        GatewayConfig {
            rtp_ports: ports,
            rtp_timeout: Duration::from_secs(10),
            ..GatewayConfig::new(SocketAddr::new(namespace.host, 0))
        },
        Arc::new(edge),
    )
    .await
    .unwrap()
}

/// Asserts that the softphone heard the greeting ("Hello, this is the clinic. How can I help?")
/// and then the goodbye ("Booked. Goodbye.", which whisper's tiny model hears at 8 kHz as
/// "well goodbye"), and that the call was booked with the caller's words in its transcript.
async fn assert_heard_the_bot(heard: &[i16], call: &store::Call) {
    assert!(heard.len() > 8_000 * 3, "{} samples", heard.len());
    // Each stretch of the bot's voice on its own: whisper's tiny model given the whole recording
    // often stops at the ten quiet seconds after the greeting and never writes the goodbye.
    let mut text = String::new();
    for stretch in voiced(heard) {
        text += &test_support::whisper::transcribe(stretch, SampleRate::Hz8000).await;
        text.push(' ');
    }
    // "Hello, this is the clinic": whisper hears the last word as "clinic" or "colleague".
    let greeting = text.find("this is");
    let goodbye = text.find("goodbye");
    assert!(
        greeting.is_some() && goodbye.is_some() && greeting < goodbye,
        "the softphone heard: {text:?}; the call: {:?} {:?}",
        call.outcome,
        call.result.as_ref().map(|r| &r["transcript"])
    );
    crate::sim::carrier::assert_booked_and_recorded_at(8_000, &[call]);
}

/// The one call in the store once it is final.
async fn final_call(store: &dyn Store) -> store::Call {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let calls = store
            .list_calls(CallFilter::default(), Page::first(10))
            .await
            .unwrap()
            .items;
        if let [call] = calls.as_slice()
            && call.state.is_terminal()
        {
            return call.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{calls:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_softphone_calling_in_through_vox_sip_is_greeted_heard_and_booked_by_the_bot() {
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let platform = routing_platform(&store).await;
    route_booking_bot(&*store, NUMBER).await;
    let namespace = Namespace::create().unwrap();
    let account = trunk(&*store, SocketAddr::new(namespace.peer, 5060), None).await;
    let edge = EdgeRouter::new(&platform.bridge_url, account.id.0, SECRET);
    let gateway = gateway(&namespace, edge, 42_000..=42_099).await;
    let dial = format!(
        "sip:{}@{}",
        NUMBER.trim_start_matches('+'),
        gateway.sip_addr
    );
    let phone = Baresip::start(&namespace, "caller", &caller(), Role::Dial(dial)).unwrap();
    let heard = phone.heard(Duration::from_secs(80)).await.unwrap();
    let call = final_call(&*store).await;
    assert_eq!(call.state, CallState::Completed, "{call:?}");
    assert_heard_the_bot(&heard, &call).await;
    gateway.shutdown(Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_softphone_answering_a_campaigns_call_through_vox_sip_is_greeted_heard_and_booked() {
    use crate::sim::carrier::{campaign_through, finished, start_dialler};
    let db = store::testing::sqlite().await;
    let store = db.store.clone();
    let platform = routing_platform(&store).await;
    let namespace = Namespace::create().unwrap();
    // The campaign's one contact, +14155550000, is the softphone's user.
    let phone = Baresip::start(&namespace, "+14155550000", &caller(), Role::Answer).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control = format!("http://{}", listener.local_addr().unwrap());
    let account = trunk(&*store, phone.addr, Some(control)).await;
    let edge = EdgeRouter::new(&platform.bridge_url, account.id.0, SECRET);
    let gateway = gateway(&namespace, edge.clone(), 42_100..=42_199).await;
    crate::sip::serve_call_control(listener, &gateway, &edge).await;
    let campaign = campaign_through(&store, account.id, test_support::bots::booking_bot(), 1).await;
    let dialler = start_dialler(store.clone(), &platform, "softphone-dialler");
    let heard = phone.heard(Duration::from_secs(80)).await.unwrap();
    let calls = finished(&*store, campaign, 1, Duration::from_secs(30)).await;
    let _ = dialler.stop.send(());
    let _ = dialler.task.await;
    assert_eq!(calls[0].state, CallState::Completed, "{calls:?}");
    assert_heard_the_bot(&heard, &calls[0]).await;
    gateway.shutdown(Duration::ZERO).await;
}
