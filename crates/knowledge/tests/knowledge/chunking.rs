//! Chunking: sizes held, neighbours overlapping, nothing lost, and text without spaces cut anyway.

use knowledge::{ChunkParams, chunk};

fn sentences(n: usize) -> String {
    (0..n)
        .map(|i| format!("Sentence {i} says something about topic {}.", i % 7))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn chunks_hold_their_size_overlap_their_neighbours_and_cover_every_sentence() {
    let text = sentences(200);
    let params = ChunkParams {
        max_chars: 300,
        overlap_chars: 80,
    };
    let chunks = chunk(&text, params);
    assert!(chunks.len() > 10);
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.index, i);
        assert!(c.text.chars().count() <= 300, "{}", c.text.len());
        assert_eq!(&text[c.start..c.end], c.text);
    }
    for pair in chunks.windows(2) {
        assert!(
            pair[1].start < pair[0].end,
            "no overlap between {} and {}",
            pair[0].index,
            pair[1].index
        );
        assert!(pair[1].start > pair[0].start, "no progress");
    }
    for i in 0..200 {
        let sentence = format!("Sentence {i} says");
        assert!(
            chunks.iter().any(|c| c.text.contains(&sentence)),
            "{sentence} lost"
        );
    }
}

#[test]
fn a_short_text_is_one_chunk_and_an_empty_one_is_none() {
    let chunks = chunk("Open 9 to 5.\n\nClosed on Sundays.", ChunkParams::default());
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].text, "Open 9 to 5.\n\nClosed on Sundays.");
    assert!(chunk("  \n ", ChunkParams::default()).is_empty());
}

#[test]
fn a_run_without_spaces_longer_than_a_chunk_is_cut_at_the_size() {
    let text = "é".repeat(2500);
    let chunks = chunk(
        &text,
        ChunkParams {
            max_chars: 1000,
            overlap_chars: 100,
        },
    );
    assert_eq!(chunks.len(), 3);
    assert!(chunks.iter().all(|c| c.text.chars().count() <= 1000));
    let total: usize = chunks.iter().map(|c| c.text.chars().count()).sum();
    assert_eq!(total, 2500);
}

/// L9: a long upload without whitespace is cut in linear time. The bound is a guard against the
/// quadratic cut (minutes at this size), not a benchmark: it holds with a wide margin.
#[test]
fn a_long_text_without_whitespace_is_cut_without_quadratic_work() {
    let text = "x".repeat(8 << 20);
    let started = std::time::Instant::now();
    let chunks = chunk(
        &text,
        ChunkParams {
            max_chars: 1000,
            overlap_chars: 100,
        },
    );
    let took = started.elapsed();
    assert!(chunks.iter().all(|c| c.text.len() <= 1000));
    let total: usize = chunks.iter().map(|c| c.text.len()).sum();
    assert_eq!(total, 8 << 20);
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
}
