//! What the carriers' XML answer documents share: text escaped for XML, the `<Response>` wrapper.

/// `text` with XML's five special characters escaped, for element text and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A `<Response>` document holding `body` (Twilio's TwiML and Plivo's XML alike).
pub(crate) fn response(body: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{body}</Response>")
}
