#!/usr/bin/env python3
"""A Qwen2 model with random weights at a realistic size, for speed measurements only (its text is
noise). The default shape is Qwen2.5-0.5B's (hidden 896, 24 layers, 14 heads / 2 KV heads,
intermediate 4864, vocabulary 151936, tied embeddings): 494 M parameters, written as fp16
safetensors (~1 GB) with the tiny golden's config fields and tokenizer.
Usage: make_random_decoder.py OUT_DIR [--layers N] [--seed S]
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "goldens", "tiny", "qwen2")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--hidden", type=int, default=896)
    ap.add_argument("--heads", type=int, default=14)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=4864)
    ap.add_argument("--vocab", type=int, default=151936)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    cfg = json.load(open(os.path.join(TINY, "config.json")))
    cfg.update(hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
               num_key_value_heads=a.kv_heads, intermediate_size=a.intermediate, vocab_size=a.vocab,
               max_position_embeddings=4096, tie_word_embeddings=True, layer_types=["full_attention"] * a.layers)
    json.dump(cfg, open(os.path.join(a.out, "config.json"), "w"), indent=1)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(TINY, f), os.path.join(a.out, f))
    H, D = a.hidden, a.hidden // a.heads
    shapes = {"model.embed_tokens.weight": (a.vocab, H), "model.norm.weight": (H,)}
    for l in range(a.layers):
        p = f"model.layers.{l}."
        shapes.update({p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,),
                       p + "self_attn.q_proj.weight": (a.heads * D, H), p + "self_attn.q_proj.bias": (a.heads * D,),
                       p + "self_attn.k_proj.weight": (a.kv_heads * D, H), p + "self_attn.k_proj.bias": (a.kv_heads * D,),
                       p + "self_attn.v_proj.weight": (a.kv_heads * D, H), p + "self_attn.v_proj.bias": (a.kv_heads * D,),
                       p + "self_attn.o_proj.weight": (H, a.heads * D),
                       p + "mlp.gate_proj.weight": (a.intermediate, H), p + "mlp.up_proj.weight": (a.intermediate, H),
                       p + "mlp.down_proj.weight": (H, a.intermediate)})
    header, off = {}, 0
    for name, shape in shapes.items():
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    rng = np.random.default_rng(a.seed)
    tmp = os.path.join(a.out, "model.safetensors.partial")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb)
        for name, shape in shapes.items():
            if name.endswith("norm.weight"):
                v = np.ones(shape, np.float16)
            else:
                v = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)
            f.write(v.tobytes())
    os.replace(tmp, os.path.join(a.out, "model.safetensors"))
    print(f"wrote {a.out}: {sum(int(np.prod(s)) for s in shapes.values()) / 1e6:.0f} M parameters")


if __name__ == "__main__":
    main()
