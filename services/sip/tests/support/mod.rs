//! What the gateway's tests share: a worker's media socket speaking vox's protocol.

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
