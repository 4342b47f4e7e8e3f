//! The Debian FAQ (`debian-faq`, plain-text edition) as a question-answering set for retrieval.
//!
//! Each chapter is a document with its questions taken out, each question paired with the span of
//! its answer.
//!
//! The plain text numbers every question at the start of a line (`3.1.2. Will there be …`, wrapped
//! onto further unindented lines) and indents its answer. A document is a chapter's answers in
//! order, without the headings, as an operator's knowledge base would hold an FAQ's answers; a
//! question's answer is the byte range its text took in that document. Answers quote other
//! questions in cross-references (`see Section 12.1, “What other documentation exists …?”`); those
//! quotations are dropped, so a question is never found by its own words quoted elsewhere.

use std::collections::HashSet;

/// One chapter's answers: what a knowledge base would be given to index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaqDocument {
    pub title: String,
    pub text: String,
}

/// One question and where its answer lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaqQuestion {
    /// `3.1.2`.
    pub number: String,
    pub text: String,
    /// Index into [`Faq::documents`].
    pub document: usize,
    /// Byte range of the answer in that document's text.
    pub start: usize,
    pub end: usize,
}

/// The whole set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faq {
    pub documents: Vec<FaqDocument>,
    pub questions: Vec<FaqQuestion>,
}

/// `1.2.` or `3.1.10.` followed by a space (the package's text has a no-break space there): a
/// numbered heading at the start of a line.
fn heading_number(line: &str) -> Option<(&str, &str)> {
    let (number, rest) = line.split_once(char::is_whitespace)?;
    let number = number.strip_suffix('.')?;
    let parts: Vec<&str> = number.split('.').collect();
    let numbered = parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    numbered.then_some((number, rest))
}

