#!/usr/bin/env python3
"""A checkpoint made by a peer library (compressed-tensors: scripts/goldens/make_peer_checkpoints.py)
scored by that library's side and by ArrowQuant reading it as it is (`arrowquant ppl CHECKPOINT`, its
Linears packed at the checkpoint's size), on the same token chunks (llama-perplexity's chunking).

The library's side: transformers loading the folder (compressed-tensors decompresses it) where it can,
and always the float model whose Linears the library's own compressor decompressed (transformers 5.25
cannot load affine pack-quantized folders of compressed-tensors 0.20).

  .venv-goldens/bin/python scripts/peers/check_peer_checkpoint.py CHECKPOINT FLOAT_MODEL TEXT [--chunks 29]
"""
import argparse
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts", "goldens"))
from check_compressed_tensors import arrowquant_ppl, perplexity, token_chunks  # noqa: E402
from make_peer_checkpoints import library_dequantised_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("float_model", help="the float model the checkpoint was made from (HF folder)")
    ap.add_argument("text")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=29)
    a = ap.parse_args()
    chunks = token_chunks(a.checkpoint, a.text, a.ctx, a.chunks)
    result = {"checkpoint": a.checkpoint, "chunks": a.chunks, "ctx": a.ctx}
    for acts in ("f32", "auto"):
        result[f"ppl_arrowquant_{acts}_activations"] = arrowquant_ppl(a.checkpoint, a.text, a.ctx, a.chunks, acts)
    models = {"library_decompressed": library_dequantised_model(a.float_model, a.checkpoint)}
    try:
        models["transformers_loads_checkpoint"] = AutoModelForCausalLM.from_pretrained(a.checkpoint, dtype=torch.float32)
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        result["transformers_load_error"] = str(e).splitlines()[0][:200]
    for name, model in models.items():
        result[f"ppl_{name}"] = perplexity(model.eval(), chunks, a.ctx)
    ref = result["ppl_library_decompressed"]
    result["arrowquant_f32_vs_library_percent"] = 100 * (result["ppl_arrowquant_f32_activations"] / ref - 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
