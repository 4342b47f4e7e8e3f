//! Hybrid search over chunks in memory.
//!
//! Exact cosine over unit vectors (every chunk scored, no approximation) and BM25 over their words,
//! fused by reciprocal rank so a name or a number the embedding blurs still finds its chunk.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchParams {
    /// Results wanted.
    pub top_k: usize,
    /// How deep each ranking goes before fusion.
    pub candidates: usize,
    /// Reciprocal-rank fusion's constant (60 in the original paper).
    pub rrf_k: f32,
    /// Which rankings take part.
    pub mode: Mode,
}

/// The rankings a search fuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Hybrid,
    Vector,
    Keyword,
}

impl Default for SearchParams {
    fn default() -> Self {
        Self {
            top_k: 5,
            candidates: 50,
            rrf_k: 60.0,
            mode: Mode::Hybrid,
        }
    }
}

/// One result: the caller's chunk id, the fused score, and where each ranking put it (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: i64,
    pub score: f32,
    pub vector_rank: Option<usize>,
    pub keyword_rank: Option<usize>,
    /// The cosine similarity to the query.
    pub similarity: f32,
}

/// Why a chunk was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a vector of {got} numbers in an index of {expected}")]
pub struct DimensionMismatch {
    pub expected: usize,
    pub got: usize,
}

/// From this many rows on, the vector scan runs on every core.
const PARALLEL_ROWS: usize = 20_000;
/// From this many chunks on, [`Index::add_all`] counts words on every core.
const PARALLEL_COUNTING_ROWS: usize = 1_000;

/// A chunk's terms with their occurrences (in first-seen order), and its length in terms.
type Counted = (Vec<(String, u32)>, u32);

fn count_terms(text: &str) -> Counted {
    let mut counts: Vec<(String, u32)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut length = 0u32;
    for term in terms(text) {
        length += 1;
        match at.get(&term) {
            Some(&i) => counts[i].1 += 1,
            None => {
                at.insert(term.clone(), counts.len());
                counts.push((term, 1));
            }
        }
    }
    (counts, length)
}

/// BM25's constants (Robertson's usual values).
const BM25_K1: f32 = 1.2;
const BM25_B: f32 = 0.75;

/// The chunks of one or more knowledge bases, searchable.
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    dimensions: usize,
    ids: Vec<i64>,
    /// Row `i` is `vectors[i * dimensions..(i + 1) * dimensions]`.
    vectors: Vec<f32>,
    /// Term → (row, occurrences in the row).
    postings: HashMap<String, Vec<(u32, u32)>>,
    lengths: Vec<u32>,
    total_length: u64,
}

