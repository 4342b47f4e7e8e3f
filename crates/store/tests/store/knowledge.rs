//! Knowledge bases: documents stored, claimed, chunked and embedded, versioned, deleted.
//!
//! Documents are stored pending or failed and claimed once by the indexer (again when its indexer
//! went quiet); chunks are replaced with their embeddings in one step; versions move when chunks
//! change; re-index and deletes cascade.

use crate::support::*;
use std::sync::Arc;
use std::time::Duration;
use store::{DocumentStatus, NewChunk, NewKbDocument, Store, StoreError};

const STALE: Duration = Duration::from_secs(300);

fn upload(base: i64, name: &str, body: Result<&str, &str>) -> NewKbDocument {
    NewKbDocument {
        knowledge_base_id: base,
        name: name.into(),
        format: "text".into(),
        size_bytes: 42,
        sha256: "ab".repeat(32),
        body: body.map(str::to_owned).map_err(str::to_owned),
        now: at(2026, 11, 24, 9, 0),
    }
}

fn chunk(position: i64, text: &str, embedding: Vec<f32>) -> NewChunk {
    NewChunk {
        position,
        start_byte: 0,
        end_byte: text.len() as i64,
        text: text.into(),
        embedding,
    }
}

async fn documents_are_claimed_once_indexed_with_their_chunks_and_move_the_version(
    store: Arc<dyn Store>,
) {
    let now = at(2026, 11, 24, 9, 0);
    let base = store
        .create_knowledge_base("Clinic FAQ", "Opening hours and fees", now)
        .await
        .unwrap();
    assert_eq!((base.version, base.documents, base.chunks), (0, 0, 0));
    let doc = store
        .add_document(upload(base.id, "hours.txt", Ok("Open 8 to 6.")))
        .await
        .unwrap();
    assert_eq!(doc.status, DocumentStatus::Pending);
    let broken = store
        .add_document(upload(
            base.id,
            "scan.pdf",
            Err("the PDF could not be read"),
        ))
        .await
        .unwrap();
    assert_eq!(broken.status, DocumentStatus::Failed);
    assert_eq!(broken.error.as_deref(), Some("the PDF could not be read"));

    let claimed = store.claim_document(now, STALE).await.unwrap().unwrap();
    assert_eq!(claimed.document.id, doc.id);
    assert_eq!(claimed.document.status, DocumentStatus::Indexing);
    assert_eq!(claimed.body, "Open 8 to 6.");
    // Claimed documents and failed ones are not handed out again.
    assert!(store.claim_document(now, STALE).await.unwrap().is_none());

    store.document_progress(doc.id, 1, 2, now).await.unwrap();
    let progress = store.document(doc.id).await.unwrap();
    assert_eq!((progress.chunks_done, progress.chunks_total), (1, 2));

    let vectors = vec![
        chunk(0, "Open 8", vec![1.0, 0.0, 0.5]),
        chunk(1, "to 6.", vec![0.0, -1.0, 0.25]),
    ];
    store
        .finish_document(doc.id, "all-MiniLM-L6-v2", vectors, now)
        .await
        .unwrap();
    let indexed = store.document(doc.id).await.unwrap();
    assert_eq!(indexed.status, DocumentStatus::Indexed);
    assert_eq!(indexed.model.as_deref(), Some("all-MiniLM-L6-v2"));
    let chunks = store.chunks(base.id).await.unwrap();
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[1].embedding, vec![0.0, -1.0, 0.25]);
    assert_eq!(chunks[0].model, "all-MiniLM-L6-v2");
    let base = store.knowledge_base(base.id).await.unwrap();
    assert_eq!((base.version, base.documents, base.chunks), (1, 2, 2));
    let sources = store.chunk_sources(&[chunks[1].id]).await.unwrap();
    assert_eq!(sources[0].document_name, "hours.txt");
    assert_eq!(sources[0].text, "to 6.");

    // A re-index queues what has text again; finishing replaces the chunks.
    assert_eq!(store.reindex_knowledge_base(base.id, now).await.unwrap(), 1);
    let again = store.claim_document(now, STALE).await.unwrap().unwrap();
    store
        .finish_document(again.document.id, "m2", vec![chunk(0, "x", vec![1.0])], now)
        .await
        .unwrap();
    let chunks = store.chunks(base.id).await.unwrap();
    assert_eq!((chunks.len(), chunks[0].model.as_str()), (1, "m2"));

    store.delete_document(doc.id, now).await.unwrap();
    let base = store.knowledge_base(base.id).await.unwrap();
    assert_eq!((base.documents, base.chunks, base.version), (1, 0, 3));
}

