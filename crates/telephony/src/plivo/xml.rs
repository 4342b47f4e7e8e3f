//! Plivo XML answers: stream the call to a worker, speak a message and hang up, dial a transfer.
//!
//! References: <https://www.plivo.com/docs/voice/xml/audio-streaming> (`<Stream>`, its URL as
//! the element's text; `bidirectional="true"` lets the app play audio back; `keepCallAlive="true"`
//! holds the call on the stream until the socket closes; `contentType` `audio/x-mulaw;rate=8000`,
//! the worker's Plivo protocol), <https://www.plivo.com/docs/voice/xml/speak>,
//! <https://www.plivo.com/docs/voice/xml/hangup>, <https://www.plivo.com/docs/voice/xml/dial>
//! (`<Dial callerId>` with a `<Number>`).

use crate::xml::{escape, response};

/// The MIME type of a Plivo XML answer.
pub const CONTENT_TYPE: &str = "application/xml";

/// Streams the call's audio both ways to the WebSocket at `url`, in μ-law at 8 kHz, for as long
/// as the socket stays open; the call ends with it. `headers` reach the stream's `start` as
/// `extra_headers` (`extraHeaders`, `name=value` pairs separated by commas).
pub fn stream(url: &str, headers: &[(&str, &str)]) -> String {
    let extra = if headers.is_empty() {
        String::new()
    } else {
        let pairs: Vec<String> = headers.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(" extraHeaders=\"{}\"", escape(&pairs.join(",")))
    };
    response(&format!(
        "<Stream bidirectional=\"true\" keepCallAlive=\"true\" \
         contentType=\"audio/x-mulaw;rate=8000\"{extra}>{}</Stream>",
        escape(url)
    ))
}

/// Speaks `message` (nothing when empty) and hangs up.
pub fn speak_and_hang_up(message: &str) -> String {
    let speak = if message.trim().is_empty() {
        String::new()
    } else {
        format!("<Speak>{}</Speak>", escape(message))
    };
    response(&format!("{speak}<Hangup/>"))
}

/// Moves the caller to `number`, showing `caller_id` when given.
pub fn dial(number: &str, caller_id: Option<&str>) -> String {
    let caller = caller_id
        .map(|id| format!(" callerId=\"{}\"", escape(id)))
        .unwrap_or_default();
    response(&format!(
        "<Dial{caller}><Number>{}</Number></Dial>",
        escape(number)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_plivo_xml_with_their_values_escaped() {
        assert_eq!(
            stream("wss://w/ws/plivo/t?a=1&b=2", &[]),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Stream bidirectional=\"true\" \
             keepCallAlive=\"true\" contentType=\"audio/x-mulaw;rate=8000\">\
             wss://w/ws/plivo/t?a=1&amp;b=2</Stream></Response>"
        );
        assert!(
            stream("wss://w", &[("call_id", "7"), ("x", "y")])
                .contains("audio/x-mulaw;rate=8000\" extraHeaders=\"call_id=7,x=y\">wss://w<")
        );
        assert!(
            speak_and_hang_up("Sorry <all> & bye")
                .contains("<Speak>Sorry &lt;all&gt; &amp; bye</Speak><Hangup/>")
        );
        assert!(speak_and_hang_up(" ").ends_with("<Response><Hangup/></Response>"));
        assert!(
            dial("+14155550100", Some("+14155550199"))
                .contains("<Dial callerId=\"+14155550199\"><Number>+14155550100</Number></Dial>")
        );
    }
}
