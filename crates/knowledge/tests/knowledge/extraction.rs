//! Text extraction from each format a knowledge base takes, and its refusals.
//!
//! Each document is made here byte for byte (a PDF with its cross-reference table, a DOCX zip); the
//! refusals are an unknown format, bad UTF-8, a broken PDF or DOCX, a document with no text, and
//! decompression bombs (a DOCX and a PDF that would unpack past the cap).

use knowledge::{ExtractError, Format, extract};
use std::io::Write;

/// A one-page PDF 1.4 that shows `lines` in Helvetica, with a correct xref table.
fn pdf(lines: &[&str]) -> Vec<u8> {
    pdf_with(lines, None)
}

/// `size` bytes of zeros, zlib-compressed (the point is the ratio, about 1000:1).
fn zeros_compressed(size: usize) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..size / chunk.len() {
        encoder.write_all(&chunk).unwrap();
    }
    encoder.finish().unwrap()
}

/// The PDF of `lines`, with `extra` as one more (Flate-compressed) stream object when given.
fn pdf_with(lines: &[&str], extra: Option<&[u8]>) -> Vec<u8> {
    let mut content = String::from("BT /F1 12 Tf 72 720 Td 14 TL\n");
    for line in lines {
        content.push_str(&format!("({line}) Tj T*\n"));
    }
    content.push_str("ET\n");
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned().into_bytes(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned().into_bytes(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned().into_bytes(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()).into_bytes(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned().into_bytes(),
    ];
    if let Some(data) = extra {
        let mut object = format!(
            "<< /Length {} /Filter /FlateDecode >>\nstream\n",
            data.len()
        )
        .into_bytes();
        object.extend_from_slice(data);
        object.extend_from_slice(b"\nendstream");
        objects.push(object);
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).bytes());
        out.extend_from_slice(object);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    out
}

/// A DOCX (a zip with `word/document.xml`) of `paragraphs`.
fn docx(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<w:p><w:r><w:t xml:space=\"preserve\">{p}</w:t></w:r></w:p>"))
        .collect();
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("[Content_Types].xml", options).unwrap();
    zip.write_all(br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#).unwrap();
    zip.start_file("word/document.xml", options).unwrap();
    zip.write_all(document.as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

#[test]
fn the_format_comes_from_the_name_else_the_content_type() {
    assert_eq!(Format::detect("FAQ.PDF", None), Ok(Format::Pdf));
    assert_eq!(
        Format::detect("notes.md", Some("text/plain")),
        Ok(Format::Markdown)
    );
    assert_eq!(
        Format::detect("upload", Some("text/html; charset=utf-8")),
        Ok(Format::Html)
    );
    assert_eq!(Format::detect("policy.docx", None), Ok(Format::Docx));
    assert!(matches!(
        Format::detect("photo.jpg", Some("image/jpeg")),
        Err(ExtractError::Unsupported(_))
    ));
}

#[test]
fn plain_text_and_markdown_give_their_words_without_markup() {
    assert_eq!(
        extract(
            Format::Text,
            "\u{feff}Open   9 to 5.\r\n\r\n\r\nClosed Sundays.".as_bytes()
        )
        .unwrap(),
        "Open 9 to 5.\n\nClosed Sundays."
    );
    let md = "# Opening hours\n\nWe are open **Monday** to *Friday*.\n\n- Parking: [garage](https://example.com)\n- Code: `A-113`\n";
    let text = extract(Format::Markdown, md.as_bytes()).unwrap();
    assert_eq!(
        text,
        "Opening hours\n\nWe are open Monday to Friday.\n\nParking: garage\n\nCode: A-113"
    );
    assert_eq!(
        extract(Format::Text, &[0xff, 0xfe, 0x00]),
        Err(ExtractError::NotUtf8)
    );
    assert_eq!(extract(Format::Text, b"  \n\n "), Err(ExtractError::Empty));
}

#[test]
fn html_gives_its_text_without_scripts_or_styles() {
    let html = "<html><head><title>t</title><style>p{color:red}</style><script>var secret = 1;</script></head>\
                <body><h1>Refunds</h1><p>Refunds take <b>5 days</b>.</p><ul><li>Card</li><li>Cash</li></ul></body></html>";
    let text = extract(Format::Html, html.as_bytes()).unwrap();
    assert!(text.contains("Refunds take 5 days."), "{text}");
    assert!(text.contains("Card") && text.contains("Cash"), "{text}");
    assert!(
        !text.contains("secret") && !text.contains("color"),
        "{text}"
    );
}

#[test]
fn a_pdf_gives_its_text_and_a_broken_one_is_refused() {
    let bytes = pdf(&["Our clinic opens at 8 am.", "Invoice INV-20931 is paid."]);
    let text = extract(Format::Pdf, &bytes).unwrap();
    assert!(text.contains("Our clinic opens at 8 am."), "{text:?}");
    assert!(text.contains("INV-20931"), "{text:?}");
    let broken = extract(Format::Pdf, b"%PDF-1.4\nthis is not a pdf").unwrap_err();
    assert!(matches!(broken, ExtractError::Pdf(_)), "{broken}");
}

#[test]
fn a_pdf_or_docx_that_would_unpack_past_the_cap_is_refused_before_it_is_unpacked() {
    let bomb = zeros_compressed(160 << 20);
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let pdf = pdf_with(&["Our clinic opens at 8 am."], Some(&bomb));
    assert_eq!(
        extract(Format::Pdf, &pdf).unwrap_err(),
        ExtractError::TooLarge
    );
    // A small compressed stream is read as usual.
    let fine = pdf_with(
        &["Our clinic opens at 8 am."],
        Some(&zeros_compressed(1 << 20)),
    );
    assert!(extract(Format::Pdf, &fine).unwrap().contains("8 am"));
    // A DOCX whose document.xml inflates to 160 MiB (of spaces inside a paragraph).
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    zip.start_file("word/document.xml", options).unwrap();
    zip.write_all(br#"<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>"#).unwrap();
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..160 {
        zip.write_all(&spaces).unwrap();
    }
    zip.write_all(b"</w:t></w:r></w:p></w:body></w:document>")
        .unwrap();
    let docx = zip.finish().unwrap().into_inner();
    assert!(docx.len() < 4 << 20, "{} bytes", docx.len());
    let refused = extract(Format::Docx, &docx).unwrap_err();
    assert_eq!(refused, ExtractError::TooLarge);
    assert!(refused.to_string().contains("over 128 MiB"), "{refused}");
}

#[test]
fn a_docx_gives_its_paragraphs_and_a_broken_one_is_refused() {
    let bytes = docx(&["Returns within 30 days.", "Ask for Dana &amp; Lee."]);
    assert_eq!(
        extract(Format::Docx, &bytes).unwrap(),
        "Returns within 30 days.\n\nAsk for Dana & Lee."
    );
    let broken = extract(Format::Docx, b"PK\x03\x04 not really").unwrap_err();
    assert!(matches!(broken, ExtractError::Docx(_)), "{broken}");
}
