//! Hybrid search: keywords find names and numbers, vectors find paraphrases, fusion keeps both.
//!
//! A wrong-sized vector is refused, and building an index at once equals building it one chunk at a
//! time.

use super::embeddings::minilm;
use knowledge::index::Mode;
use knowledge::{Embedder, Index, SearchParams};

const PASSAGES: &[&str] = &[
    "Our clinic is open Monday to Friday from 8 am to 6 pm, and closed on weekends.",
    "To reschedule an appointment, call at least 24 hours ahead or a fee applies.",
    "Dr. Amara Okafor sees new patients on Tuesdays and Thursdays.",
    "The parking garage on 14th Street validates tickets for up to two hours.",
    "Invoice INV-20931 was paid by card ending 4242.",
    "We accept most insurance plans, including Aetna and Blue Cross.",
];

async fn index() -> Index {
    let model = minilm();
    let texts: Vec<String> = PASSAGES.iter().map(|s| (*s).to_owned()).collect();
    let vectors = model.embed(&texts).await.unwrap();
    let mut index = Index::new(model.dimensions());
    for (i, (text, vector)) in texts.iter().zip(&vectors).enumerate() {
        index.add(i as i64 * 10, text, vector).unwrap();
    }
    index
}

async fn top(index: &Index, query: &str, mode: Mode) -> i64 {
    let vector = minilm().embed(&[query.to_owned()]).await.unwrap().remove(0);
    let params = SearchParams {
        mode,
        ..SearchParams::default()
    };
    index.search(&vector, query, &params)[0].id
}

#[tokio::test]
async fn a_paraphrase_finds_its_passage_by_meaning() {
    let index = index().await;
    assert_eq!(top(&index, "What time do you open?", Mode::Hybrid).await, 0);
    assert_eq!(
        top(
            &index,
            "Can I move my booking to another day?",
            Mode::Vector
        )
        .await,
        10
    );
    assert_eq!(
        top(&index, "Do you take my insurance?", Mode::Hybrid).await,
        50
    );
}

#[tokio::test]
async fn names_and_numbers_are_found_by_their_words() {
    let index = index().await;
    assert_eq!(top(&index, "INV-20931", Mode::Keyword).await, 40);
    assert_eq!(
        top(&index, "Was invoice 20931 paid?", Mode::Hybrid).await,
        40
    );
    assert_eq!(top(&index, "Okafor", Mode::Hybrid).await, 20);
    let vector = minilm()
        .embed(&["Okafor".to_owned()])
        .await
        .unwrap()
        .remove(0);
    let hits = index.search(&vector, "Okafor", &SearchParams::default());
    assert_eq!(hits[0].keyword_rank, Some(1));
    assert!(hits.len() <= 5);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn keywords_match_across_word_forms_and_ignore_stop_words() {
    let terms: Vec<String> =
        knowledge::index::terms("Is there a fee for missing appointments? INV-20931").collect();
    assert_eq!(terms, ["fee", "miss", "appoint", "inv", "20931"]);
}

#[test]
fn a_vector_of_the_wrong_size_is_refused_and_an_empty_index_finds_nothing() {
    let mut index = Index::new(3);
    let error = index.add(1, "x", &[1.0, 0.0]).unwrap_err();
    assert_eq!((error.expected, error.got), (3, 2));
    assert!(index.is_empty());
    assert!(
        index
            .search(&[1.0, 0.0, 0.0], "x", &SearchParams::default())
            .is_empty()
    );
    index.add(1, "alpha beta", &[1.0, 0.0, 0.0]).unwrap();
    index.add(2, "gamma", &[0.0, 1.0, 0.0]).unwrap();
    let hits = index.search(&[0.0, 1.0, 0.0], "alpha", &SearchParams::default());
    assert_eq!(hits.len(), 2);
    // The vector side ranks 2 first, the keyword side only has 1: fusion keeps both, and 1,
    // found by both rankings, comes first.
    assert_eq!(
        (hits[0].id, hits[0].keyword_rank, hits[0].vector_rank),
        (1, Some(1), Some(2))
    );
    assert_eq!(
        (hits[1].id, hits[1].keyword_rank, hits[1].vector_rank),
        (2, None, Some(1))
    );
}

#[test]
fn adding_many_chunks_at_once_builds_the_same_index_as_adding_them_one_by_one() {
    // Enough chunks that their words are counted on several threads.
    let words = [
        "parking", "invoices", "opening", "hours", "the", "clinic", "fees", "paid",
    ];
    let rows: Vec<(i64, String, Vec<f32>)> = (0..2_500)
        .map(|i: usize| {
            let text = (0..(i % 7 + 3))
                .map(|j| words[(i * 31 + j * 7) % words.len()])
                .collect::<Vec<_>>()
                .join(" ");
            let vector = vec![(i % 5) as f32, 1.0, (i % 3) as f32];
            (i as i64 * 3, format!("{text} #{i}"), vector)
        })
        .collect();
    let mut one_by_one = Index::new(3);
    for (id, text, vector) in &rows {
        one_by_one.add(*id, text, vector).unwrap();
    }
    let borrowed: Vec<(i64, &str, &[f32])> = rows
        .iter()
        .map(|(id, text, vector)| (*id, text.as_str(), vector.as_slice()))
        .collect();
    let mut at_once = Index::new(3);
    at_once.add_all(&borrowed).unwrap();
    assert_eq!(at_once, one_by_one);

    // A vector of the wrong size anywhere: refused, and nothing added.
    let mut refused = Index::new(3);
    let mut bad = borrowed.clone();
    bad[1_200].2 = &[1.0, 2.0];
    assert_eq!(refused.add_all(&bad).unwrap_err().got, 2);
    assert!(refused.is_empty());
}
