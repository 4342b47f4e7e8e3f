//! TwiML verbs the Twilio emulator follows: `<Connect><Stream>`, `<Say>`, `<Hangup/>`, `<Dial>`.
//!
//! References: <https://www.twilio.com/docs/voice/twiml>, <https://www.twilio.com/docs/voice/twiml/stream>,
//! <https://www.twilio.com/docs/voice/twiml/say>, <https://www.twilio.com/docs/voice/twiml/dial>.
//! Verbs run in document order; an unknown verb is an error, as Twilio reports it (12100).

use crate::xml::{attribute, children, element, unescape};
use serde_json::{Map, Value};

/// One verb of a TwiML document.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    /// `<Connect><Stream url>` with its `<Parameter>`s: a bidirectional media stream.
    Stream {
        url: String,
        parameters: Map<String, Value>,
    },
    Say(String),
    Hangup,
    /// `<Dial>number</Dial>`: the caller is moved to `number`.
    Dial(String),
}

/// A document the emulator cannot follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TwiML parser error (12100): {0}")]
pub struct TwimlError(pub String);

/// The verbs of `doc`, in order.
pub fn parse(doc: &str) -> Result<Vec<Verb>, TwimlError> {
    let mut verbs = Vec::new();
    for child in children(doc).map_err(TwimlError)? {
        verbs.push(match child.name.as_str() {
            "Say" => Verb::Say(unescape(child.inner.trim())),
            "Hangup" => Verb::Hangup,
            "Dial" => Verb::Dial(unescape(child.inner.trim())),
            "Connect" => {
                let inner = child.inner;
                let stream_at = inner
                    .find("<Stream")
                    .ok_or_else(|| TwimlError("<Connect> without <Stream>".into()))?;
                let (stream_open, stream_inner, _) =
                    element(inner, stream_at, "Stream").map_err(TwimlError)?;
                let url = attribute(stream_open, "url")
                    .ok_or_else(|| TwimlError("<Stream> without url".into()))?;
                let mut parameters = Map::new();
                let mut p = 0;
                while let Some(i) = stream_inner[p..].find("<Parameter") {
                    let (tag, _, next) =
                        element(stream_inner, p + i, "Parameter").map_err(TwimlError)?;
                    if let (Some(k), Some(v)) = (attribute(tag, "name"), attribute(tag, "value")) {
                        parameters.insert(k, Value::String(v));
                    }
                    p = next;
                }
                Verb::Stream { url, parameters }
            }
            other => {
                return Err(TwimlError(format!(
                    "<{other}> is not a verb this emulator follows"
                )));
            }
        });
    }
    Ok(verbs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verbs_of_a_document_come_back_in_order_with_their_values_unescaped() {
        let doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Connect><Stream url=\"wss://w/ws?a=1&amp;b=2\">\
                   <Parameter name=\"call_id\" value=\"7\"/></Stream></Connect><Say>Bye &amp; thanks</Say><Hangup/></Response>";
        let verbs = parse(doc).unwrap();
        assert_eq!(verbs.len(), 3);
        match &verbs[0] {
            Verb::Stream { url, parameters } => {
                assert_eq!(url, "wss://w/ws?a=1&b=2");
                assert_eq!(parameters["call_id"], "7");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(verbs[1], Verb::Say("Bye & thanks".into()));
        assert_eq!(verbs[2], Verb::Hangup);
        assert_eq!(
            parse("<Response><Dial callerId=\"+1\">+14155550100</Dial></Response>").unwrap(),
            vec![Verb::Dial("+14155550100".into())]
        );
        assert!(parse("<Response><Play>x</Play></Response>").is_err());
        assert!(parse("nothing").is_err());
    }
}