/// `Chapter 3. Choosing a Debian distribution` → its title.
fn chapter_title(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("Chapter")?;
    let (number, title) = rest.trim_start().split_once(char::is_whitespace)?;
    let numbered = rest.starts_with(char::is_whitespace)
        && number
            .strip_suffix('.')?
            .bytes()
            .all(|b| b.is_ascii_digit());
    numbered.then_some(title.trim())
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Drops every “…” quotation whose words are one of `headings`.
fn without_quoted_headings(text: &str, headings: &HashSet<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('“') {
        let after = &rest[open + '“'.len_utf8()..];
        let Some(close) = after.find('”') else {
            break;
        };
        out.push_str(&rest[..open]);
        let quoted = &after[..close];
        if !headings.contains(&words(quoted)) {
            out.push('“');
            out.push_str(quoted);
            out.push('”');
        }
        rest = &after[close + '”'.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// Parses the FAQ's plain text (`debian-faq.en.txt`). Only headings that are questions (end in
/// `?`) become questions; the others' text (e.g. "Authors") stays in its document. Answers
/// shorter than `min_answer` bytes are not asked.
pub fn parse(text: &str, min_answer: usize) -> Faq {
    // The body starts at the first chapter; the table of contents before it is skipped.
    let all: Vec<&str> = text.lines().collect();
    let Some(body_at) = all.iter().position(|line| chapter_title(line).is_some()) else {
        return Faq::default();
    };
    let lines = &all[body_at..];

    // Pass 1: headings (wrapped ones joined), so quotations of them can be dropped.
    struct Heading {
        line: usize,
        lines: usize,
        number: String,
        text: String,
    }
    let mut headings = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some((number, first)) = heading_number(lines[i]) {
            let mut text = first.to_owned();
            let mut j = i + 1;
            while j < lines.len() && !lines[j].is_empty() && !lines[j].starts_with(' ') {
                text.push(' ');
                text.push_str(lines[j]);
                j += 1;
            }
            headings.push(Heading {
                line: i,
                lines: j - i,
                number: number.to_owned(),
                text: words(&text),
            });
            i = j;
        } else {
            i += 1;
        }
    }
    let heading_texts: HashSet<String> = headings.iter().map(|h| h.text.clone()).collect();

    // Pass 2: documents per chapter, each heading's answer recorded as a byte range.
    let mut faq = Faq::default();
    let mut open: Option<(usize, usize)> = None; // (heading index, answer start)
    let mut next_heading = 0;
    let mut paragraph = String::new();
    let close = |faq: &mut Faq, open: &mut Option<(usize, usize)>, headings: &[Heading]| {
        if let (Some((h, start)), Some(document)) =
            (open.take(), faq.documents.len().checked_sub(1))
        {
            let end = faq.documents[document].text.trim_end().len();
            let heading: &Heading = &headings[h];
            if heading.text.ends_with('?') && end >= start + min_answer {
                faq.questions.push(FaqQuestion {
                    number: heading.number.clone(),
                    text: heading.text.clone(),
                    document,
                    start,
                    end,
                });
            }
        }
    };
    let flush = |faq: &mut Faq, paragraph: &mut String| {
        if paragraph.is_empty() {
            return;
        }
        if let Some(document) = faq.documents.last_mut() {
            let cleaned = without_quoted_headings(paragraph, &heading_texts);
            document.text.push_str(&words(&cleaned));
            document.text.push_str("\n\n");
        }
        paragraph.clear();
    };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(title) = chapter_title(line) {
            flush(&mut faq, &mut paragraph);
            close(&mut faq, &mut open, &headings);
            faq.documents.push(FaqDocument {
                title: title.to_owned(),
                text: String::new(),
            });
            i += 1;
        } else if headings.get(next_heading).is_some_and(|h| h.line == i) {
            flush(&mut faq, &mut paragraph);
            close(&mut faq, &mut open, &headings);
            let start = faq.documents.last().map_or(0, |d| d.text.len());
            open = Some((next_heading, start));
            i += headings[next_heading].lines;
            next_heading += 1;
        } else if line.trim().is_empty() {
            flush(&mut faq, &mut paragraph);
            i += 1;
        } else {
            if !paragraph.is_empty() {
                paragraph.push(' ');
            }
            paragraph.push_str(line.trim());
            i += 1;
        }
    }
    flush(&mut faq, &mut paragraph);
    close(&mut faq, &mut open, &headings);
    for document in &mut faq.documents {
        document.text.truncate(document.text.trim_end().len());
    }
    faq
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Table of Contents

1. Definitions
    1.1. What is this FAQ?
    1.2. What is Debian
    GNU/Linux?

Chapter 1. Definitions

1.1. What is this FAQ?

    This document answers questions about Debian. See Section 1.2,
    “What is Debian GNU/Linux?” for more.

1.2. What is Debian
GNU/Linux?

    Debian is a free operating system.

    It has many packages.

Chapter 2. About

2.1. Authors

    Many people wrote this.
";

    #[test]
    fn questions_pair_with_their_answers_and_quotations_of_headings_are_dropped() {
        let faq = parse(SAMPLE, 1);
        assert_eq!(faq.documents.len(), 2);
        assert_eq!(faq.documents[0].title, "Definitions");
        assert_eq!(
            faq.documents[0].text,
            "This document answers questions about Debian. See Section 1.2, for more.\n\n\
             Debian is a free operating system.\n\nIt has many packages."
        );
        let texts: Vec<&str> = faq.questions.iter().map(|q| q.text.as_str()).collect();
        assert_eq!(texts, ["What is this FAQ?", "What is Debian GNU/Linux?"]);
        let second = &faq.questions[1];
        assert_eq!(second.number, "1.2");
        assert_eq!(
            &faq.documents[0].text[second.start..second.end],
            "Debian is a free operating system.\n\nIt has many packages."
        );
        // "Authors" is not a question: its text stays in its chapter, nobody asks it.
        assert_eq!(faq.documents[1].text, "Many people wrote this.");
    }

    #[test]
    fn answers_shorter_than_the_minimum_are_not_asked() {
        let faq = parse(SAMPLE, 60);
        let texts: Vec<&str> = faq.questions.iter().map(|q| q.text.as_str()).collect();
        assert_eq!(texts, ["What is this FAQ?"]);
    }
}
