//! NCCOs (Call Control Objects) the edge answers Vonage with: stream, talk, connect a number.
//!
//! Reference: <https://developer.vonage.com/en/voice/voice-api/ncco-reference>: an NCCO is a JSON
//! array of actions run in order, and the call ends after the last. `connect` to a `websocket`
//! endpoint (`uri`, `content-type` `audio/l16;rate=16000`, `headers` passed on in the socket's
//! first message) streams the call both ways for as long as the socket stays open, the worker's
//! Vonage protocol; `talk` speaks `text`; `connect` to a `phone` endpoint moves the caller to a
//! number, `from` the caller ID (digits without `+`).

use serde_json::{Map, Value, json};

/// The MIME type of an NCCO.
pub const CONTENT_TYPE: &str = "application/json";

/// The audio the worker takes: 16-bit linear PCM at 16 kHz.
pub const AUDIO: &str = "audio/l16;rate=16000";

/// Streams the call both ways to the WebSocket at `uri`; `headers` reach its first message.
pub fn stream(uri: &str, headers: &[(&str, &str)]) -> Value {
    let headers: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect();
    json!([{
        "action": "connect",
        "endpoint": [{"type": "websocket", "uri": uri, "content-type": AUDIO, "headers": headers}],
    }])
}

/// Speaks `message` (nothing when empty), after which the call ends.
pub fn talk_and_hang_up(message: &str) -> Value {
    if message.trim().is_empty() {
        json!([])
    } else {
        json!([{"action": "talk", "text": message, "language": "en-US"}])
    }
}

/// Moves the caller to `number`, showing `caller_id` when given.
pub fn connect_number(number: &str, caller_id: Option<&str>) -> Value {
    let mut connect = json!({
        "action": "connect",
        "endpoint": [{"type": "phone", "number": crate::number::digits(number)}],
    });
    if let Some(from) = caller_id {
        connect["from"] = json!(crate::number::digits(from));
    }
    json!([connect])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nccos_are_the_actions_the_reference_names() {
        let ncco = stream("wss://w/ws/vonage/t", &[("call_id", "7")]);
        assert_eq!(ncco[0]["action"], "connect");
        assert_eq!(ncco[0]["endpoint"][0]["type"], "websocket");
        assert_eq!(
            ncco[0]["endpoint"][0]["content-type"],
            "audio/l16;rate=16000"
        );
        assert_eq!(ncco[0]["endpoint"][0]["headers"]["call_id"], "7");
        assert_eq!(talk_and_hang_up("Bye")[0]["text"], "Bye");
        assert_eq!(talk_and_hang_up(" "), json!([]));
        let moved = connect_number("+14155550100", Some("+14155550199"));
        assert_eq!(moved[0]["endpoint"][0]["number"], "14155550100");
        assert_eq!(moved[0]["from"], "14155550199");
    }
}