impl Index {
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            ids: Vec::new(),
            vectors: Vec::new(),
            postings: HashMap::new(),
            lengths: Vec::new(),
            total_length: 0,
        }
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds chunk `id` with its text (for the keyword side) and its unit vector.
    pub fn add(&mut self, id: i64, text: &str, vector: &[f32]) -> Result<(), DimensionMismatch> {
        self.check(vector)?;
        let counted = count_terms(text);
        self.push(id, vector, counted);
        Ok(())
    }

    /// Adds many chunks in order, as [`Index::add`] one by one would, their words stemmed and
    /// counted on every core when there are many (the costly part of building an index). Nothing
    /// is added when a vector does not fit.
    pub fn add_all(&mut self, rows: &[(i64, &str, &[f32])]) -> Result<(), DimensionMismatch> {
        for (_, _, vector) in rows {
            self.check(vector)?;
        }
        let threads = if rows.len() >= PARALLEL_COUNTING_ROWS {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            1
        };
        let per_thread = rows.len().div_ceil(threads).max(1);
        let counted: Vec<Vec<Counted>> = std::thread::scope(|scope| {
            let handles: Vec<_> = rows
                .chunks(per_thread)
                .map(|part| {
                    scope.spawn(move || part.iter().map(|row| count_terms(row.1)).collect())
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("counting terms does not panic"))
                .collect()
        });
        for (row, counted) in rows.iter().zip(counted.into_iter().flatten()) {
            self.push(row.0, row.2, counted);
        }
        Ok(())
    }

    fn check(&self, vector: &[f32]) -> Result<(), DimensionMismatch> {
        if vector.len() == self.dimensions {
            Ok(())
        } else {
            Err(DimensionMismatch {
                expected: self.dimensions,
                got: vector.len(),
            })
        }
    }

    fn push(&mut self, id: i64, vector: &[f32], (counts, length): Counted) {
        let row = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        self.ids.push(id);
        self.vectors.extend_from_slice(vector);
        for (term, count) in counts {
            self.postings.entry(term).or_default().push((row, count));
        }
        self.lengths.push(length);
        self.total_length += u64::from(length);
    }

    /// The best `params.top_k` chunks for a query given as text (keyword side) and unit vector.
    pub fn search(&self, vector: &[f32], text: &str, params: &SearchParams) -> Vec<Hit> {
        let depth = params.candidates.max(params.top_k);
        let by_vector = match params.mode {
            Mode::Keyword => Vec::new(),
            _ => self.nearest(vector, depth),
        };
        let by_keyword = match params.mode {
            Mode::Vector => Vec::new(),
            _ => self.bm25(text, depth),
        };
        let mut fused: HashMap<u32, Hit> = HashMap::new();
        for (rank, &(row, _)) in by_vector.iter().enumerate() {
            let hit = fused.entry(row).or_insert_with(|| self.hit(row, vector));
            hit.vector_rank = Some(rank + 1);
            hit.score += 1.0 / (params.rrf_k + (rank + 1) as f32);
        }
        for (rank, &(row, _)) in by_keyword.iter().enumerate() {
            let hit = fused.entry(row).or_insert_with(|| self.hit(row, vector));
            hit.keyword_rank = Some(rank + 1);
            hit.score += 1.0 / (params.rrf_k + (rank + 1) as f32);
        }
        let mut hits: Vec<Hit> = fused.into_values().collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.similarity.total_cmp(&a.similarity))
                .then(a.id.cmp(&b.id))
        });
        hits.truncate(params.top_k);
        hits
    }

    fn hit(&self, row: u32, vector: &[f32]) -> Hit {
        Hit {
            id: self.ids[row as usize],
            score: 0.0,
            vector_rank: None,
            keyword_rank: None,
            similarity: if vector.len() == self.dimensions {
                dot(self.row(row as usize), vector)
            } else {
                0.0
            },
        }
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dimensions..(i + 1) * self.dimensions]
    }

    /// Every row scored by cosine (a dot product of unit vectors); the best `depth`, best first.
    /// A large index is scanned in parallel slices, one per core.
    fn nearest(&self, vector: &[f32], depth: usize) -> Vec<(u32, f32)> {
        if vector.len() != self.dimensions || self.dimensions == 0 {
            return Vec::new();
        }
        let rows = self.ids.len();
        let threads = if rows >= PARALLEL_ROWS {
            std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(8)
        } else {
            1
        };
        let scan = |from: usize, to: usize| {
            let mut best = TopK::new(depth);
            let slice = &self.vectors[from * self.dimensions..to * self.dimensions];
            for (i, candidate) in slice.chunks_exact(self.dimensions).enumerate() {
                best.offer((from + i) as u32, dot(candidate, vector));
            }
            best
        };
        let best = if threads <= 1 {
            scan(0, rows)
        } else {
            let per = rows.div_ceil(threads);
            let parts: Vec<TopK> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let (from, to) = (t * per, ((t + 1) * per).min(rows));
                        scope.spawn(move || scan(from, to))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|_| TopK::new(0)))
                    .collect()
            });
            let mut merged = TopK::new(depth);
            for part in parts {
                for (row, score) in part.into_sorted() {
                    merged.offer(row, score);
                }
            }
            merged
        };
        best.into_sorted()
    }

    /// BM25 over the query's terms; the best `depth` rows that contain any, best first.
    fn bm25(&self, text: &str, depth: usize) -> Vec<(u32, f32)> {
        let n = self.ids.len() as f32;
        if n == 0.0 {
            return Vec::new();
        }
        let average = self.total_length as f32 / n;
        let mut query: Vec<String> = terms(text).collect();
        query.sort();
        query.dedup();
        // A dense accumulator: far cheaper than a map when common terms touch many rows.
        let mut scores = vec![0f32; self.ids.len()];
        for term in &query {
            let Some(postings) = self.postings.get(term) else {
                continue;
            };
            let df = postings.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(row, tf) in postings {
                let tf = tf as f32;
                let length = self.lengths[row as usize] as f32;
                let norm = BM25_K1 * (1.0 - BM25_B + BM25_B * length / average.max(1.0));
                scores[row as usize] += idf * tf * (BM25_K1 + 1.0) / (tf + norm);
            }
        }
        let mut best = TopK::new(depth);
        for (row, &score) in scores.iter().enumerate() {
            if score > 0.0 {
                best.offer(row as u32, score);
            }
        }
        best.into_sorted()
    }
}

/// The words of a text as the keyword side sees them: lower-case runs of letters and digits,
/// English stop words dropped, words reduced to their Snowball (Porter 2) stem, so "fees" finds
/// "fee" and "missed" finds "missing"; numbers and codes are kept as written.
pub fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    static STEMMER: std::sync::OnceLock<rust_stemmers::Stemmer> = std::sync::OnceLock::new();
    let stemmer =
        STEMMER.get_or_init(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English));
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| STOP_WORDS.binary_search(&w.as_str()).is_err())
        .map(|w| {
            if w.chars().any(|c| c.is_ascii_digit()) {
                w
            } else {
                stemmer.stem(&w).into_owned()
            }
        })
}

/// Words too common to tell passages apart (sorted, for the binary search).
const STOP_WORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could",
    "did", "do", "does", "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is",
    "it", "its", "me", "my", "of", "on", "or", "our", "so", "that", "the", "their", "them",
    "there", "they", "this", "to", "was", "we", "were", "what", "when", "where", "which", "who",
    "will", "with", "would", "you", "your",
];

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight lanes the compiler turns into SIMD.
    let mut lanes = [0f32; 8];
    let (a8, a_rest) = a.split_at(a.len() / 8 * 8);
    let (b8, b_rest) = b.split_at(a8.len());
    for (x, y) in a8.chunks_exact(8).zip(b8.chunks_exact(8)) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

/// The `k` best (row, score) pairs seen, kept in a min-heap.
struct TopK {
    k: usize,
    heap: BinaryHeap<Scored>,
}

#[derive(PartialEq)]
struct Scored(f32, u32);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    // Reversed, so the heap's top is the worst kept; ties keep the earlier row.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    fn offer(&mut self, row: u32, score: f32) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Scored(score, row));
        } else if let Some(worst) = self.heap.peek()
            && score > worst.0
        {
            self.heap.pop();
            self.heap.push(Scored(score, row));
        }
    }

    fn into_sorted(self) -> Vec<(u32, f32)> {
        // Ascending by `Ord` is best first (the order is reversed).
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Scored(score, row)| (row, score))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stop_words_are_sorted_for_the_binary_search() {
        let mut sorted = super::STOP_WORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, super::STOP_WORDS);
    }
}
