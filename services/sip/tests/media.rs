//! A call's media end to end on loopback: a phone's RTP through the bridge to a worker's socket.
//!
//! The phone is a UDP socket sending G.711 on the packet clock (one packet reordered, one lost,
//! a key pressed); the worker is a WebSocket server speaking vox's media protocol (it sends the
//! bot's audio and a mark, and records what it hears). Nothing here is a mock of the bridge's
//! own parts: the jitter buffer, the key reader and the codecs run as in a call.

use parking_lot::Mutex;
use serde_json::{Value, json};
use sip::media::{Ended, LegConfig, bridge};
use sip::ports::Pair;
use sip::rtp::Packet;
use sip::sdp::{Codec, Direction, Negotiated};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

mod support;

use support::worker;

fn config(remote: std::net::SocketAddr, timeout: Duration) -> LegConfig {
    LegConfig {
        negotiated: Negotiated {
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event: Some(101),
            ptime_ms: 20,
            direction: Direction::SendRecv,
            remote,
        },
        rtp_timeout: timeout,
        jitter_depth: 3,
        rtcp_interval: Duration::from_millis(300),
        renegotiated: None,
    }
}

/// A call's RTP and RTCP sockets on loopback.
async fn pair() -> Pair {
    Pair {
        rtp: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        rtcp: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
    }
}