async fn an_indexer_that_went_quiet_loses_its_claim_and_a_requeued_one_cannot_finish(
    store: Arc<dyn Store>,
) {
    let now = at(2026, 11, 24, 9, 0);
    let base = store.create_knowledge_base("B", "", now).await.unwrap();
    let doc = store
        .add_document(upload(base.id, "a.md", Ok("text")))
        .await
        .unwrap();
    store.claim_document(now, STALE).await.unwrap().unwrap();
    let later = now + chrono::Duration::seconds(301);
    let taken_over = store.claim_document(later, STALE).await.unwrap().unwrap();
    assert_eq!(taken_over.document.id, doc.id);
    // The base is re-queued while the second indexer works: its result is stale.
    store.reindex_knowledge_base(base.id, later).await.unwrap();
    let stale = store
        .finish_document(doc.id, "m", vec![chunk(0, "t", vec![1.0])], later)
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::WrongState { .. }), "{stale}");
    assert!(store.chunks(base.id).await.unwrap().is_empty());
    store.claim_document(later, STALE).await.unwrap().unwrap();
    store
        .fail_document(doc.id, "the embedding model failed", later)
        .await
        .unwrap();
    let failed = store.document(doc.id).await.unwrap();
    assert_eq!(failed.status, DocumentStatus::Failed);
}

async fn knowledge_bases_refuse_bad_names_and_deleting_one_removes_everything(
    store: Arc<dyn Store>,
) {
    let now = at(2026, 11, 24, 9, 0);
    let bad = store
        .create_knowledge_base("  ", "", now)
        .await
        .unwrap_err();
    assert!(
        matches!(bad, StoreError::Invalid { ref field, .. } if field == "name"),
        "{bad}"
    );
    let base = store
        .create_knowledge_base("Policies", "", now)
        .await
        .unwrap();
    let taken = store
        .create_knowledge_base("Policies", "", now)
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::Conflict { .. }), "{taken}");
    let renamed = store
        .update_knowledge_base(base.id, "Returns policy", "What we take back", now)
        .await
        .unwrap();
    assert_eq!(renamed.name, "Returns policy");
    let missing = store
        .add_document(upload(base.id + 1000, "x.txt", Ok("x")))
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
    let doc = store
        .add_document(upload(base.id, "a.txt", Ok("text")))
        .await
        .unwrap();
    store.claim_document(now, STALE).await.unwrap();
    store
        .finish_document(doc.id, "m", vec![chunk(0, "t", vec![1.0])], now)
        .await
        .unwrap();
    store.delete_knowledge_base(base.id).await.unwrap();
    assert!(matches!(
        store.document(doc.id).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
    assert!(store.chunks(base.id).await.unwrap().is_empty());
    assert!(store.knowledge_bases().await.unwrap().is_empty());
}

async fn a_newer_upload_of_the_same_name_replaces_the_older_once_it_is_indexed(
    store: Arc<dyn Store>,
) {
    let now = at(2026, 11, 24, 9, 0);
    let base = store
        .create_knowledge_base("Prices", "", now)
        .await
        .unwrap();
    let other = store.create_knowledge_base("Other", "", now).await.unwrap();
    let index = |text: &'static str| {
        let store = store.clone();
        async move {
            let claimed = store.claim_document(now, STALE).await.unwrap().unwrap();
            store
                .finish_document(
                    claimed.document.id,
                    "m",
                    vec![chunk(0, text, vec![1.0])],
                    now,
                )
                .await
                .unwrap();
            claimed.document.id
        }
    };
    store
        .add_document(upload(base.id, "prices.txt", Ok("A cleaning is $80.")))
        .await
        .unwrap();
    let old = index("A cleaning is $80.").await;
    store
        .add_document(upload(other.id, "prices.txt", Ok("Another base's prices.")))
        .await
        .unwrap();
    index("Another base's prices.").await;
    let failed = store
        .add_document(upload(
            base.id,
            "prices.txt",
            Err("the file could not be read"),
        ))
        .await
        .unwrap();
    store
        .add_document(upload(base.id, "prices.txt", Ok("A cleaning is $95.")))
        .await
        .unwrap();
    // While the new version waits, the old one still answers.
    let texts = |base: i64| {
        let store = store.clone();
        async move {
            store
                .chunks(base)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.text)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(texts(base.id).await, ["A cleaning is $80."]);
    let new = index("A cleaning is $95.").await;
    assert_eq!(texts(base.id).await, ["A cleaning is $95."]);
    let names: Vec<i64> = store
        .documents(base.id)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(
        names,
        [new],
        "the old version and the failed upload are gone"
    );
    assert!(old < failed.id && failed.id < new);
    // Another base's document of the same name is not touched.
    assert_eq!(texts(other.id).await, ["Another base's prices."]);
}

both_backends!(
    a_newer_upload_of_the_same_name_replaces_the_older_once_it_is_indexed,
    documents_are_claimed_once_indexed_with_their_chunks_and_move_the_version,
    an_indexer_that_went_quiet_loses_its_claim_and_a_requeued_one_cannot_finish,
    knowledge_bases_refuse_bad_names_and_deleting_one_removes_everything,
);
