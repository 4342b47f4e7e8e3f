//! One call's media: the phone's RTP leg bridged to a worker's `vox` media WebSocket.
//!
//! The worker speaks vox's own protocol (`services/fleet/src/media/vox.rs`): a `start` at 8 kHz,
//! binary 16-bit PCM both ways, `dtmf`, `mark` (echoed once the audio before it has played),
//! `clear` (barge-in: unplayed audio dropped), `dtmf` with `digits` (the bot's keys, sent as
//! RFC 4733 telephone-events in place of its audio) and `end` (the audio sent before it is still
//! played out, up to 10 s, before the call ends). The phone side is RTP in the negotiated
//! G.711 law, one packet per packet time both ways: the caller's packets go through the jitter
//! buffer (a lost one becomes silence, so the worker's clock keeps time), the bot's audio is sent
//! on a steady clock (silence between its words, so NAT bindings stay open), telephone-events
//! become `dtmf` messages once per key. RTP is symmetric: replies go where the caller's first
//! packet came from, not only where its SDP said. A leg without RTP for `rtp_timeout` ends, so a
//! vanished phone never holds a worker's slot.
//!
//! A new offer in the call (`reoffer`) may change the codec, the payload types, the direction or
//! the address: the leg follows what was agreed (`LegConfig::renegotiated`), the caller's
//! buffered audio in the old codec dropped.
//!
//! RTCP runs on the pair's odd port: a sender report with a block about the caller's stream every
//! `rtcp_interval` (5 s in a call) (to where the phone's RTCP comes from, else the RTP address's port + 1), and the
//! phone's own reports read for the loss and jitter it heard.
//!
//! Five sources feed one loop over a closed event enum: the RTP and RTCP sockets, the worker's
//! socket, the packet clock and the hang-up (a BYE).

use crate::dtmf::KeyReader;
use crate::jitter::{Frame, JitterBuffer};
use crate::rtp::Packet;
use crate::sdp::Negotiated;
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// 8 kHz: samples (and RTP timestamp units) per millisecond.
const PER_MS: usize = 8;

/// How a call's media is run.
#[derive(Debug, Clone)]
pub struct LegConfig {
    pub negotiated: Negotiated,
    /// A leg with no RTP from the phone for this long ends.
    pub rtp_timeout: Duration,
    /// Frames buffered before the caller's audio is played out to the worker.
    pub jitter_depth: usize,
    /// How often a sender report goes out (RFC 3550's 5 s minimum, for a phone call).
    pub rtcp_interval: Duration,
    /// What a new offer in the call agreed (a codec change, hold): the leg follows it.
    pub renegotiated: Option<tokio::sync::watch::Receiver<Negotiated>>,
}

/// Why a call's media ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The worker said `end` (with its reason) or closed its socket.
    Worker(Option<String>),
    /// No RTP from the phone for the timeout.
    RtpTimeout,
    /// The SIP side hung up (a BYE, a CANCEL, a drain).
    HungUp,
    /// The Backend asked the gateway to hang up (`Control::hang_up`).
    Requested,
    /// A transfer (REFER) took the caller to its target; vox left the call.
    Transferred,
    /// The worker's socket could not be opened or failed.
    WorkerLost(String),
    /// The session timer ran out with no refresh from the phone's side (RFC 4028): vox hung up.
    SessionExpired,
}

/// What the leg carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaStats {
    pub rtp_in: u64,
    pub rtp_out: u64,
    pub lost: u64,
    pub late: u64,
    /// The caller's interarrival jitter at the end, in ms.
    pub jitter_ms: u32,
    pub keys: String,
    /// Datagrams that were not RTP, or RTP of a payload type not negotiated.
    pub ignored: u64,
    pub rtcp_out: u64,
    /// What the phone's last receiver report said of vox's stream: lost since the start, jitter.
    pub peer_lost: Option<i32>,
    pub peer_jitter: Option<u32>,
}

