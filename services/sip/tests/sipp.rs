//! The gateway against SIPp (Debian's `sip-tester`) on loopback: real SIP from real SIP software.
//!
//! SIPp plays the trunk's caller with its own `uac` scenario (INVITE with a PCMU offer, ACK, a
//! pause, BYE) and with scenarios in `tests/sipp/` for a number that routes nowhere (404), an
//! offer of G.729 only (488) and a CANCEL while it rings (487). The router is a stand-in for the
//! telephony edge (which comes with the gateway's next slice): it routes one number to a worker's
//! media socket speaking vox's protocol, refuses the others, and lets one ring for long.

mod support;

use parking_lot::Mutex;
use sip::gateway::{Gateway, GatewayConfig, IncomingCall, Refusal, Routed, Router};
use sip::media::{Ended, MediaStats};
use std::sync::Arc;
use std::time::Duration;

const ROUTED: &str = "14155550100";
const SLOW: &str = "14155550177";

struct Edge {
    media_url: String,
    routed: Mutex<Vec<IncomingCall>>,
    ended: Mutex<Vec<(IncomingCall, Ended)>>,
}

#[async_trait::async_trait]
impl Router for Edge {
    async fn route(&self, call: &IncomingCall) -> Result<Routed, Refusal> {
        self.routed.lock().push(call.clone());
        match call.to.as_str() {
            ROUTED => Ok(Routed {
                media_url: self.media_url.clone(),
                parameters: serde_json::json!({"sip_call_id": call.sip_call_id}),
            }),
            SLOW => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Err(Refusal {
                    code: 480,
                    reason: "nobody".into(),
                })
            }
            _ => Err(Refusal {
                code: 404,
                reason: "this number routes nowhere".into(),
            }),
        }
    }

    async fn ended(&self, call: &IncomingCall, ended: &Ended, _: &MediaStats) {
        self.ended.lock().push((call.clone(), ended.clone()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_calls_in_and_is_answered_refused_or_cancelled_as_sip_says() {
    let (media_url, heard, _) = support::worker(1600, None).await;
    let edge = Arc::new(Edge {
        media_url,
        routed: Mutex::new(Vec::new()),
        ended: Mutex::new(Vec::new()),
    });
    let gateway = Gateway::start(
        GatewayConfig {
            rtp_ports: 20_000..=29_999,
            rtp_timeout: Duration::from_secs(10),
            ..GatewayConfig::new("127.0.0.1:0".parse().unwrap())
        },
        edge.clone(),
    )
    .await
    .unwrap();
    // A call: 180, 200 with vox's SDP, the ACK, a second of call, SIPp's BYE answered 200.
    sip::testing::sipp(gateway.sip_addr, "uac", ROUTED)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while edge.ended.lock().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the call never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (call, ended) = edge.ended.lock()[0].clone();
    assert_eq!(ended, Ended::HungUp, "SIPp's BYE ended it");
    assert_eq!(call.to, ROUTED);
    assert!(!call.sip_call_id.is_empty());
    // The worker was told the call started (8 kHz, with the router's parameters) and ended.
    let texts = heard.lock().texts.clone();
    assert_eq!(texts[0]["type"], "start");
    assert_eq!(texts[0]["sample_rate"], 8000);
    assert_eq!(
        texts[0]["parameters"]["sip_call_id"],
        call.sip_call_id.as_str()
    );
    // A number that routes nowhere, an offer vox cannot answer, a caller who gives up.
    sip::testing::sipp(gateway.sip_addr, "refused", "14155550199")
        .await
        .unwrap();
    sip::testing::sipp(gateway.sip_addr, "no_codec", ROUTED)
        .await
        .unwrap();
    sip::testing::sipp(gateway.sip_addr, "cancel", SLOW)
        .await
        .unwrap();
    let routed: Vec<String> = edge.routed.lock().iter().map(|c| c.to.clone()).collect();
    // The G.729 offer never reached the router: it was refused on its SDP.
    assert_eq!(routed, [ROUTED, "14155550199", SLOW]);
}
