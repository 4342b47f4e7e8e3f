//! The small XML reader the carrier emulators follow answer documents with (TwiML, Plivo XML).
//!
//! Answer documents are flat: a `<Response>` whose children are verbs, each with attributes and
//! text or a few nested elements. This reads exactly that; a document it cannot read is an error
//! the emulator reports as its carrier does.

/// Undoes XML's five escapes.
pub(crate) fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// An attribute's value in a tag's text (`name="value"`).
pub(crate) fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The opening tag and inner text of the `<{name}…>` element at `from`, and where it ends.
pub(crate) fn element<'a>(
    doc: &'a str,
    from: usize,
    name: &str,
) -> Result<(&'a str, &'a str, usize), String> {
    let open_end = doc[from..]
        .find('>')
        .map(|i| from + i)
        .ok_or_else(|| format!("<{name}> is not closed"))?;
    let open = &doc[from..=open_end];
    if open.ends_with("/>") {
        return Ok((open, "", open_end + 1));
    }
    let close = format!("</{name}>");
    let inner_end = doc[open_end + 1..]
        .find(&close)
        .map(|i| open_end + 1 + i)
        .ok_or_else(|| format!("<{name}> has no {close}"))?;
    Ok((open, &doc[open_end + 1..inner_end], inner_end + close.len()))
}

/// One child of `<Response>`: its name, opening tag and inner text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Child<'a> {
    pub name: String,
    pub tag: &'a str,
    pub inner: &'a str,
}

/// The children of `doc`'s `<Response>`, in order.
pub(crate) fn children(doc: &str) -> Result<Vec<Child<'_>>, String> {
    let body_start = doc.find("<Response>").ok_or("no <Response>")? + "<Response>".len();
    let body_end = doc.rfind("</Response>").ok_or("no </Response>")?;
    let body = &doc[body_start..body_end];
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = body[at..].find('<') {
        let start = at + offset;
        let name: String = body[start + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let (tag, inner, end) = element(body, start, &name)?;
        found.push(Child { name, tag, inner });
        at = end;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_children_come_back_in_order_with_their_attributes_unescaped() {
        let doc = "<?xml version=\"1.0\"?><Response><Speak voice=\"WOMAN\">Hi &amp; bye</Speak>\
                   <Hangup/></Response>";
        let found = children(doc).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].name.as_str(), found[0].inner),
            ("Speak", "Hi &amp; bye")
        );
        assert_eq!(attribute(found[0].tag, "voice").as_deref(), Some("WOMAN"));
        assert_eq!(attribute(found[0].tag, "oice"), None);
        assert_eq!(unescape(found[0].inner), "Hi & bye");
        assert_eq!(found[1].name, "Hangup");
        assert!(children("<Response><Speak>x</Response>").is_err());
        assert!(children("nothing").is_err());
    }
}