/// What the loop acts on.
enum Event {
    Rtp(Vec<u8>, SocketAddr),
    Rtcp(Vec<u8>, SocketAddr),
    Worker(Message),
    WorkerGone(Option<String>),
    Tick,
    HangUp,
    Renegotiated(Negotiated),
}

/// The bot's audio waiting to be sent, and the marks to echo once it has played.
#[derive(Default)]
struct Outgoing {
    samples: VecDeque<i16>,
    /// Samples sent so far, and each pending mark's position in that count.
    played: u64,
    marks: VecDeque<(u64, String)>,
}

impl Outgoing {
    fn queue(&mut self, samples: impl IntoIterator<Item = i16>) {
        self.samples.extend(samples);
    }

    /// A mark at the end of what is queued now.
    fn mark(&mut self, name: String) {
        let at = self.played + self.samples.len() as u64;
        self.marks.push_back((at, name));
    }

    /// Drops unplayed audio: pending marks are due at once.
    fn clear(&mut self) {
        self.samples.clear();
        for mark in &mut self.marks {
            mark.0 = self.played;
        }
    }

    /// The next frame (silence where the bot has nothing), and the marks now played.
    fn frame(&mut self, len: usize) -> (Vec<i16>, Vec<String>) {
        let mut frame: Vec<i16> = self.samples.drain(..len.min(self.samples.len())).collect();
        frame.resize(len, 0);
        self.played += len as u64;
        let mut due = Vec::new();
        while self.marks.front().is_some_and(|(at, _)| *at <= self.played) {
            if let Some((_, name)) = self.marks.pop_front() {
                due.push(name);
            }
        }
        (frame, due)
    }
}

/// The longest a call plays out the worker's last audio after the worker ended it.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

fn text(value: serde_json::Value) -> Message {
    Message::Text(value.to_string().into())
}

