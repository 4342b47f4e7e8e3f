//! Malformed SIP on the gateway's port: refused with the right status, and never a panic.
//!
//! Raw datagrams from a UDP socket on loopback: junk, an oversize packet, requests missing their
//! mandatory headers, an INVITE whose body is not SDP (400) or offers no G.711 (488). After each
//! the gateway still answers an OPTIONS with 200, so nothing took it down.

use sip::gateway::{Gateway, GatewayConfig, IncomingCall, Refusal, Routed, Router};
use sip::media::{Ended, MediaStats};
use std::time::Duration;
use tokio::net::UdpSocket;

/// Where requests say they come from, until `exchange` puts the socket's address in.
const CLIENT: &str = "client.invalid:5999";

struct Nowhere;

#[async_trait::async_trait]
impl Router for Nowhere {
    async fn route(&self, _: &IncomingCall) -> Result<Routed, Refusal> {
        Err(Refusal {
            code: 404,
            reason: "nowhere".into(),
        })
    }

    async fn ended(&self, _: &IncomingCall, _: &Ended, _: &MediaStats) {}
}

/// A request from `CLIENT` (rewritten to the test socket's address before it is sent).
fn request(method: &str, target: &str, extra: &str, body: &str, branch: &str) -> String {
    let client = CLIENT;
    format!(
        "{method} sip:14155550100@{target} SIP/2.0\r\nVia: SIP/2.0/UDP {client};branch=z9hG4bK{branch}\r\n\
         From: <sip:14155550123@{client}>;tag=t{branch}\r\nTo: <sip:14155550100@{target}>\r\n\
         Call-ID: {branch}@test\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The status line of the gateway's answer to `datagram`, if it answers within a second.
async fn exchange(socket: &UdpSocket, to: std::net::SocketAddr, datagram: &[u8]) -> Option<String> {
    let here = socket.local_addr().unwrap().to_string();
    let datagram = match std::str::from_utf8(datagram) {
        Ok(text) => text.replace(CLIENT, &here).into_bytes(),
        Err(_) => datagram.to_vec(),
    };
    socket.send_to(&datagram, to).await.unwrap();
    let mut buffer = vec![0u8; 65_536];
    loop {
        let received = tokio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buffer))
            .await
            .ok()?
            .ok()?;
        let text = String::from_utf8_lossy(&buffer[..received.0]).to_string();
        let status = text.lines().next().unwrap_or_default().to_owned();
        // Provisional answers (100 Trying) come before the final one.
        if !status.starts_with("SIP/2.0 1") {
            return Some(status);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sip_is_refused_with_the_right_status_and_never_takes_the_gateway_down() {
    let gateway = Gateway::start(
        GatewayConfig {
            rtp_ports: 30_000..=30_099,
            rtp_timeout: Duration::from_secs(5),
            ..GatewayConfig::new("127.0.0.1:0".parse().unwrap())
        },
        std::sync::Arc::new(Nowhere),
    )
    .await
    .unwrap();
    let to = gateway.sip_addr;
    let target = to.to_string();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let alive = |n: usize| request("OPTIONS", &target, "", "", &format!("alive{n}"));
    assert_eq!(
        exchange(&socket, to, alive(0).as_bytes()).await.as_deref(),
        Some("SIP/2.0 200 OK")
    );
    let sdp = "application/sdp";
    let cases: Vec<(Vec<u8>, Option<&str>)> =
        vec![
        // Junk and an oversize datagram: no answer, no harm.
        (b"\x00\xff not sip at all".to_vec(), None),
        (vec![b'A'; 9000], None),
        // An INVITE whose body is not SDP: 400.
        (
            request("INVITE", &target, &format!("Content-Type: {sdp}\r\n"), "hello", "b1")
                .into_bytes(),
            Some("SIP/2.0 400"),
        ),
        // An offer of G.729 only: 488.
        (
            request(
                "INVITE",
                &target,
                &format!("Content-Type: {sdp}\r\n"),
                "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n",
                "b2",
            )
            .into_bytes(),
            Some("SIP/2.0 488"),
        ),
        // A BYE for no dialog: 481.
        (
            request("BYE", &target, "", "", "b3").into_bytes(),
            Some("SIP/2.0 481"),
        ),
        // No Call-ID or CSeq at all: dropped, never a panic.
        (
            format!("INVITE sip:1@{target} SIP/2.0\r\nVia: SIP/2.0/UDP {CLIENT}\r\n\r\n")
                .into_bytes(),
            None,
        ),
    ];
    for (n, (datagram, expected)) in cases.into_iter().enumerate() {
        let answered = exchange(&socket, to, &datagram).await;
        match expected {
            Some(status) => assert!(
                answered.as_deref().is_some_and(|a| a.starts_with(status)),
                "case {n}: {answered:?}"
            ),
            None => assert!(
                answered.is_none()
                    || answered
                        .as_deref()
                        .is_some_and(|a| a.starts_with("SIP/2.0 4")),
                "case {n}: {answered:?}"
            ),
        }
        assert_eq!(
            exchange(&socket, to, alive(n + 1).as_bytes())
                .await
                .as_deref(),
            Some("SIP/2.0 200 OK"),
            "the gateway answers after case {n}"
        );
    }
}
