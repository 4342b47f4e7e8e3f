"""pipecat-ai 1.14's Smart Turn v3 and Silero VAD on the same audio as the Rust tests.

usage: reference.py PIPECAT_DIR AUDIO16K.f32 AUDIO8K.f32 FEATURES_OUT.f32
Prints JSON: {"smart_turn": p, "silero_8k": [p, ...]}; writes the log-mel features (80 x 800 f32).
"""
import importlib.util
import json
import sys

import numpy as np
import onnxruntime as ort

pipecat, audio16, audio8, features_out = sys.argv[1:5]
data = f"{pipecat}/pipecat/audio"
# The module alone (numpy only), not the pipecat package, whose __init__ needs its dependencies.
spec = importlib.util.spec_from_file_location(
    "whisper_features", f"{data}/turn/smart_turn/_whisper_features.py"
)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
compute_whisper_log_mel_features = module.compute_whisper_log_mel_features
x = np.fromfile(audio16, dtype=np.float32)
# LocalSmartTurnAnalyzerV3._predict_endpoint: the last 8 s, padded with zeros at the start.
n = 8 * 16000
x = x[-n:] if len(x) > n else np.pad(x, (n - len(x), 0))
features = compute_whisper_log_mel_features(x, do_normalize=True)
features.astype(np.float32).tofile(features_out)
turn = ort.InferenceSession(f"{data}/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx")
probability = float(turn.run(None, {"input_features": features[None]})[0][0].item())

# SileroOnnxModel.__call__ at 8 kHz: 256-sample windows after 32 samples of context, the state
# reset as SileroVADAnalyzer._maybe_reset_model does (due after 2 s of audio, at five windows in a
# row below 0.1).
vad = ort.InferenceSession(f"{data}/vad/data/silero_vad.onnx")
y = np.fromfile(audio8, dtype=np.float32)
state = np.zeros((2, 1, 128), dtype=np.float32)
context = np.zeros((1, 32), dtype=np.float32)
since_reset = low = 0
speech = []
for start in range(0, len(y) - 255, 256):
    window = np.concatenate((context, y[None, start:start + 256]), axis=1)
    out, state = vad.run(None, {"input": window, "state": state, "sr": np.array(8000, dtype=np.int64)})
    context = window[..., -32:]
    p = float(out[0][0])
    speech.append(p)
    since_reset += 1
    low = low + 1 if p < 0.1 else 0
    if since_reset * 256 / 8000 >= 2.0 and low >= 5:
        state = np.zeros((2, 1, 128), dtype=np.float32)
        context = np.zeros((1, 32), dtype=np.float32)
        since_reset = 0
print(json.dumps({"smart_turn": probability, "silero_8k": speech}))