/// Runs the call's media until one side ends it. `parameters` reach the worker's `start`.
pub async fn bridge(
    sockets: crate::ports::Pair,
    config: LegConfig,
    media_url: &str,
    parameters: serde_json::Value,
    hang_up: impl std::future::Future<Output = ()> + Send + 'static,
) -> (Ended, MediaStats) {
    let mut stats = MediaStats::default();
    let worker = match tokio_tungstenite::connect_async_with_config(media_url, None, true).await {
        Ok((worker, _)) => worker,
        Err(error) => return (Ended::WorkerLost(error.to_string()), stats),
    };
    let (mut to_worker, mut from_worker) = worker.split();
    let start = serde_json::json!({"type": "start", "sample_rate": 8000, "parameters": parameters});
    if let Err(error) = to_worker.send(text(start)).await {
        return (Ended::WorkerLost(error.to_string()), stats);
    }
    let socket = Arc::new(sockets.rtp);
    let rtcp = Arc::new(sockets.rtcp);
    let (events, mut rx) = mpsc::channel::<Event>(256);
    let mut tasks = tokio::task::JoinSet::new();
    {
        let (rtcp, events) = (rtcp.clone(), events.clone());
        tasks.spawn(async move {
            let mut buffer = vec![0u8; 1500];
            while let Ok((n, from)) = rtcp.recv_from(&mut buffer).await {
                if events
                    .send(Event::Rtcp(buffer[..n].to_vec(), from))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
    {
        let (socket, events) = (socket.clone(), events.clone());
        tasks.spawn(async move {
            let mut buffer = vec![0u8; 2048];
            while let Ok((n, from)) = socket.recv_from(&mut buffer).await {
                if events
                    .send(Event::Rtp(buffer[..n].to_vec(), from))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
    {
        let events = events.clone();
        tasks.spawn(async move {
            while let Some(message) = from_worker.next().await {
                let event = match message {
                    Ok(message) => Event::Worker(message),
                    Err(error) => Event::WorkerGone(Some(error.to_string())),
                };
                if events.send(event).await.is_err() {
                    return;
                }
            }
            let _ = events.send(Event::WorkerGone(None)).await;
        });
    }
    let ptime = Duration::from_millis(u64::from(config.negotiated.ptime_ms));
    {
        let events = events.clone();
        tasks.spawn(async move {
            let mut clock = tokio::time::interval(ptime);
            clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            loop {
                clock.tick().await;
                if events.send(Event::Tick).await.is_err() {
                    return;
                }
            }
        });
    }
    if let Some(mut changes) = config.renegotiated.clone() {
        let events = events.clone();
        tasks.spawn(async move {
            while changes.changed().await.is_ok() {
                let agreed = changes.borrow_and_update().clone();
                if events.send(Event::Renegotiated(agreed)).await.is_err() {
                    return;
                }
            }
        });
    }
    tasks.spawn(async move {
        hang_up.await;
        let _ = events.send(Event::HangUp).await;
    });
    let mut negotiated = config.negotiated.clone();
    let frame_len = negotiated.ptime_ms as usize * PER_MS;
    let started = Instant::now();
    let mut remote = negotiated.remote;
    let mut latched = false;
    let mut last_rtp = Instant::now();
    let mut jitter = JitterBuffer::new(config.jitter_depth, 50);
    let mut keys = KeyReader::default();
    let mut outgoing = Outgoing::default();
    // The keys the bot presses, sent in place of its audio (which waits).
    let mut pressing = crate::dtmf::KeySender::default();
    let ssrc: u32 = rand::random();
    let mut sequence: u16 = rand::random();
    let mut timestamp: u32 = rand::random();
    let mut first_out = true;
    let mut rtcp_remote: Option<SocketAddr> = None;
    let mut caller_ssrc: Option<u32> = None;
    let mut reception = crate::rtcp::Reception::default();
    let mut last_sr: Option<(u32, Instant)> = None;
    let mut octets_out: u32 = 0;
    let mut next_report = Instant::now() + config.rtcp_interval;
    let cname = format!(
        "vox@{}",
        socket
            .local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    );
    // The worker ended the call: what it sent is still played out (its last words), then the
    // call ends, at most `DRAIN_LIMIT` later.
    let mut ending: Option<(Ended, Instant)> = None;
    // What the phone agreed, read directly when its RTP outruns the event that says so.
    let agreement = config.renegotiated.clone();
    // Events taken again, in order, before the next one is received.
    let mut replay: Vec<Event> = Vec::new();
    let ended = loop {
        let next = match replay.pop() {
            Some(event) => Some(event),
            None => rx.recv().await,
        };
        let Some(event) = next else {
            break ending.map_or(Ended::HungUp, |(end, _)| end);
        };
        match event {
            Event::Rtp(bytes, from) => {
                let Ok(packet) = Packet::parse(&bytes) else {
                    stats.ignored += 1;
                    continue;
                };
                // A phone sends in a new codec as soon as it has answered the re-INVITE, which
                // can be before the new agreement's event is taken here: take it first.
                // Read only for a packet not in the agreed codec: not on every frame.
                let newer = (packet.payload_type != negotiated.payload_type)
                    .then(|| agreement.as_ref().map(|a| a.borrow().clone()))
                    .flatten()
                    .filter(|agreed| agreed.payload_type == packet.payload_type);
                if let Some(agreed) = newer {
                    replay.push(Event::Rtp(bytes, from));
                    replay.push(Event::Renegotiated(agreed));
                    continue;
                }
                if Some(packet.payload_type) == negotiated.telephone_event {
                    if let Some(key) = keys.read(packet.timestamp, &packet.payload) {
                        stats.keys.push(key);
                        let dtmf = serde_json::json!({"type": "dtmf", "digit": key.to_string()});
                        if to_worker.send(text(dtmf)).await.is_err() {
                            break Ended::WorkerLost("the worker's socket closed".into());
                        }
                    }
                } else if packet.payload_type == negotiated.payload_type {
                    let arrival = (started.elapsed().as_millis() as u64 * PER_MS as u64) as u32;
                    jitter.push(packet.sequence, packet.timestamp, arrival, packet.payload);
                } else {
                    stats.ignored += 1;
                    continue;
                }
                stats.rtp_in += 1;
                caller_ssrc = Some(packet.ssrc);
                last_rtp = Instant::now();
                if !latched {
                    // Symmetric RTP: answer where the phone really sends from (NAT).
                    latched = true;
                    if from != remote {
                        tracing::debug!(%from, sdp = %remote, "RTP comes from elsewhere than the SDP said; replying there");
                        remote = from;
                    }
                }
            }
            Event::Rtcp(bytes, from) => {
                let Ok(reports) = crate::rtcp::parse(&bytes) else {
                    stats.ignored += 1;
                    continue;
                };
                rtcp_remote = Some(from);
                for report in reports {
                    if let Some(sender) = report.sender {
                        // The middle 32 bits of its NTP time, echoed in our next block.
                        last_sr = Some(((sender.ntp >> 16) as u32, Instant::now()));
                    }
                    if let Some(block) = report.blocks.iter().find(|b| b.ssrc == ssrc) {
                        stats.peer_lost = Some(block.cumulative_lost);
                        stats.peer_jitter = Some(block.jitter);
                    }
                }
            }
            Event::Worker(Message::Binary(bytes)) => {
                outgoing.queue(
                    bytes
                        .chunks_exact(2)
                        .map(|pair| i16::from_le_bytes([pair[0], pair[1]])),
                );
            }
            Event::Worker(Message::Text(body)) => {
                let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                match value.get("type").and_then(serde_json::Value::as_str) {
                    Some("mark") => outgoing.mark(
                        value
                            .get("name")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    ),
                    Some("clear") => outgoing.clear(),
                    Some("dtmf") => {
                        let digits = value
                            .get("digits")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default();
                        if negotiated.telephone_event.is_some() {
                            pressing.push(digits);
                        } else {
                            tracing::warn!(
                                digits,
                                "the phone takes no telephone-events: the bot's keys are not sent"
                            );
                        }
                    }
                    Some("end") => {
                        let reason = value
                            .get("reason")
                            .and_then(serde_json::Value::as_str)
                            .map(str::to_owned);
                        if outgoing.samples.is_empty() {
                            break Ended::Worker(reason);
                        }
                        ending = Some((Ended::Worker(reason), Instant::now() + DRAIN_LIMIT));
                    }
                    _ => {}
                }
            }
            Event::Worker(Message::Close(_)) | Event::WorkerGone(None) => {
                if let Some((end, _)) = ending.take_if(|_| outgoing.samples.is_empty()) {
                    break end;
                }
                if ending.is_none() {
                    if outgoing.samples.is_empty() {
                        break Ended::Worker(None);
                    }
                    ending = Some((Ended::Worker(None), Instant::now() + DRAIN_LIMIT));
                }
            }
            // A socket that fails once the worker has said `end` changes nothing.
            Event::WorkerGone(Some(_)) if ending.is_some() => {}
            Event::WorkerGone(Some(error)) => break Ended::WorkerLost(error),
            Event::Worker(_) => {}
            Event::Tick => {
                // A phone that agreed to send nothing (held `inactive`) is not silent.
                if negotiated.direction.receives() && last_rtp.elapsed() >= config.rtp_timeout {
                    break Ended::RtpTimeout;
                }
                // The caller's next frame to the worker: a lost one is silence.
                let samples = match jitter.pop() {
                    Frame::Audio(payload) => Some(negotiated.codec.decode(&payload)),
                    Frame::Lost => Some(vec![0; frame_len]),
                    Frame::Filling => None,
                };
                if let Some(samples) = samples.filter(|_| ending.is_none()) {
                    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
                    if to_worker.send(Message::Binary(bytes.into())).await.is_err() {
                        break Ended::WorkerLost("the worker's socket closed".into());
                    }
                }
                // The bot's next frame to the phone, when the phone may hear it.
                // A key the bot presses goes in place of its audio, which waits.
                let key = negotiated
                    .telephone_event
                    .and_then(|pt| Some((pt, pressing.next(timestamp, frame_len as u16)?)));
                let (frame, due) = match key {
                    Some(_) => (Vec::new(), Vec::new()),
                    None => outgoing.frame(frame_len),
                };
                if negotiated.direction.sends() {
                    let packet = match key {
                        Some((payload_type, key)) => Packet {
                            marker: key.first,
                            payload_type,
                            sequence,
                            timestamp: key.timestamp,
                            ssrc,
                            payload: key.payload.to_vec(),
                        },
                        None => Packet {
                            marker: std::mem::take(&mut first_out),
                            payload_type: negotiated.payload_type,
                            sequence,
                            timestamp,
                            ssrc,
                            payload: negotiated.codec.encode(&frame),
                        },
                    };
                    if socket.send_to(&packet.to_bytes(), remote).await.is_ok() {
                        stats.rtp_out += 1;
                        octets_out = octets_out.wrapping_add(packet.payload.len() as u32);
                    }
                }
                sequence = sequence.wrapping_add(1);
                timestamp = timestamp.wrapping_add(frame_len as u32);
                if let Some((end, _)) = ending
                    .take_if(|(_, limit)| outgoing.samples.is_empty() || Instant::now() >= *limit)
                {
                    break end;
                }
                for name in due {
                    let mark = serde_json::json!({"type": "mark", "name": name});
                    if to_worker.send(text(mark)).await.is_err() {
                        break;
                    }
                }
                if Instant::now() >= next_report {
                    next_report += config.rtcp_interval;
                    let mut blocks = Vec::new();
                    if let (Some((first, highest)), Some(source)) = (jitter.span(), caller_ssrc) {
                        let mut block = reception.block(
                            source,
                            first,
                            highest,
                            jitter.stats().received,
                            jitter.jitter(),
                        );
                        if let Some((middle, at)) = last_sr {
                            block.last_sr = middle;
                            block.delay_since_last_sr =
                                (at.elapsed().as_secs_f64() * 65_536.0) as u32;
                        }
                        blocks.push(block);
                    }
                    let sender = crate::rtcp::SenderInfo {
                        ntp: crate::rtcp::ntp_now(),
                        rtp_timestamp: timestamp,
                        packets: stats.rtp_out as u32,
                        octets: octets_out,
                    };
                    let report = crate::rtcp::compound(ssrc, Some(sender), &blocks, &cname);
                    let to = rtcp_remote.unwrap_or_else(|| {
                        SocketAddr::new(remote.ip(), remote.port().wrapping_add(1))
                    });
                    if rtcp.send_to(&report, to).await.is_ok() {
                        stats.rtcp_out += 1;
                    }
                }
            }
            Event::Renegotiated(agreed) => {
                if agreed.codec != negotiated.codec {
                    tracing::info!(
                        from = negotiated.codec.name(),
                        to = agreed.codec.name(),
                        "the call changes codec"
                    );
                    // What is buffered is in the old codec.
                    jitter = JitterBuffer::new(config.jitter_depth, 50);
                }
                if !latched {
                    remote = agreed.remote;
                }
                // Its silence is counted from the new agreement (a resumed call).
                last_rtp = Instant::now();
                // The packet time (and so the clock) stays as first agreed.
                negotiated = Negotiated {
                    ptime_ms: negotiated.ptime_ms,
                    ..agreed
                };
            }
            Event::HangUp => {
                let _ = to_worker
                    .send(text(serde_json::json!({"type": "hangup"})))
                    .await;
                break Ended::HungUp;
            }
        }
    };
    tasks.abort_all();
    let _ = to_worker.close().await;
    let counted = jitter.stats();
    stats.lost = counted.lost;
    stats.late = counted.late;
    stats.jitter_ms = jitter.jitter() / PER_MS as u32;
    (ended, stats)
}
