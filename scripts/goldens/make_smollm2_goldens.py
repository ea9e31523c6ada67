#!/usr/bin/env python3
"""Goldens of the bundled SmolLM2-135M-Instruct made by llama.cpp itself (built outside the
repository by scripts/peers/llamacpp.sh), for tests/e2e/smollm2_test.cc:

  * greedy continuations (llama-simple, which samples greedily) of a plain prompt and of a ChatML
    conversation, from the F32 GGUF of the bundled Q4_1 weights;
  * next-token log-probabilities on a fixed text (llama-perplexity --kl-divergence-base, one chunk
    of 128 tokens, F32 KV cache; its file stores each scored position's log-softmax to 1/65535 of a 16-nat range):
    for every scored position, the five likeliest tokens and their log-probabilities.

Standard library only; run it with any Python 3:
    python3 scripts/goldens/make_smollm2_goldens.py
writes tests/goldens/smollm2/llamacpp.json.
"""
import json
import os
import struct
import subprocess
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODEL = os.path.join(ROOT, "models", "smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "tests", "goldens", "smollm2", "llamacpp.json")
CTX = 128
PROMPTS = [
    "The capital of France is",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nName three colours of the rainbow.<|im_end|>\n<|im_start|>assistant\n",
]
# Two paragraphs of WikiText-2 test (../shared/data/wikitext2/wiki.test.raw, its first lines).
TEXT_LINES = 12


def tool(name):
    return subprocess.check_output([os.path.join(ROOT, "scripts", "peers", "llamacpp.sh"), "path", name], text=True).strip()


def main():
    subprocess.check_call([os.path.join(ROOT, "scripts", "peers", "llamacpp.sh"), "build"])
    with tempfile.TemporaryDirectory() as tmp:
        f32 = os.path.join(tmp, "f32.gguf")
        subprocess.run([tool("llama-quantize"), "--allow-requantize", MODEL, f32, "F32"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        greedy = []
        for p in PROMPTS:
            out = subprocess.run([tool("llama-simple"), "-m", f32, "-n", "32", p], check=True, capture_output=True)
            text = out.stdout.decode("utf-8")
            # llama-simple prints the prompt (special tokens as text), then the continuation, then "\n".
            assert text.startswith(p), text[:200]
            greedy.append({"prompt": p, "max_tokens": 32, "continuation": text[len(p):-1]})
        wiki = open(os.path.join(ROOT, "..", "shared", "data", "wikitext2", "wiki.test.raw"), encoding="utf-8",
                    newline="").read().splitlines(keepends=True)
        text_file = os.path.join(tmp, "text.txt")
        with open(text_file, "w", encoding="utf-8", newline="") as f:
            f.writelines(wiki[:TEXT_LINES])
        kld = os.path.join(tmp, "base.kld")
        subprocess.run([tool("llama-perplexity"), "-m", f32, "-f", text_file, "-c", str(CTX), "--chunks", "1", "-b",
                        str(CTX), "-ctk", "f32", "-ctv", "f32", "--kl-divergence-base", kld], check=True, capture_output=True)
        data = open(kld, "rb").read()
    assert data[:8] == b"_logits_"
    n_ctx, = struct.unpack_from("<i", data, 8)
    n_vocab, n_chunk = struct.unpack_from("<ii", data, 12)
    tokens = list(struct.unpack_from(f"<{n_chunk * n_ctx}i", data, 20))[:n_ctx]
    off = 20 + 4 * n_chunk * n_ctx
    nv = 2 * ((n_vocab + 1) // 2) + 4
    first = n_ctx // 2
    positions = []
    for j in range(first, n_ctx - 1):
        scale, min_lp = struct.unpack_from("<ff", data, off)
        q = struct.unpack_from(f"<{n_vocab}H", data, off + 8)
        off += 2 * nv
        top = sorted(range(n_vocab), key=lambda i: -q[i])[:5]
        positions.append({"position": j, "next": tokens[j + 1],
                          "top": [[i, min_lp + scale * q[i]] for i in top],
                          "next_logprob": min_lp + scale * q[tokens[j + 1]] if q[tokens[j + 1]] else None,
                          "step": scale})
    golden = {"source": "scripts/goldens/make_smollm2_goldens.py (llama.cpp from llama-cpp-python's sdist)",
              "model": os.path.basename(MODEL), "greedy": greedy, "ctx": n_ctx, "tokens": tokens, "positions": positions}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {OUT}: {len(greedy)} greedy continuations, {len(positions)} scored positions")


if __name__ == "__main__":
    main()
