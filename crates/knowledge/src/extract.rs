//! Text out of an uploaded document.
//!
//! Plain text, Markdown (pulldown-cmark's events, markup dropped), HTML (html2text, scripts and
//! styles dropped), PDF (pdf-extract) and DOCX (the paragraphs of `word/document.xml`, read with
//! roxmltree); an unreadable document is an `ExtractError` saying why, never a panic.
//!
//! Compressed parts are unpacked with a cap ([`MAX_UNPACKED_BYTES`]): a DOCX whose XML, or a PDF
//! whose streams, would inflate past it (a decompression bomb) is refused before it is unpacked.

use std::io::Read;

/// The document formats a knowledge base takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
}

/// Why a document gave no text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error(
        "{0:?} is not a format a knowledge base takes (PDF, DOCX, Markdown, HTML or plain text)"
    )]
    Unsupported(String),
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    #[error("the PDF could not be read: {0}")]
    Pdf(String),
    #[error("the DOCX could not be read: {0}")]
    Docx(String),
    #[error("the HTML could not be read: {0}")]
    Html(String),
    #[error("the document has no text")]
    Empty,
    #[error("the document's unpacked size is over {} MiB", MAX_UNPACKED_BYTES >> 20)]
    TooLarge,
}

/// The most a document may unpack to (a DOCX's `word/document.xml`; a PDF's compressed streams
/// together).
pub const MAX_UNPACKED_BYTES: u64 = 128 << 20;

impl Format {
    /// The file name extensions `detect` knows (compared in lower case).
    pub const EXTENSIONS: &[&str] = &[
        "txt", "text", "csv", "log", "md", "markdown", "html", "htm", "xhtml", "pdf", "docx",
    ];

    /// The format from the file's name, else its content type (`text/markdown; charset=…`).
    pub fn detect(file_name: &str, content_type: Option<&str>) -> Result<Self, ExtractError> {
        let extension = file_name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase());
        let by_name = match extension.as_deref() {
            Some("txt" | "text" | "csv" | "log") => Some(Self::Text),
            Some("md" | "markdown") => Some(Self::Markdown),
            Some("html" | "htm" | "xhtml") => Some(Self::Html),
            Some("pdf") => Some(Self::Pdf),
            Some("docx") => Some(Self::Docx),
            _ => None,
        };
        let mime = content_type
            .and_then(|t| t.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase());
        let by_type = match mime.as_deref() {
            Some("text/plain" | "text/csv") => Some(Self::Text),
            Some("text/markdown" | "text/x-markdown") => Some(Self::Markdown),
            Some("text/html" | "application/xhtml+xml") => Some(Self::Html),
            Some("application/pdf") => Some(Self::Pdf),
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document") => {
                Some(Self::Docx)
            }
            _ => None,
        };
        by_name
            .or(by_type)
            .ok_or_else(|| ExtractError::Unsupported(file_name.to_owned()))
    }

    /// How the console and the API name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Markdown => "markdown",
            Self::Html => "html",
            Self::Pdf => "pdf",
            Self::Docx => "docx",
        }
    }
}

/// The document's text, paragraphs separated by blank lines, runs of spaces collapsed.
pub fn extract(format: Format, bytes: &[u8]) -> Result<String, ExtractError> {
    let text = match format {
        Format::Text => utf8(bytes)?.to_owned(),
        Format::Markdown => markdown(utf8(bytes)?),
        Format::Html => html2text::config::plain_no_decorate()
            .no_table_borders()
            .string_from_read(bytes, 100_000)
            .map_err(|e| ExtractError::Html(e.to_string()))?,
        Format::Pdf => pdf(bytes)?,
        Format::Docx => docx(bytes)?,
    };
    let text = tidy(&text);
    if text.is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(text)
}

fn utf8(bytes: &[u8]) -> Result<&str, ExtractError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ExtractError::NotUtf8)?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

fn markdown(source: &str) -> String {
    use pulldown_cmark::{Event, Parser, TagEnd};
    let mut out = String::with_capacity(source.len());
    for event in Parser::new(source) {
        match event {
            Event::Text(text) | Event::Code(text) => out.push_str(&text),
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::TableRow
                | TagEnd::BlockQuote(_),
            ) => out.push_str("\n\n"),
            Event::End(TagEnd::TableCell) => out.push_str(" | "),
            _ => {}
        }
    }
    out
}

