//! What the gateway's tests share: a worker's media socket speaking vox's protocol, an edge's ear.

// Each test binary uses a part of it.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// What the fake worker heard: its text messages and how many samples of audio.
#[derive(Debug, Default)]
pub struct Heard {
    pub texts: Vec<Value>,
    pub samples: usize,
    pub loud_samples: usize,
}

/// A worker's media socket: on `start` it sends `bot` samples of audio and a mark, then ends
/// with `end` after `end_after` if given.
pub async fn worker(
    bot: usize,
    end_after: Option<Duration>,
) -> (String, Arc<Mutex<Heard>>, tokio::task::JoinHandle<()>) {
    worker_pressing(bot, end_after, None).await
}

/// `worker`, whose bot presses `keys` (a `dtmf` message) after its audio.
pub async fn worker_pressing(
    bot: usize,
    end_after: Option<Duration>,
    keys: Option<&'static str>,
) -> (String, Arc<Mutex<Heard>>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws/vox/token", listener.local_addr().unwrap());
    let heard = Arc::new(Mutex::new(Heard::default()));
    let log = heard.clone();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let socket = tokio_tungstenite::accept_async(stream).await.unwrap();
        let (mut tx, mut rx) = socket.split();
        let ending = async move {
            match end_after {
                Some(after) => tokio::time::sleep(after).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(ending);
        loop {
            tokio::select! {
                message = rx.next() => match message {
                    Some(Ok(Message::Text(body))) => {
                        let value: Value = serde_json::from_str(&body).unwrap();
                        if value["type"] == "start" {
                            let audio: Vec<u8> = std::iter::repeat_n(2000i16, bot)
                                .flat_map(|s| s.to_le_bytes())
                                .collect();
                            tx.send(Message::Binary(audio.into())).await.unwrap();
                            let mark = json!({"type": "mark", "name": "greeting"});
                            tx.send(Message::Text(mark.to_string().into())).await.unwrap();
                            if let Some(keys) = keys {
                                let press = json!({"type": "dtmf", "digits": keys});
                                tx.send(Message::Text(press.to_string().into())).await.unwrap();
                            }
                        }
                        log.lock().texts.push(value);
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        let mut heard = log.lock();
                        heard.samples += bytes.len() / 2;
                        heard.loud_samples += bytes
                            .chunks_exact(2)
                            .filter(|p| i16::from_le_bytes([p[0], p[1]]).abs() > 500)
                            .count();
                    }
                    _ => return,
                },
                () = &mut ending => {
                    let end = json!({"type": "end", "reason": "the bot hung up"});
                    let _ = tx.send(Message::Text(end.to_string().into())).await;
                    let _ = tx.close().await;
                    return;
                }
            }
        }
    });
    (url, heard, task)
}

/// The telephony edge's part for calls vox places: notes the progress and each transfer's
/// NOTIFYs, gives an answered call a worker that sends `bot` samples and ends the call after
/// `end_after` (never, when `None`).
pub struct Edge {
    pub progress: Mutex<Vec<sip::outbound::Progress>>,
    pub ended: Mutex<Vec<sip::media::Ended>>,
    pub transfers: Mutex<Vec<(u16, bool)>>,
    pub end_after: Option<Duration>,
}

impl Default for Edge {
    fn default() -> Self {
        Self {
            progress: Mutex::default(),
            ended: Mutex::default(),
            transfers: Mutex::default(),
            end_after: Some(Duration::from_millis(600)),
        }
    }
}

#[async_trait::async_trait]
impl sip::outbound::Outbound for Edge {
    async fn progress(&self, _: &sip::outbound::Dial, _: &str, progress: sip::outbound::Progress) {
        self.progress.lock().push(progress);
    }

    async fn answered(
        &self,
        _: &sip::outbound::Dial,
        _: &str,
    ) -> Result<sip::gateway::Routed, sip::gateway::Refusal> {
        let (media_url, _, _) = worker(1600, self.end_after).await;
        Ok(sip::gateway::Routed {
            media_url,
            parameters: json!({}),
        })
    }

    async fn ended(
        &self,
        _: &sip::outbound::Dial,
        _: &str,
        ended: &sip::media::Ended,
        _: &sip::media::MediaStats,
    ) {
        self.ended.lock().push(ended.clone());
    }
}

#[async_trait::async_trait]
impl sip::control::Transfers for Edge {
    async fn progress(&self, _: &str, code: u16, _: &str, last: bool) {
        self.transfers.lock().push((code, last));
    }
}

/// Inbound calls are not part of the outbound tests: each is refused 404.
pub struct NoInbound;

#[async_trait::async_trait]
impl sip::gateway::Router for NoInbound {
    async fn route(
        &self,
        _: &sip::gateway::IncomingCall,
    ) -> Result<sip::gateway::Routed, sip::gateway::Refusal> {
        Err(sip::gateway::Refusal {
            code: 404,
            reason: "no inbound call expected".into(),
        })
    }

    async fn ended(
        &self,
        _: &sip::gateway::IncomingCall,
        _: &sip::media::Ended,
        _: &sip::media::MediaStats,
    ) {
    }
}

/// Routes every call to a fresh worker socket (the bot says a greeting, then listens), noting
/// each call and how it ended.
#[derive(Default)]
pub struct Workers {
    pub calls: Mutex<Vec<sip::gateway::IncomingCall>>,
    pub ended: Mutex<Vec<sip::media::Ended>>,
}

#[async_trait::async_trait]
impl sip::gateway::Router for Workers {
    async fn route(
        &self,
        call: &sip::gateway::IncomingCall,
    ) -> Result<sip::gateway::Routed, sip::gateway::Refusal> {
        self.calls.lock().push(call.clone());
        let (media_url, _, _) = worker(1600, None).await;
        Ok(sip::gateway::Routed {
            media_url,
            parameters: json!({}),
        })
    }

    async fn ended(
        &self,
        _: &sip::gateway::IncomingCall,
        ended: &sip::media::Ended,
        _: &sip::media::MediaStats,
    ) {
        self.ended.lock().push(ended.clone());
    }
}
