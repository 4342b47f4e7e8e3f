//! Knowledge bases while they are rebuilt: searches never wait, uploads build once.
//!
//! A search while its base's index is being rebuilt is answered from the previous index (a live
//! call is not kept waiting); once the rebuild is done, searches see the new document; an upload of
//! several files is built once.

use super::*;
use knowledge::testing::WordsEmbedder;
use store::NewKbDocument;
use store::testing::TestDb;

/// A fresh SQLite store with one knowledge base.
async fn clinic() -> (TestDb, i64) {
    let db = store::testing::sqlite().await;
    let base = db
        .store
        .create_knowledge_base("Clinic", "", Utc::now())
        .await
        .unwrap()
        .id;
    (db, base)
}

/// Uploads a text document, pending for the indexer.
async fn upload(store: &Arc<dyn Store>, base: i64, name: &str, text: &str) {
    store
        .add_document(NewKbDocument {
            knowledge_base_id: base,
            name: name.into(),
            format: "text".into(),
            size_bytes: text.len() as i64,
            sha256: "00".repeat(32),
            body: Ok(text.into()),
            now: Utc::now(),
        })
        .await
        .unwrap();
}

/// Stores a one-chunk document as the indexer would, without starting a rebuild.
async fn add_indexed(store: &Arc<dyn Store>, base: i64, name: &str, text: &str) {
    upload(store, base, name, text).await;
    let now = Utc::now();
    let claimed = store
        .claim_document(now, STALE_CLAIM)
        .await
        .unwrap()
        .unwrap();
    let embedding = WordsEmbedder
        .embed(&[text.to_owned()])
        .await
        .unwrap()
        .remove(0);
    let chunk = NewChunk {
        position: 0,
        start_byte: 0,
        end_byte: text.len() as i64,
        text: text.into(),
        embedding,
    };
    store
        .finish_document(claimed.document.id, WordsEmbedder.model(), vec![chunk], now)
        .await
        .unwrap();
}

fn names(found: Vec<Passage>) -> Vec<String> {
    found.into_iter().map(|p| p.document_name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_during_a_rebuild_is_answered_from_the_previous_index() {
    let (db, base) = clinic().await;
    let store = db.store.clone();
    let embedder: Arc<dyn Embedder> = Arc::new(WordsEmbedder);
    // A search waits 50 ms for a rebuild here (500 ms in service).
    let knowledge = Arc::new(
        Knowledge::new(store.clone(), Some(embedder.clone()))
            .with_fresh_wait(Duration::from_millis(50)),
    );
    add_indexed(
        &store,
        base,
        "hours.txt",
        "The clinic opens at eight on weekdays.",
    )
    .await;
    let query = "Where is the parking garage?";

    // With no previous index the first search waits for the build.
    let first = knowledge.search(&[base], query, 5, Mode::Hybrid).await;
    assert_eq!(names(first.unwrap()), ["hours.txt"]);

    // A new document moves the base's version. While a rebuild of the base is under way (here:
    // held up by holding the base's build lock), a search is answered after the wait from the
    // index it had, without the new document.
    add_indexed(
        &store,
        base,
        "parking.txt",
        "The parking garage is on 14th Street.",
    )
    .await;
    let lock = knowledge.builds.lock().entry(base).or_default().clone();
    let rebuilding = lock.lock().await;
    let during = knowledge.search(&[base], query, 5, Mode::Hybrid).await;
    assert_eq!(names(during.unwrap()), ["hours.txt"]);

    // The rebuild that search started carries on once it can; then the new document is found.
    drop(rebuilding);
    knowledge.rebuild(base, embedder).await.unwrap();
    let after = knowledge.search(&[base], query, 1, Mode::Hybrid).await;
    assert_eq!(names(after.unwrap()), ["parking.txt"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_of_several_files_builds_the_index_once_after_the_last() {
    let (db, base) = clinic().await;
    let store = db.store.clone();
    let knowledge = Arc::new(Knowledge::new(store.clone(), Some(Arc::new(WordsEmbedder))));
    for (name, text) in [
        ("hours.txt", "The clinic opens at eight on weekdays."),
        ("parking.txt", "The parking garage is on 14th Street."),
        ("fees.txt", "A missed appointment costs 25 dollars."),
    ] {
        upload(&store, base, name, text).await;
    }
    while knowledge.index_next().await.unwrap() {}
    // The build the last document started (or this search's, whichever runs first) is the only one.
    let found = knowledge
        .search(&[base], "Where is the parking garage?", 1, Mode::Hybrid)
        .await
        .unwrap();
    assert_eq!(names(found), ["parking.txt"]);
    assert_eq!(knowledge.builds(), 1);
}
