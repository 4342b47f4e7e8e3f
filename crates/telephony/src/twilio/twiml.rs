//! TwiML answers: stream the call to a worker, say a message and hang up, dial a transfer target.
//!
//! References: <https://www.twilio.com/docs/voice/twiml/stream> (`<Connect><Stream>` is
//! bidirectional; `<Parameter>` values arrive in the stream's `start.customParameters`),
//! <https://www.twilio.com/docs/voice/twiml/say>, <https://www.twilio.com/docs/voice/twiml/dial>.

use crate::xml::{escape, response};

/// The MIME type of a TwiML answer.
pub const CONTENT_TYPE: &str = "application/xml";

/// Connects the call's audio both ways to the WebSocket at `url`, with custom parameters.
pub fn connect_stream(url: &str, parameters: &[(&str, &str)]) -> String {
    let parameters: String = parameters
        .iter()
        .map(|(name, value)| {
            format!(
                "<Parameter name=\"{}\" value=\"{}\"/>",
                escape(name),
                escape(value)
            )
        })
        .collect();
    response(&format!(
        "<Connect><Stream url=\"{}\">{parameters}</Stream></Connect>",
        escape(url)
    ))
}

/// Says `message` (nothing when empty) and hangs up.
pub fn say_and_hang_up(message: &str) -> String {
    let say = if message.trim().is_empty() {
        String::new()
    } else {
        format!("<Say>{}</Say>", escape(message))
    };
    response(&format!("{say}<Hangup/>"))
}

/// Moves the caller to `number`, showing `caller_id` when given.
pub fn dial(number: &str, caller_id: Option<&str>) -> String {
    let caller = caller_id
        .map(|id| format!(" callerId=\"{}\"", escape(id)))
        .unwrap_or_default();
    response(&format!("<Dial{caller}>{}</Dial>", escape(number)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_twiml_with_their_values_escaped() {
        assert_eq!(
            connect_stream("wss://w/ws/twilio/t?a=1&b=2", &[("call_id", "7")]),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Connect>\
             <Stream url=\"wss://w/ws/twilio/t?a=1&amp;b=2\"><Parameter name=\"call_id\" value=\"7\"/>\
             </Stream></Connect></Response>"
        );
        assert!(
            say_and_hang_up("Sorry <all> & bye")
                .contains("<Say>Sorry &lt;all&gt; &amp; bye</Say><Hangup/>")
        );
        assert!(say_and_hang_up(" ").ends_with("<Response><Hangup/></Response>"));
        assert!(
            dial("+14155550100", Some("+14155550199"))
                .contains("<Dial callerId=\"+14155550199\">+14155550100</Dial>")
        );
    }
}
