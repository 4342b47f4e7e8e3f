//! A document's text split into overlapping chunks.
//!
//! Sentences (and paragraphs) packed up to a size, each chunk starting with the last sentences of
//! the one before, so an answer that straddles a boundary is whole in one of them.

/// How big chunks are and how much neighbours share, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkParams {
    /// At most this many characters per chunk (1,000 ≈ 200 tokens, inside MiniLM's 256).
    pub max_chars: usize,
    /// About this many characters of the previous chunk's end begin the next.
    pub overlap_chars: usize,
}

impl Default for ChunkParams {
    fn default() -> Self {
        Self {
            max_chars: 1000,
            overlap_chars: 200,
        }
    }
}

/// One chunk: its place in the document and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// 0, 1, 2, … in document order.
    pub index: usize,
    /// Byte offsets of the chunk in the document's text.
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Splits `text` into chunks of at most `params.max_chars` characters that overlap by about
/// `params.overlap_chars`. Every sentence lands in at least one chunk, in order.
pub fn chunk(text: &str, params: ChunkParams) -> Vec<Chunk> {
    let max = params.max_chars.max(1);
    let overlap = params.overlap_chars.min(max / 2);
    let units = units(text, max);
    let mut chunks = Vec::new();
    let mut first = 0;
    while first < units.len() {
        // Take sentences while they fit.
        let mut last = first;
        let mut size = 0;
        while last < units.len() {
            let (start, end) = units[last];
            let add = text[start..end].chars().count() + usize::from(last > first);
            if last > first && size + add > max {
                break;
            }
            size += add;
            last += 1;
        }
        let (start, end) = (units[first].0, units[last - 1].1);
        chunks.push(Chunk {
            index: chunks.len(),
            start,
            end,
            text: text[start..end].to_owned(),
        });
        if last == units.len() {
            break;
        }
        // The next chunk starts with the tail of this one, up to `overlap` characters, but always
        // moves forward by at least one sentence.
        let mut next = last;
        let mut shared = 0;
        while next > first + 1 {
            let (s, e) = units[next - 1];
            let len = text[s..e].chars().count() + 1;
            if shared + len > overlap {
                break;
            }
            shared += len;
            next -= 1;
        }
        first = next;
    }
    chunks
}

/// Byte ranges of the text's sentences (split after `.`, `!`, `?` and at line breaks), long ones
/// cut at whitespace (or anywhere, for a run without spaces) to at most `max` characters.
fn units(text: &str, max: usize) -> Vec<(usize, usize)> {
    let mut sentences = Vec::new();
    let mut start = None;
    let mut previous = ' ';
    for (i, c) in text.char_indices() {
        let boundary =
            c == '\n' || (c.is_whitespace() && matches!(previous, '.' | '!' | '?' | '。'));
        if boundary {
            if let Some(s) = start.take() {
                sentences.push((s, i));
            }
        } else if start.is_none() && !c.is_whitespace() {
            start = Some(i);
        }
        previous = c;
    }
    if let Some(s) = start {
        sentences.push((s, text.len()));
    }
    let mut units = Vec::with_capacity(sentences.len());
    for (s, e) in sentences {
        let trimmed = text[s..e].trim_end();
        let e = s + trimmed.len();
        split_long(text, s, e, max, &mut units);
    }
    units
}

/// Cuts `text[start..end]` into pieces of at most `max` characters, at whitespace where there is
/// some. Each step looks at most `max` characters ahead, so a long text without whitespace is cut
/// in linear time (L9: counting what is left each time was quadratic).
fn split_long(text: &str, mut start: usize, end: usize, max: usize, out: &mut Vec<(usize, usize)>) {
    while let Some((i, _)) = text[start..end].char_indices().nth(max) {
        let limit = start + i;
        let cut = text[start..limit]
            .rfind(char::is_whitespace)
            .map(|i| start + i)
            .filter(|&i| i > start)
            .unwrap_or(limit);
        out.push((start, cut));
        start = cut;
        while let Some(c) = text[start..end]
            .chars()
            .next()
            .filter(|c| c.is_whitespace())
        {
            start += c.len_utf8();
        }
    }
    if start < end {
        out.push((start, end));
    }
}