fn voice(sequence: u16) -> Packet {
    Packet {
        marker: sequence == 0,
        payload_type: 0,
        sequence,
        timestamp: u32::from(sequence) * 160,
        ssrc: 7,
        payload: Codec::Pcmu.encode(&[3000; 160]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_audio_and_keys_reach_the_worker_and_the_bots_audio_reaches_the_caller() {
    let (url, heard, worker_task) = worker(3200, None).await;
    let leg = pair().await;
    let leg_address = leg.rtp.local_addr().unwrap();
    let leg_rtcp = leg.rtcp.local_addr().unwrap();
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // The SDP named another port: replies must follow the phone's packets there (symmetric RTP).
    // The phone's first packet is waiting before the bridge starts, so none of the bot's audio
    // goes to the SDP's port first.
    phone
        .send_to(&voice(0).to_bytes(), leg_address)
        .await
        .unwrap();
    // The phone's RTCP: a sender report first (so vox answers there and echoes its time).
    let phone_rtcp = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let phone_ntp = sip::rtcp::ntp_now();
    let phone_sr = sip::rtcp::compound(
        7,
        Some(sip::rtcp::SenderInfo {
            ntp: phone_ntp,
            rtp_timestamp: 0,
            packets: 0,
            octets: 0,
        }),
        &[],
        "phone@test",
    );
    phone_rtcp.send_to(&phone_sr, leg_rtcp).await.unwrap();
    let reports = Arc::new(Mutex::new(Vec::new()));
    {
        let (phone_rtcp, reports) = (phone_rtcp.clone(), reports.clone());
        tokio::spawn(async move {
            let mut buffer = [0u8; 1500];
            while let Ok((n, _)) = phone_rtcp.recv_from(&mut buffer).await {
                reports
                    .lock()
                    .extend(sip::rtcp::parse(&buffer[..n]).unwrap());
            }
        });
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let call = tokio::spawn(async move {
        let config = config("127.0.0.1:9".parse().unwrap(), Duration::from_secs(5));
        bridge(leg, config, &url, json!({"call_id": "1"}), async move {
            let _ = stopped.await;
        })
        .await
    });
    // 40 packets on the clock; 6 and 7 swapped, 20 never sent; key 5 held for three packets.
    let mut order: Vec<u16> = (1..40).filter(|s| *s != 20).collect();
    order.swap(5, 6);
    let received = Arc::new(Mutex::new(Vec::<Packet>::new()));
    let listening = {
        let (phone_rx, received) = (Arc::new(phone), received.clone());
        let sender = phone_rx.clone();
        tokio::spawn(async move {
            let mut buffer = [0u8; 2048];
            while let Ok((n, _)) = phone_rx.recv_from(&mut buffer).await {
                received.lock().push(Packet::parse(&buffer[..n]).unwrap());
            }
        });
        sender
    };
    for sequence in order {
        listening
            .send_to(&voice(sequence).to_bytes(), leg_address)
            .await
            .unwrap();
        if sequence == 10 {
            for duration in [160u16, 320, 480] {
                let key = Packet {
                    marker: duration == 160,
                    payload_type: 101,
                    sequence: 1000 + duration,
                    timestamp: 1600,
                    ssrc: 7,
                    payload: sip::rtp::TelephoneEvent {
                        event: 5,
                        end: duration == 480,
                        volume: 10,
                        duration,
                    }
                    .to_bytes()
                    .to_vec(),
                };
                listening
                    .send_to(&key.to_bytes(), leg_address)
                    .await
                    .unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the bot's 400 ms greeting play out and the leg play every frame to the worker (a
    // loaded machine may lag), then hang up as a BYE would.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while heard.lock().samples < 40 * 160 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    let (ended, stats) = call.await.unwrap();
    assert_eq!(ended, Ended::HungUp);
    // The worker has read everything once its socket is closed.
    tokio::time::timeout(Duration::from_secs(5), worker_task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.keys, "5");
    assert!(stats.rtp_in >= 39, "{stats:?}");
    assert!(
        stats.lost >= 1,
        "the missing packet was concealed: {stats:?}"
    );
    let heard = heard.lock();
    let dtmf: Vec<&Value> = heard.texts.iter().filter(|t| t["type"] == "dtmf").collect();
    assert_eq!(dtmf.len(), 1, "{:?}", heard.texts);
    assert_eq!(dtmf[0]["digit"], "5");
    assert_eq!(heard.texts[0]["sample_rate"], 8000);
    assert_eq!(heard.texts[0]["parameters"]["call_id"], "1");
    // The caller's audio reached the worker in 20 ms frames, loud where the caller spoke: every
    // frame but the missing one, less any whose packet came after its time (a stalled sender).
    let on_time = 38u64.saturating_sub(stats.late).max(1);
    assert!(
        heard.loud_samples as u64 >= on_time * 160,
        "{heard:?} {stats:?}"
    );
    assert_eq!(heard.samples % 160, 0);
    // The mark came back once the greeting had played.
    assert!(
        heard
            .texts
            .iter()
            .any(|t| t["type"] == "mark" && t["name"] == "greeting"),
        "{:?}",
        heard.texts
    );
    assert!(heard.texts.iter().any(|t| t["type"] == "hangup"));
    // The phone heard the bot: PCMU packets in sequence, the greeting loud, then silence.
    let received = received.lock();
    assert!(received.len() >= 20, "{}", received.len());
    assert!(
        received
            .iter()
            .all(|p| p.payload_type == 0 && p.payload.len() == 160)
    );
    for pair in received.windows(2) {
        assert_eq!(pair[1].sequence, pair[0].sequence.wrapping_add(1));
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(160));
    }
    let loud = received
        .iter()
        .filter(|p| Codec::Pcmu.decode(&p.payload)[0].abs() > 1500)
        .count();
    assert_eq!(loud, 20, "the 400 ms greeting is 20 packets");
    // Sender reports reached the phone's RTCP socket, counting what vox sent and what it lost
    // of the caller's stream (packet 20), and echoing the phone's own report's time.
    let reports = reports.lock();
    assert!(
        stats.rtcp_out >= 2 && reports.len() >= 2,
        "{stats:?} {reports:?}"
    );
    let last = reports.last().unwrap();
    assert!(last.sender.is_some_and(|s| s.packets > 0), "{last:?}");
    let block = last.blocks.first().expect("a block about the caller");
    assert_eq!(block.ssrc, 7);
    assert!(block.cumulative_lost >= 1, "{block:?}");
    assert_eq!(block.last_sr, (phone_ntp >> 16) as u32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_phone_ends_the_call_and_a_worker_that_ends_it_is_heard() {
    let (url, _, _) = worker(0, None).await;
    let leg = pair().await;
    let (ended, stats) = bridge(
        leg,
        config("127.0.0.1:9".parse().unwrap(), Duration::from_millis(300)),
        &url,
        json!({}),
        std::future::pending(),
    )
    .await;
    assert_eq!(ended, Ended::RtpTimeout);
    assert_eq!(stats.rtp_in, 0);

    let (url, _, _) = worker(0, Some(Duration::from_millis(100))).await;
    let leg = pair().await;
    let (ended, _) = bridge(
        leg,
        config("127.0.0.1:9".parse().unwrap(), Duration::from_secs(5)),
        &url,
        json!({}),
        std::future::pending(),
    )
    .await;
    assert_eq!(ended, Ended::Worker(Some("the bot hung up".into())));

    // No worker at the URL at all.
    let leg = pair().await;
    let (ended, _) = bridge(
        leg,
        config("127.0.0.1:9".parse().unwrap(), Duration::from_secs(5)),
        "ws://127.0.0.1:9/ws/vox/none",
        json!({}),
        std::future::pending(),
    )
    .await;
    assert!(matches!(ended, Ended::WorkerLost(_)), "{ended:?}");
}

/// A bot that says its last second and hangs up at once is heard to the end: the leg plays out
/// what the worker sent before its `end`, then ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bots_last_words_are_played_out_before_the_call_ends() {
    let (url, _, _) = worker(8_000, Some(Duration::from_millis(100))).await;
    let phone = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let listening = phone.clone();
    let loud = tokio::spawn(async move {
        let mut loud = 0;
        let mut buffer = [0u8; 1500];
        while let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_secs(3), listening.recv_from(&mut buffer)).await
        {
            let packet = Packet::parse(&buffer[..n]).unwrap();
            let samples = Codec::Pcmu.decode(&packet.payload);
            if samples.iter().any(|s| s.abs() > 1_000) {
                loud += 1;
            }
        }
        loud
    });
    let (ended, _) = bridge(
        pair().await,
        config(phone.local_addr().unwrap(), Duration::from_secs(5)),
        &url,
        json!({}),
        std::future::pending(),
    )
    .await;
    assert_eq!(ended, Ended::Worker(Some("the bot hung up".into())));
    // One second of the bot's voice: fifty 20 ms packets.
    assert_eq!(loud.await.unwrap(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_the_bot_presses_reach_the_phone_as_telephone_events_before_its_next_words() {
    // The bot says 400 samples, then presses 1, 2 and #.
    let (url, _, _) = support::worker_pressing(400, None, Some("12#")).await;
    let leg = pair().await;
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let phone_address = phone.local_addr().unwrap();
    let listening = tokio::spawn(async move {
        // Every packet for 1.5 s: three keys take (7 + 3) packets of 20 ms each.
        let mut packets = Vec::new();
        let until = tokio::time::Instant::now() + Duration::from_millis(1500);
        let mut buffer = [0u8; 2048];
        while let Ok(Ok((n, _))) =
            tokio::time::timeout_at(until, phone.recv_from(&mut buffer)).await
        {
            packets.push(Packet::parse(&buffer[..n]).unwrap());
        }
        packets
    });
    let (_, _) = bridge(
        leg,
        config(phone_address, Duration::from_millis(1400)),
        &url,
        json!({}),
        std::future::pending(),
    )
    .await;
    let packets = listening.await.unwrap();
    let mut reader = sip::dtmf::KeyReader::default();
    let events: Vec<&Packet> = packets.iter().filter(|p| p.payload_type == 101).collect();
    let keys: Vec<char> = events
        .iter()
        .filter_map(|p| reader.read(p.timestamp, &p.payload))
        .collect();
    assert_eq!(keys, ['1', '2', '#']);
    // Each key is marked at its first packet and ends with the end bit three times.
    assert_eq!(events.len(), 3 * 7, "{events:?}");
    assert_eq!(events.iter().filter(|p| p.marker).count(), 3);
    // The bot's words before the keys went out as audio, and the stream's numbering runs on.
    let first_key = packets.iter().position(|p| p.payload_type == 101).unwrap();
    assert!(
        packets[..first_key]
            .iter()
            .any(|p| p.payload_type == 0 && p.payload.iter().any(|b| *b != 0xFF)),
        "no audio before the keys"
    );
    let sequences: Vec<u16> = packets.iter().map(|p| p.sequence).collect();
    assert!(sequences.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_moved_to_another_codec_sends_and_hears_in_it() {
    // The bot speaks for 2 s; halfway the call moves from PCMU to PCMA (a re-INVITE agreed it).
    let (url, heard, _) = worker(16_000, None).await;
    let leg = pair().await;
    let leg_address = leg.rtp.local_addr().unwrap();
    let phone = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let mut config = config(phone.local_addr().unwrap(), Duration::from_millis(1500));
    let (agreed, renegotiated) = tokio::sync::watch::channel(config.negotiated.clone());
    config.renegotiated = Some(renegotiated);
    let pcma = Negotiated {
        codec: Codec::Pcma,
        payload_type: 8,
        ..config.negotiated.clone()
    };
    let listening = {
        let phone = phone.clone();
        tokio::spawn(async move {
            let mut packets = Vec::new();
            let until = tokio::time::Instant::now() + Duration::from_millis(1200);
            let mut buffer = [0u8; 2048];
            while let Ok(Ok((n, _))) =
                tokio::time::timeout_at(until, phone.recv_from(&mut buffer)).await
            {
                packets.push(Packet::parse(&buffer[..n]).unwrap());
            }
            packets
        })
    };
    let phone_side = {
        let phone = phone.clone();
        tokio::spawn(async move {
            // PCMU for 400 ms, then the move, then PCMA (loud) for 400 ms.
            for sequence in 0..20u16 {
                phone
                    .send_to(&voice(sequence).to_bytes(), leg_address)
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // A re-INVITE takes a round trip: the last PCMU packet is in before the move.
            tokio::time::sleep(Duration::from_millis(100)).await;
            agreed.send_replace(pcma);
            for sequence in 20..40u16 {
                let packet = Packet {
                    payload_type: 8,
                    payload: Codec::Pcma.encode(&[3000; 160]),
                    ..voice(sequence)
                };
                phone
                    .send_to(&packet.to_bytes(), leg_address)
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let (_, stats) = bridge(leg, config, &url, json!({}), std::future::pending()).await;
    phone_side.await.unwrap();
    let packets = listening.await.unwrap();
    let types: Vec<u8> = packets.iter().map(|p| p.payload_type).collect();
    let switched = types.iter().position(|t| *t == 8).expect("never PCMA");
    assert!(
        switched > 0 && types[..switched].iter().all(|t| *t == 0),
        "{types:?}"
    );
    assert!(types[switched..].iter().all(|t| *t == 8), "{types:?}");
    // The bot's audio in PCMA decodes to what it said (2000), not to noise.
    let decoded = Codec::Pcma.decode(&packets[switched + 1].payload);
    assert!(
        decoded.iter().all(|s| (s - 2000).abs() < 100),
        "{:?}",
        &decoded[..4]
    );
    // Both halves of the caller's audio reached the worker loud: PCMA decoded as PCMA.
    assert_eq!(stats.rtp_in, 40);
    assert!(
        heard.lock().loud_samples >= 30 * 160,
        "{}",
        heard.lock().loud_samples
    );
}
