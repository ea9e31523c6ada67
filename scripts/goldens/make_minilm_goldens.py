#!/usr/bin/env python3
"""Regenerates the all-MiniLM-L6-v2 encoder goldens with sentence-transformers (torch).

Writes, under tests/goldens/minilm/:
  encoder_goldens.json  50 varied sentences: token ids and FP32 sentence embeddings
  stsb_token_ids.txt    token ids (Hugging Face `tokenizers`, truncated at max_seq_length) of every
                        sentence of ../shared/data/stsb/sts-test.csv, one line per sentence
torch is needed only here: `scripts/setup_goldens.sh` installs it into .venv-goldens.
Usage: .venv-goldens/bin/python scripts/goldens/make_minilm_goldens.py [MODEL_DIR]
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "goldens", "minilm")

LONG = ("The quick brown fox jumps over the lazy dog while the committee deliberates on the "
        "quarterly budget, the weather report predicts rain, and nobody remembers where the keys are. ")

SENTENCES = [
    "",
    "   ",
    "Hello world",
    "Hello, world!",
    "A man is playing a guitar.",
    "A woman is slicing an onion.",
    "The cat sat on the mat.",
    "Café crème brûlée à Paris, naïve façade.",
    "Ångström, Øresund, Łódź, Straße, Über!",
    "İstanbul'da ılık bir gün.",
    "e\u0301 versus \u00e9: combining accents must normalise the same way.",
    "我爱北京天安门。",
    "東京タワーに行きました。",
    "서울은 한국의 수도입니다.",
    "Mixed 中文 and English text, 混合!",
    "Привет, как дела? ВСЁ ХОРОШО.",
    "Η γρήγορη καφέ αλεπού ΣΟΦΙΑ.",
    "مرحبا بالعالم",
    "हिन्दी में एक वाक्य है।",
    "Emoji 🦙🔥 and symbols ©®™ ½ ¾ °C",
    "URLs like https://example.com/a-b_c?d=e&f=g#h are common.",
    "e-mail: someone@example.org, phone +1 (555) 010-9999.",
    "Numbers: 3.14159, 2,718, 1e-10, 42%, $19.99, #1.",
    "Tabs\tand\nnewlines\r\nare whitespace.",
    "Control\u0000chars\u0007and\u200bzero-width\ufeffmarks.",
    "Don't won't can't shouldn't y'all'd've",
    "ALL CAPS SENTENCE WITH ACRONYMS LIKE NASA AND UNESCO.",
    "Special tokens in text: [CLS] hello [SEP] world [MASK] [PAD] [UNK]",
    "Unbalanced ((brackets]] and {{braces>>",
    "Ellipsis… em—dash – en-dash “quotes” ‘single’ «guillemets»",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 150,
    "x" * 99 + " " + "y" * 101,
    "Repeated punctuation!!!??? ... ,,, ;;;",
    "The stock market rose sharply today after the central bank announced new measures.",
    "Two dogs are running through a field of tall grass.",
    "A child is riding a horse on the beach at sunset.",
    "Scientists discovered a new species of frog in the rainforest.",
    "How do I reset my password if I forgot my email address?",
    "The recipe calls for two cups of flour and a pinch of salt.",
    "Quantum entanglement links particles across arbitrary distances.",
    "He said, \"I'll be there at 5 p.m.\" — and he was.",
    "C++20 concepts, std::span<const float>, and -O3 -march=native.",
    "x = (a + b) * c / d - e ^ f | g & h ~ i",
    "Thé ünïcödé ẗëẍẗ wïẗḧ ḿäṅÿ ḋïäċṙïẗïċṡ.",
    "Full-width ＡＢＣ １２３ and half-width ｶﾀｶﾅ.",
    LONG * 20,
    ("word " * 300).strip(),
    "短い文。" * 100,
    "The end.",
]


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
    assert len(SENTENCES) == 50, len(SENTENCES)
    torch.manual_seed(0)
    model = SentenceTransformer(model_dir, device="cpu")
    tok = model.tokenizer
    max_len = model.max_seq_length
    emb = model.encode(SENTENCES, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    ids = [tok(s, truncation=True, max_length=max_len)["input_ids"] for s in SENTENCES]
    os.makedirs(OUT, exist_ok=True)
    golden = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "generator": "scripts/goldens/make_minilm_goldens.py",
        "versions": {"torch": torch.__version__,
                     "sentence_transformers": __import__("sentence_transformers").__version__,
                     "tokenizers": __import__("tokenizers").__version__},
        "max_seq_length": max_len,
        "sentences": [{"text": s, "ids": i, "embedding": [float(f"{v:.8g}") for v in e]}
                      for s, i, e in zip(SENTENCES, ids, emb.astype(np.float32))],
    }
    with open(os.path.join(OUT, "encoder_goldens.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=0)
        f.write("\n")

    stsb = os.path.join(ROOT, "..", "shared", "data", "stsb", "sts-test.csv")
    lines = []
    with open(stsb, encoding="utf-8") as f:
        for row in f:
            cols = row.rstrip("\n").split("\t")
            for s in cols[5:7]:
                lines.append(" ".join(map(str, tok(s, truncation=True, max_length=max_len)["input_ids"])))
    with open(os.path.join(OUT, "stsb_token_ids.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(SENTENCES)} sentences and {len(lines)} STS-B token lines to {OUT}")


if __name__ == "__main__":
    main()