fn pdf(bytes: &[u8]) -> Result<String, ExtractError> {
    // pdf-extract inflates streams without a bound: measure them first.
    if pdf_unpacked_size(bytes, MAX_UNPACKED_BYTES) > MAX_UNPACKED_BYTES {
        return Err(ExtractError::TooLarge);
    }
    // pdf-extract panics on some malformed files; a bad upload must not take the Backend down.
    let bytes = bytes.to_vec();
    std::panic::catch_unwind(move || pdf_extract::extract_text_from_mem(&bytes))
        .map_err(|_| ExtractError::Pdf("the file is malformed".to_owned()))?
        .map_err(|e| ExtractError::Pdf(e.to_string()))
}

/// The text of `word/document.xml`: per paragraph (`w:p`), its `w:t` runs, a tab for `w:tab`, a
/// line for `w:br`; paragraphs separated by blank lines.
fn docx(bytes: &[u8]) -> Result<String, ExtractError> {
    let failed = |e: &dyn std::fmt::Display| ExtractError::Docx(e.to_string());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| failed(&e))?;
    let mut xml = String::new();
    let entry = archive
        .by_name("word/document.xml")
        .map_err(|e| failed(&format!("word/document.xml: {e}")))?;
    if entry.size() > MAX_UNPACKED_BYTES {
        return Err(ExtractError::TooLarge);
    }
    // The declared size may lie: read one byte past the cap at most.
    entry
        .take(MAX_UNPACKED_BYTES + 1)
        .read_to_string(&mut xml)
        .map_err(|e| failed(&e))?;
    if xml.len() as u64 > MAX_UNPACKED_BYTES {
        return Err(ExtractError::TooLarge);
    }
    let document = roxmltree::Document::parse(&xml).map_err(|e| failed(&e))?;
    let word = |node: &roxmltree::Node<'_, '_>, name: &str| {
        node.is_element()
            && node.tag_name().name() == name
            && node.tag_name().namespace() == Some(WORD_NS)
    };
    let mut out = String::new();
    for paragraph in document.descendants().filter(|n| word(n, "p")) {
        for node in paragraph.descendants() {
            if word(&node, "t") {
                out.push_str(node.text().unwrap_or_default());
            } else if word(&node, "tab") {
                out.push('\t');
            } else if word(&node, "br") || word(&node, "cr") {
                out.push('\n');
            }
        }
        out.push_str("\n\n");
    }
    Ok(out)
}

/// What a PDF's `stream … endstream` bodies unpack to, Flate layers unwrapped, counted up to
/// `cap` (past it, the count stops). A body that is not zlib counts as nothing (only compressed
/// data can outgrow the upload), and neither do images, which text extraction never unpacks.
fn pdf_unpacked_size(bytes: &[u8], cap: u64) -> u64 {
    let mut total = 0u64;
    let mut rest = bytes;
    while let Some(at) = find(rest, b"stream") {
        let mut start = at + b"stream".len();
        let after = &rest[start..];
        if rest[..at].ends_with(b"end") {
            rest = after;
            continue;
        }
        if after.starts_with(b"\r\n") {
            start += 2;
        } else if after.starts_with(b"\n") || after.starts_with(b"\r") {
            start += 1;
        } else {
            // `endstream` itself, or the word inside something else.
            rest = &rest[start..];
            continue;
        }
        let end = find(&rest[start..], b"endstream").map_or(rest.len(), |e| start + e);
        // The stream's dictionary: what follows the last `obj` before it.
        let before = &rest[at.saturating_sub(2048)..at];
        let dictionary = rfind(before, b"obj").map_or(before, |o| &before[o..]);
        if find(dictionary, b"/Image").is_none() {
            total = total.saturating_add(inflated_size(&rest[start..end], cap - total.min(cap)));
        }
        if total > cap {
            return total;
        }
        rest = &rest[(end + b"endstream".len()).min(rest.len())..];
    }
    total
}

/// How much `data` inflates to (layer after zlib layer), up to one byte past `cap`.
fn inflated_size(data: &[u8], cap: u64) -> u64 {
    let zlib = |d: &[u8]| {
        d.len() >= 2 && d[0] & 0x0f == 8 && (u16::from(d[0]) << 8 | u16::from(d[1])) % 31 == 0
    };
    if !zlib(data) {
        return 0;
    }
    let mut out = Vec::new();
    let read = flate2::read::ZlibDecoder::new(data)
        .take(cap + 1)
        .read_to_end(&mut out);
    if read.is_err() && out.is_empty() {
        return 0;
    }
    let size = out.len() as u64;
    if size > cap || !zlib(&out) {
        return size;
    }
    // Flate inside Flate: what the inner layer unpacks to counts too.
    size.max(inflated_size(&out, cap))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// WordprocessingML's namespace.
const WORD_NS: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";

/// Spaces collapsed within lines, at most one blank line between paragraphs, trimmed.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(&line);
    }
    out
}
