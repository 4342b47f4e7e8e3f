//! Opening a call's media.
//!
//! The carrier's serializer for the attach's protocol, and its start message (or the first audio on
//! `vox`).

use super::Failure;
use crate::media::{self, Inbound, MediaError, Protocol, WsMessage};
use audio::SampleRate;
use axum::extract::ws::{Message, WebSocket};
use contracts::CallOutcomeCode;
use contracts::attach::{AttachRequest, MediaProtocol};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::time::Instant;

/// How long a carrier has to send its start message once the socket is open.
const START_TIMEOUT: Duration = Duration::from_secs(10);

fn to_ws(message: WsMessage) -> Message {
    match message {
        WsMessage::Text(text) => Message::Text(text.into()),
        WsMessage::Binary(bytes) => Message::Binary(bytes.into()),
    }
}

pub(crate) fn from_ws(message: Message) -> Option<WsMessage> {
    match message {
        Message::Text(text) => Some(WsMessage::Text(text.to_string())),
        Message::Binary(bytes) => Some(WsMessage::Binary(bytes.to_vec())),
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) => None,
    }
}

/// How far ahead of the call's clock the caller's audio may run (network bursts after a stall).
const AUDIO_AHEAD: Duration = Duration::from_secs(5);

/// Why `samples` of caller audio in `elapsed` of call are more than a carrier sends as it is
/// spoken; `None` when they are not. A media-token holder pushing gigabytes would otherwise fill
/// the recorder and the pipeline's queues (M7).
pub(crate) fn faster_than_real_time(
    samples: u64,
    rate: SampleRate,
    elapsed: Duration,
) -> Option<String> {
    let rate = u64::from(rate.hz());
    let allowed = (elapsed + AUDIO_AHEAD).as_millis() as u64 * rate / 1000;
    (samples > allowed).then(|| {
        format!(
            "audio faster than real time: {} ms of audio in {} ms",
            samples * 1000 / rate,
            elapsed.as_millis()
        )
    })
}

/// How long a frame's messages may wait for the peer to read: a peer that stops reading (its
/// socket's buffers full) ends its call instead of holding the worker's loop, and
/// `max_duration`, forever.
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends the messages in turn; false when the socket failed or the peer stopped reading. One
/// deadline covers the batch (a frame's few messages), not one timer per message.
pub(crate) async fn send_all<S>(socket: &mut S, messages: Vec<WsMessage>) -> bool
where
    S: futures_util::Sink<Message> + Unpin,
{
    use futures_util::SinkExt;
    let sent = async {
        for message in messages {
            socket.send(to_ws(message)).await.map_err(|_| ())?;
        }
        Ok::<(), ()>(())
    };
    matches!(tokio::time::timeout(SEND_TIMEOUT, sent).await, Ok(Ok(())))
}

/// A call's media once the stream has started.
pub(super) struct Media {
    pub socket: WebSocket,
    pub protocol: Box<dyn Protocol>,
    /// The caller's audio rate on the wire, which the pipeline and the recording use too.
    pub rate: SampleRate,
    /// Caller audio that came with or before the start.
    pub early_audio: Vec<i16>,
}

impl Media {
    /// Says goodbye in the protocol's terms and closes the socket (the carrier ends the leg).
    pub async fn hang_up(&mut self, reason: &str) {
        if send_all(&mut self.socket, self.protocol.hangup(reason)).await {
            let close = self.socket.send(Message::Close(None));
            let _ = tokio::time::timeout(SEND_TIMEOUT, close).await;
        }
    }
}

/// The serializer for the attach's protocol, then the stream's start; a failure has hung up.
pub(super) async fn open(request: &AttachRequest, mut socket: WebSocket) -> Result<Media, Failure> {
    let default_rate = if request.media_protocol == MediaProtocol::Vox {
        SampleRate::Hz16000
    } else {
        SampleRate::Hz8000
    };
    let protocol = match media::for_protocol(request.media_protocol, default_rate) {
        Ok(protocol) => protocol,
        Err(error) => {
            let _ = socket.send(Message::Close(None)).await;
            return Err(Failure {
                outcome: CallOutcomeCode::MediaProtocolError,
                detail: error.to_string(),
            });
        }
    };
    let mut media = Media {
        socket,
        protocol,
        rate: default_rate,
        early_audio: Vec::new(),
    };
    match await_start(&mut media).await {
        Ok(rate) => {
            media.rate = rate;
            Ok(media)
        }
        Err(failure) => {
            media.hang_up(&failure.detail).await;
            Err(failure)
        }
    }
}

/// Reads carrier messages until the stream's start; audio that comes first is kept.
async fn await_start(media: &mut Media) -> Result<SampleRate, Failure> {
    let media_failure = |e: MediaError| Failure {
        outcome: CallOutcomeCode::MediaProtocolError,
        detail: e.to_string(),
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let message = tokio::time::timeout_at(deadline, media.socket.next())
            .await
            .map_err(|_| Failure {
                outcome: CallOutcomeCode::MediaProtocolError,
                detail: format!("no start message within {START_TIMEOUT:?}"),
            })?;
        let Some(Ok(message)) = message else {
            return Err(Failure {
                outcome: CallOutcomeCode::CallCallerHangup,
                detail: "the media socket closed before the stream started".into(),
            });
        };
        let Some(message) = from_ws(message) else {
            continue;
        };
        match media.protocol.parse(message).map_err(media_failure)? {
            Inbound::Start(start) => return Ok(start.rate),
            // `vox` has no start message: its first audio starts the stream.
            Inbound::Audio(samples) if media.protocol.kind() == MediaProtocol::Vox => {
                media.early_audio.extend(samples);
                return Ok(media.protocol.rate());
            }
            Inbound::Audio(_) => {
                return Err(media_failure(MediaError::new(
                    media.protocol.name(),
                    "audio before the start message",
                )));
            }
            Inbound::Stop => {
                return Err(Failure {
                    outcome: CallOutcomeCode::CallCallerHangup,
                    detail: "the carrier stopped the stream before it started".into(),
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A peer that never reads: the sink is never ready.
    struct Stuck;

    impl futures_util::Sink<Message> for Stuck {
        type Error = ();
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Pending
        }
        fn start_send(self: Pin<&mut Self>, _: Message) -> Result<(), ()> {
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Pending
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Pending
        }
    }

    #[test]
    fn audio_may_run_five_seconds_ahead_of_the_call_and_no_more() {
        let rate = SampleRate::Hz8000;
        let second = 8_000;
        assert_eq!(
            faster_than_real_time(6 * second, rate, Duration::from_secs(1)),
            None
        );
        let refused = faster_than_real_time(6 * second + 1, rate, Duration::from_secs(1));
        assert!(refused.unwrap().contains("6000 ms of audio in 1000 ms"));
        assert_eq!(
            faster_than_real_time(65 * second, rate, Duration::from_secs(60)),
            None
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_stops_reading_fails_the_send_after_the_timeout() {
        let start = Instant::now();
        let sent = send_all(&mut Stuck, vec![WsMessage::Binary(vec![0; 640])]).await;
        assert!(!sent);
        assert_eq!(start.elapsed(), SEND_TIMEOUT);
    }
}
