//! Plivo XML elements the Plivo emulator follows: `<Stream>`, `<Speak>`, `<Hangup/>`, `<Dial>`.
//!
//! References: <https://www.plivo.com/docs/voice/xml/audio-streaming> (the stream's URL is the
//! element's text; `extraHeaders` reach the stream's `start`), <https://www.plivo.com/docs/voice/xml/speak>,
//! <https://www.plivo.com/docs/voice/xml/hangup>, <https://www.plivo.com/docs/voice/xml/dial>
//! (`<Dial>` with `<Number>`s). Elements run in document order; one this emulator does not
//! follow is an error, and Plivo ends a call whose XML it cannot run.

use crate::xml::{attribute, children, unescape};

/// One element of a Plivo XML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    /// `<Stream>url</Stream>`: a bidirectional audio stream with its `extraHeaders`.
    Stream {
        url: String,
        extra_headers: String,
    },
    Speak(String),
    Hangup,
    /// `<Dial><Number>number</Number></Dial>`: the caller is connected to `number`.
    Dial(String),
}

/// A document the emulator cannot follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Plivo XML: {0}")]
pub struct XmlError(pub String);

/// The elements of `doc`, in order.
pub fn parse(doc: &str) -> Result<Vec<Element>, XmlError> {
    let mut elements = Vec::new();
    for child in children(doc).map_err(XmlError)? {
        elements.push(match child.name.as_str() {
            "Speak" => Element::Speak(unescape(child.inner.trim())),
            "Hangup" => Element::Hangup,
            "Stream" => {
                if attribute(child.tag, "bidirectional").as_deref() != Some("true") {
                    return Err(XmlError(
                        "a <Stream> the bot can speak on needs bidirectional=\"true\"".into(),
                    ));
                }
                Element::Stream {
                    url: unescape(child.inner.trim()),
                    extra_headers: attribute(child.tag, "extraHeaders").unwrap_or_default(),
                }
            }
            "Dial" => {
                let start = child
                    .inner
                    .find("<Number>")
                    .ok_or_else(|| XmlError("<Dial> without <Number>".into()))?
                    + "<Number>".len();
                let end = child.inner[start..]
                    .find("</Number>")
                    .ok_or_else(|| XmlError("<Number> is not closed".into()))?;
                Element::Dial(unescape(child.inner[start..start + end].trim()))
            }
            other => {
                return Err(XmlError(format!(
                    "<{other}> is not an element this emulator follows"
                )));
            }
        });
    }
    Ok(elements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_elements_vox_answers_with_are_read_in_order() {
        let stream = telephony::plivo::xml::stream("wss://w/ws?a=1&b=2", &[("call_id", "7")]);
        assert_eq!(
            parse(&stream).unwrap(),
            vec![Element::Stream {
                url: "wss://w/ws?a=1&b=2".into(),
                extra_headers: "call_id=7".into()
            }]
        );
        let farewell = telephony::plivo::xml::speak_and_hang_up("Bye & thanks");
        assert_eq!(
            parse(&farewell).unwrap(),
            vec![Element::Speak("Bye & thanks".into()), Element::Hangup]
        );
        let dial = telephony::plivo::xml::dial("+14155550100", Some("+14155550199"));
        assert_eq!(
            parse(&dial).unwrap(),
            vec![Element::Dial("+14155550100".into())]
        );
        assert!(parse("<Response><Play>x</Play></Response>").is_err());
        assert!(parse("<Response><Stream>wss://w</Stream></Response>").is_err());
    }
}
